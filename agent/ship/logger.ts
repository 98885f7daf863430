/**
 * The agent's own logs (not the event log): pino, JSON lines on stdout for
 * journald/docker, a short readable line per entry on a terminal.
 *
 * A stdout or stderr whose reader went away (EPIPE: the log collector restarted,
 * a pipe to `head` closed) must not stop the analysis: once a logger for stdout
 * exists, write errors on stdout/stderr are dropped and counted (stdioErrors)
 * instead of becoming an unhandled 'error' event that ends the process. The event
 * log on disk is the record; these lines are a courtesy.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export type AgentLogger = Logger;

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** Formats one pino JSON line for a human: "09:30:15 WARN message key=value". */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const t = typeof o['time'] === 'number' ? new Date(o['time']).toISOString().slice(11, 19) : '';
  const level = LEVELS[o['level'] as number] ?? String(o['level']);
  const extras = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${t} ${level.padEnd(5)} ${String(o['msg'] ?? '')}${extras ? `  ${extras}` : ''}`;
}

/** Writes to stdout/stderr that failed (reader gone) and were dropped. */
export const stdioErrors = { dropped: 0 };

function countDropped(): void {
  stdioErrors.dropped++;
}

let stdioGuarded = false;

/** Write errors on stdout/stderr are counted, never fatal (see the module comment). Idempotent. */
export function guardStdio(): void {
  if (stdioGuarded) return;
  stdioGuarded = true;
  process.stdout.on('error', countDropped);
  process.stderr.on('error', countDropped);
}

export function createLogger(level: string, opts: { pretty?: boolean; destination?: NodeJS.WritableStream } = {}): AgentLogger {
  const out = opts.destination ?? process.stdout;
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  const base = { level, base: { name: 'lb-traffic-analyzer' } };
  if (out === process.stdout) guardStdio();
  if (!pretty) {
    if (out !== process.stdout) return pino(base, out);
    const dest = pino.destination({ fd: 1, sync: true });
    dest.on('error', countDropped);
    return pino(base, dest);
  }
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) out.write(`${prettyLine(line)}\n`);
      cb();
    },
  });
  return pino(base, stream);
}
