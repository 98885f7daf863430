/**
 * The local event log: the source of truth that CloudWatch shipping reads from.
 *
 * Policy (written down because shipping and operators rely on it):
 * - one JSON object per line, appended to `<dir>/errors_YYYY-MM-DD.log`, the date
 *   being the UTC wall-clock date when the line is written (not the packet time),
 *   so files are append-only and ordered by name: a reader with a cursor only
 *   ever moves forward (an old capture read with --read lands in today's file;
 *   each event keeps its own `time`);
 * - lines are buffered and written at least every second, when 256 KiB are
 *   waiting, and on shutdown; a write is one write(2) of whole lines;
 * - when the disk refuses (full, read-only), events wait in memory up to a
 *   bound; beyond it they are counted as lost and reported — analysis never stops;
 * - a line left half-written by a crash is closed with a newline before the next
 *   one, so one torn line never swallows the next event;
 * - files older than the retention are removed at start and then daily.
 */
import { closeSync, constants, accessSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AnalyzerEvent, EventSink } from '../events/schema.js';

export const LOG_FILE_RE = /^errors_(\d{4})-(\d{2})-(\d{2})\.log$/;
const FLUSH_BYTES = 256 * 1024;
const FLUSH_INTERVAL_MS = 1000;
const DAY_MS = 86_400_000;

export type LocalLogOptions = Readonly<{
  dir: string;
  retentionDays: number;
  /** Bound on bytes waiting in memory when the disk refuses writes. @default 32 MiB */
  maxPendingBytes?: number;
  /** Called after lines reach the disk (shipping can look at once). */
  onWritten?: () => void;
  /** Clock, for tests. */
  now?: () => number;
}>;

export type LocalLogStats = Readonly<{
  written: number;
  pending: number;
  lost: number;
  write_errors: number;
  last_error: string | undefined;
  files_removed: number;
}>;

export class LocalLogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalLogError';
  }
}

export function logFileName(ms: number): string {
  return `errors_${new Date(ms).toISOString().slice(0, 10)}.log`;
}

/** Create the directory if needed and prove it is writable; throws LocalLogError with the fix. */
export function prepareLogDir(dir: string): string {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { recursive: true });
    accessSync(abs, constants.W_OK);
    const probe = join(abs, `.write-test-${process.pid}`);
    closeSync(openSync(probe, 'w'));
    unlinkSync(probe);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    throw new LocalLogError(
      `log directory "${abs}" is not writable (${code}); choose another with -l DIR, or make it writable for uid ${uid ?? '?'} ` +
        `(in a container with --read-only, mount a volume there)`,
    );
  }
  return abs;
}

export class LocalLog implements EventSink {
  readonly dir: string;
  readonly #retentionMs: number;
  readonly #maxPending: number;
  readonly #onWritten: (() => void) | undefined;
  readonly #now: () => number;
  #lines: string[] = [];
  #bytes = 0;
  #fd = -1;
  #fileName = '';
  #timer: NodeJS.Timeout | undefined;
  #retentionTimer: NodeJS.Timeout | undefined;
  #written = 0;
  #lost = 0;
  #writeErrors = 0;
  #lastError: string | undefined;
  #removed = 0;

  constructor(opts: LocalLogOptions) {
    this.dir = prepareLogDir(opts.dir);
    this.#retentionMs = opts.retentionDays * DAY_MS;
    this.#maxPending = opts.maxPendingBytes ?? 32 * 1024 * 1024;
    this.#onWritten = opts.onWritten;
    this.#now = opts.now ?? Date.now;
  }

  /** Start the flush timer and the daily retention sweep (the first sweep runs now). */
  start(): void {
    this.removeExpired();
    this.#timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.#timer.unref();
    this.#retentionTimer = setInterval(() => this.removeExpired(), DAY_MS / 24);
    this.#retentionTimer.unref();
  }

  emit(event: AnalyzerEvent): void {
    const line = `${JSON.stringify(event)}\n`;
    if (this.#bytes + line.length > this.#maxPending) {
      this.#lost++;
      return;
    }
    this.#lines.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= FLUSH_BYTES) this.flush();
  }

  /** Write what is buffered. Never throws: a failure keeps the lines for the next try. */
  flush(): void {
    if (this.#lines.length === 0) return;
    const data = this.#lines.join('');
    try {
      this.#openFor(this.#now());
      let off = 0;
      const buf = Buffer.from(data, 'utf8');
      while (off < buf.length) off += writeSync(this.#fd, buf, off, buf.length - off);
      this.#written += this.#lines.length;
      this.#lines = [];
      this.#bytes = 0;
      this.#onWritten?.();
    } catch (err) {
      this.#writeErrors++;
      this.#lastError = `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim();
      // A partial write may have left a torn line: reopen, and the next open closes it with a newline.
      this.#closeFd();
    }
  }

  stats(): LocalLogStats {
    return {
      written: this.#written,
      pending: this.#lines.length,
      lost: this.#lost,
      write_errors: this.#writeErrors,
      last_error: this.#lastError,
      files_removed: this.#removed,
    };
  }

  /** Remove daily files older than the retention (by the date in their name). */
  removeExpired(): number {
    const cutoff = this.#now() - this.#retentionMs;
    let removed = 0;
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      const m = LOG_FILE_RE.exec(name);
      if (!m) continue;
      // A file holds a whole UTC day: it expires when its last moment is older than the cutoff.
      const dayEnd = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + DAY_MS;
      if (dayEnd <= cutoff) {
        try {
          unlinkSync(join(this.dir, name));
          removed++;
        } catch {
          /* removed by someone else, or not ours to remove: try again tomorrow */
        }
      }
    }
    this.#removed += removed;
    return removed;
  }

  /** Flush and close. */
  close(): void {
    clearInterval(this.#timer);
    clearInterval(this.#retentionTimer);
    this.flush();
    this.#closeFd();
  }

  #openFor(ms: number): void {
    const name = logFileName(ms);
    if (this.#fd >= 0 && name === this.#fileName) return;
    this.#closeFd();
    const fd = openSync(join(this.dir, name), 'a+');
    // Close a line torn by a crash so the next event starts on its own line.
    const size = fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) writeSync(fd, '\n');
    }
    this.#fd = fd;
    this.#fileName = name;
  }

  #closeFd(): void {
    if (this.#fd >= 0) {
      try {
        closeSync(this.#fd);
      } catch {
        /* already gone */
      }
    }
    this.#fd = -1;
    this.#fileName = '';
  }
}
