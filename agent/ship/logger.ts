/**
 * The agent's own logs (not the event log): JSON lines on stdout for journald and
 * docker, the lines pino wrote for it before (`{"level":30,"time":…,"name":…,fields…,
 * "msg":…}`, level numbers 10-60, an Error written as its type, message, stack and own
 * fields), and a short readable line per entry on a terminal.
 *
 * It was pino. The agent writes a few lines an hour, synchronously, with no transports,
 * child loggers or redaction, and pino brought 13 packages and loaded worker threads
 * and `assert` for them. Measured with 100k connections (issue 6): pino and node:crypto
 * (events/id.ts) were 3.3 MB of peak RSS on Node.js 24 and 1.8 MB on Node.js 20.
 *
 * Output failures follow stdout.ts: dropped and counted, never fatal.
 */
import type { ShipLogger } from './shipping-types.js';
import { stdoutIsTty, writeStdout } from './stdout.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** pino's level numbers, which log pipelines that parse them expect. */
const LEVEL_VALUES: Readonly<Record<LogLevel, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

type LogFn = (fieldsOrMessage: object | string, message?: string) => void;

export type AgentLogger = ShipLogger & Readonly<{ trace: LogFn; debug: LogFn; info: LogFn; warn: LogFn; error: LogFn; fatal: LogFn }>;

/** Formats one JSON log line for a human: "09:30:15 WARN message key=value". */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const t = typeof o['time'] === 'number' ? new Date(o['time']).toISOString().slice(11, 19) : '';
  const level = LEVEL_NAMES[o['level'] as number] ?? String(o['level']);
  const extras = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${t} ${level.padEnd(5)} ${String(o['msg'] ?? '')}${extras ? `  ${extras}` : ''}`;
}

/** An Error as pino writes it: type, message, stack and its own fields (code, errno…). */
function errorFields(err: Error): Record<string, unknown> {
  return Object.assign({ type: err.constructor.name, message: err.message, stack: err.stack }, err as object);
}

/** A field's value as JSON (undefined: left out). The replacer sees the value itself first, then what it holds. */
function jsonValue(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Error ? errorFields(v) : typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return '"[not serialisable]"';
  }
}

/** One log line (ending in a newline): pino's key order, fields between the header and msg. */
export function formatLine(level: number, timeMs: number, header: string, fields: object | undefined, message: string | undefined): string {
  let line = `{"level":${level},"time":${timeMs}${header}`;
  if (fields !== undefined) {
    for (const [k, v] of Object.entries(fields)) {
      const json = jsonValue(v);
      if (json !== undefined) line += `,${JSON.stringify(k)}:${json}`;
    }
  }
  if (message !== undefined) line += `,"msg":${JSON.stringify(message)}`;
  return `${line}}\n`;
}

export type LoggerOptions = {
  /** Readable lines instead of JSON (default: when stdout is a terminal). */
  pretty?: boolean;
  /** Where lines go (default: stdout). */
  destination?: NodeJS.WritableStream;
};

export function createLogger(level: LogLevel | string, opts: LoggerOptions = {}): AgentLogger {
  const min = LEVEL_VALUES[level as LogLevel] ?? LEVEL_VALUES.info;
  const header = ',"name":"lb-traffic-analyzer"';
  const pretty = opts.pretty ?? stdoutIsTty();
  // Chosen once: where a line goes and in which form.
  const dest = opts.destination;
  const sink: (text: string) => void = dest !== undefined ? (text) => { dest.write(text); } : writeStdout;
  const write = pretty ? (line: string): void => sink(`${prettyLine(line.trimEnd())}\n`) : sink;
  const at = (value: number): LogFn =>
    value < min
      ? () => undefined
      : (fieldsOrMessage, message) => {
          if (typeof fieldsOrMessage === 'string') write(formatLine(value, Date.now(), header, undefined, fieldsOrMessage));
          else write(formatLine(value, Date.now(), header, fieldsOrMessage, message));
        };
  return Object.freeze({
    trace: at(LEVEL_VALUES.trace),
    debug: at(LEVEL_VALUES.debug),
    info: at(LEVEL_VALUES.info),
    warn: at(LEVEL_VALUES.warn),
    error: at(LEVEL_VALUES.error),
    fatal: at(LEVEL_VALUES.fatal),
  });
}
