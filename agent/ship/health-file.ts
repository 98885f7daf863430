/**
 * `<logDir>/health.json`, rewritten atomically (write + rename) every few seconds.
 * The container HEALTHCHECK (agent/healthcheck.ts) reads it: a stale file, a
 * stopped capture or stuck shipping make the container unhealthy.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const HEALTH_FILE = 'health.json';

export type HealthState = Readonly<{
  updated_at: string;
  pid: number;
  capture: Readonly<{
    running: boolean; source: string; last_packet_at: string | null; packets: number; drops: number;
    /** True while the interface is down or gone and capture waits to resume (still running). */
    degraded?: boolean;
    interrupted_reason?: string | null;
    interrupted_since?: string | null;
    /** Interruptions capture has recovered from. */
    gaps?: number;
  }>;
  shipping: Readonly<{ enabled: boolean; pending: number; last_success_at: string | null; last_error: string | null }>;
}>;

export function writeHealthFile(dir: string, state: HealthState): void {
  const path = join(dir, HEALTH_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(state)}\n`);
    renameSync(tmp, path);
  } catch {
    // A full or read-only disk must not stop the analysis; the stale file then marks the container unhealthy.
  }
}
