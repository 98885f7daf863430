/**
 * Starting the real agent binary (agent/main.js of this build) as a child process
 * and reading what it left behind: stdout, stderr, the local log and health.json.
 * Shared by the security tests, which judge the process from the outside.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url));

export { missingTools } from '../../helpers/netns.js';

export class AgentProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout = '';
  stderr = '';

  /** `prefix` runs before node (e.g. setpriv with its options); `args` go to the agent. */
  constructor(prefix: readonly string[], args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    const argv = [...prefix, process.execPath, MAIN, ...args];
    this.proc = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout?.on('data', (d: Buffer) => { this.stdout += d.toString(); });
    this.proc.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  get capturing(): boolean {
    return this.stdout.includes('"msg":"capturing"');
  }

  /** SIGTERM (orderly flush) and the exit code. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    return this.exited;
  }

  /** Last resort for after(): never leave a child behind. */
  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

/** Every event line of the local log files in `dir`, parsed. */
export function readEvents(dir: string): Record<string, unknown>[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.startsWith('errors_') && n.endsWith('.log'))
    .sort()
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter((l) => l !== ''))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Every file under `dir` (one level), name → content, for searching. */
export function readAllFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir, { withFileTypes: true })) {
    if (n.isFile()) out.set(n.name, readFileSync(join(dir, n.name), 'latin1'));
  }
  return out;
}

/** Run a command inside a namespace without blocking the event loop (servers live in this process). */
export function inNamespace(ns: string, args: readonly string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const c = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: 'ignore' });
    c.on('exit', (code) => resolve(code));
  });
}
