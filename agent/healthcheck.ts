/**
 * The container HEALTHCHECK: `node dist/agent/healthcheck.js` exits 0 when the agent
 * is healthy and 1 (with one line saying why) when it is not. It reads
 * `<logDir>/health.json`, which the agent rewrites every 10 s:
 *   { updated_at, capture: { running, last_packet_at, packets, drops },
 *     shipping: { enabled, pending, last_success_at, last_error } }
 *
 * Unhealthy when:
 * - the file is missing, unreadable or not that shape;
 * - it is stale (the agent's timers stopped: hung event loop, crashed writer);
 * - capture is not running;
 * - shipping is enabled, events are pending and nothing was acknowledged for longer
 *   than the shipping threshold (CloudWatch unreachable, credentials gone, throttled
 *   for minutes). The local log keeps the events either way; this makes the stall
 *   visible in `docker ps` and to orchestrators.
 *
 * This is a separate entry point that runs next to the agent, not inside it, so it
 * reads its three settings itself (LBTA_LOG_DIR as the agent does, and two
 * thresholds) instead of going through agent/config.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The agent writes health.json every 10 s; three missed writes mean it is stuck. */
export const DEFAULT_MAX_AGE_SEC = 35;
/** Five minutes without an acknowledged batch while events wait counts as stuck shipping. */
export const DEFAULT_SHIPPING_STUCK_SEC = 300;
export const HEALTH_FILE_NAME = 'health.json';
export const DEFAULT_LOG_DIR = '/var/log/lb-traffic-analyzer';

export type HealthThresholds = Readonly<{
  maxAgeSec: number;
  shippingStuckSec: number;
}>;

export type HealthVerdict = Readonly<{ healthy: boolean; reasons: readonly string[] }>;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Milliseconds since epoch of an ISO timestamp, or undefined when absent/invalid. */
function timeOf(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

/** Judge a parsed health.json. Pure: `nowMs` is passed in so tests control the clock. */
export function assessHealth(health: unknown, nowMs: number, thresholds: HealthThresholds): HealthVerdict {
  const reasons: string[] = [];
  if (!isObj(health)) return { healthy: false, reasons: ['health.json is not a JSON object'] };

  const updated = timeOf(health['updated_at']);
  if (updated === undefined) {
    reasons.push('health.json has no valid updated_at');
  } else {
    const ageSec = (nowMs - updated) / 1000;
    if (ageSec > thresholds.maxAgeSec) {
      reasons.push(`health.json is stale: updated ${Math.round(ageSec)} s ago (limit ${thresholds.maxAgeSec} s)`);
    }
  }

  const capture = health['capture'];
  if (!isObj(capture)) reasons.push('health.json has no capture section');
  else if (capture['running'] !== true) reasons.push('capture is not running');

  const shipping = health['shipping'];
  if (isObj(shipping) && shipping['enabled'] === true) {
    const pending = typeof shipping['pending'] === 'number' ? shipping['pending'] : 0;
    if (pending > 0) {
      const lastSuccess = timeOf(shipping['last_success_at']);
      const lastError = typeof shipping['last_error'] === 'string' && shipping['last_error'] ? `; last error: ${shipping['last_error']}` : '';
      if (lastSuccess === undefined) {
        // Never acknowledged: the start period of the HEALTHCHECK covers the first batch.
        reasons.push(`shipping is stuck: ${pending} events pending and no batch acknowledged yet${lastError}`);
      } else {
        const sinceSec = (nowMs - lastSuccess) / 1000;
        if (sinceSec > thresholds.shippingStuckSec) {
          reasons.push(
            `shipping is stuck: ${pending} events pending, last success ${Math.round(sinceSec)} s ago (limit ${thresholds.shippingStuckSec} s)${lastError}`,
          );
        }
      }
    }
  }
  return { healthy: reasons.length === 0, reasons };
}

/** Read and judge `<logDir>/health.json`. */
export function checkHealthFile(logDir: string, nowMs: number, thresholds: HealthThresholds): HealthVerdict {
  const path = join(logDir, HEALTH_FILE_NAME);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { healthy: false, reasons: [`cannot read ${path} (${code}): is the agent running with this log dir?`] };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { healthy: false, reasons: [`${path} is not valid JSON`] };
  }
  return assessHealth(parsed, nowMs, thresholds);
}

function positiveSeconds(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: "${raw}" is not a positive number of seconds`);
  return n;
}

export function main(env: NodeJS.ProcessEnv = process.env, nowMs = Date.now()): number {
  let thresholds: HealthThresholds;
  try {
    thresholds = {
      maxAgeSec: positiveSeconds('LBTA_HEALTH_MAX_AGE', env['LBTA_HEALTH_MAX_AGE'], DEFAULT_MAX_AGE_SEC),
      shippingStuckSec: positiveSeconds('LBTA_HEALTH_SHIPPING_STUCK', env['LBTA_HEALTH_SHIPPING_STUCK'], DEFAULT_SHIPPING_STUCK_SEC),
    };
  } catch (err) {
    process.stderr.write(`unhealthy: ${(err as Error).message}\n`);
    return 1;
  }
  const logDir = env['LBTA_LOG_DIR'] || DEFAULT_LOG_DIR;
  const verdict = checkHealthFile(logDir, nowMs, thresholds);
  if (verdict.healthy) {
    process.stdout.write('healthy\n');
    return 0;
  }
  process.stdout.write(`unhealthy: ${verdict.reasons.join('; ')}\n`);
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main();
}
