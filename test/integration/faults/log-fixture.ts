/**
 * Shared pieces of the local-log fault tests (log-*.test.ts): the real binary as a
 * child process, a tiny tmpfs to fill, capture files full of refused connections,
 * and refused connections made live on loopback.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TcpConversation } from '../../helpers/packet-builder.js';
import { PcapWriter } from '../../helpers/pcap-writer.js';

export const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url));

/** Why a test that needs root and mount(8) cannot run here, or undefined. */
export function mountUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs (run the suite as root, as CI does)';
  if (spawnSync('mount', ['--version']).status !== 0) return 'mount(8) not found (util-linux)';
  return undefined;
}

export function mountTmpfs(dir: string, size: string): void {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount tmpfs on ${dir} failed: ${r.stderr}`);
}

export function remount(dir: string, mode: 'ro' | 'rw'): void {
  const r = spawnSync('mount', ['-o', `remount,${mode}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`remount ${mode} ${dir} failed: ${r.stderr}`);
}

/** Unmounts; lazily if something still holds it, so a failed test never leaves a mount behind busy. */
export function unmount(dir: string): void {
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
}

/** Fills the file system holding `dir` with one file until it refuses (ENOSPC); returns its path. */
export function fillDisk(dir: string): string {
  const path = join(dir, 'filler.bin');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 0x61);
  try {
    for (let i = 0; i < 1_000_000; i++) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return path;
}

/** A classic pcap of `n` refused connections (SYN, then RST/ACK): one CONNECTION_FAILED event each. */
export function writeRefusedCapture(path: string, n: number, spacingMicros: number, startMicros = 1_771_147_815_000_000): void {
  const w = new PcapWriter(path);
  let t = startMicros;
  for (let i = 0; i < n; i++) {
    const c = new TcpConversation(`198.18.${(i >> 14) & 63}.${(i >> 6) & 255}`, '198.18.200.1', 1024 + (i & 0x3fff), 8080);
    w.write(t, c.seg(true, 'S'));
    w.write(t + 100, c.seg(false, 'RA'));
    t += spacingMicros;
  }
  w.close();
}

export type LogLineJson = Record<string, unknown>;

/** Every line of every daily file, in file order; torn lines as { torn: text }. */
export function readLogDir(dir: string): { lines: LogLineJson[]; torn: string[] } {
  const lines: LogLineJson[] = [];
  const torn: string[] = [];
  if (!existsSync(dir)) return { lines, torn };
  for (const f of readdirSync(dir).filter((n) => /^errors_.*\.log$/.test(n)).sort()) {
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (l === '') continue;
      try {
        lines.push(JSON.parse(l) as LogLineJson);
      } catch {
        torn.push(l);
      }
    }
  }
  return { lines, torn };
}

/** The agent as a child process; stdout split into its own log lines and summary lines. */
export class Agent {
  readonly child: ChildProcess;
  readonly logs: LogLineJson[] = [];
  readonly summaries: LogLineJson[] = [];
  stderr = '';
  #rest = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** `stdout`: a descriptor or socket to give the agent as its stdout instead of a pipe read here (then `logs` and `summaries` stay empty). */
  constructor(args: string[], opts: { env?: Record<string, string>; wrap?: string[]; stdout?: number | Socket } = {}) {
    const cmd = [...(opts.wrap ?? []), process.execPath, MAIN, ...args];
    this.child = spawn(cmd[0] as string, cmd.slice(1), {
      env: { ...process.env, LBTA_CLOUDWATCH: 'off', ...opts.env },
      stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => this.#take(d));
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  #take(d: string): void {
    const parts = (this.#rest + d).split('\n');
    this.#rest = parts.pop() ?? '';
    for (const l of parts) {
      let o: LogLineJson;
      try {
        o = JSON.parse(l) as LogLineJson;
      } catch {
        continue;
      }
      if ('summary' in o) this.summaries.push(o);
      else this.logs.push(o);
    }
  }

  lastLocalLog(): Record<string, number | boolean | string | undefined> | undefined {
    return this.summaries.at(-1)?.['local_log'] as Record<string, number | boolean | string | undefined> | undefined;
  }

  /** Stops it: SIGTERM, then SIGKILL after `ms` if it is still there. */
  async stop(ms = 8000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}

export async function waitUntil(fn: () => boolean, timeoutMs: number, what: string, state?: () => unknown): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state ? `: ${JSON.stringify(state())}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A loopback port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * `n` connections to a closed loopback port, `parallel` at a time, each refused by
 * the kernel (SYN, RST/ACK). Bounded in count and in time.
 */
export async function refuse(port: number, n: number, parallel = 64, timeoutMs = 60_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  let started = 0;
  let refused = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNREFUSED') refused++;
        resolve();
      });
      s.on('connect', () => {
        s.destroy();
        resolve();
      });
    });
  const worker = async (): Promise<void> => {
    while (started < n && Date.now() < end) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return refused;
}
