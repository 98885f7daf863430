/**
 * The local event log: the source of truth that CloudWatch shipping reads from.
 *
 * Policy (written down because shipping and operators rely on it):
 * - one JSON object per line, appended to `<dir>/errors_YYYY-MM-DD.log`, the date
 *   being the UTC wall-clock date when the line is written (not the packet time),
 *   so files are append-only and ordered by name: a reader with a cursor only
 *   ever moves forward (an old capture read with --read lands in today's file;
 *   each event keeps its own `time`);
 * - the wall clock may jump: the writer never goes back to a file older than the
 *   newest one in the directory (after a backwards jump it keeps appending to the
 *   newest file, so the reader, which only moves forward, still sees every line),
 *   and retention judges age by the earlier of the wall clock and the monotonic
 *   clock since start, so a forward jump does not delete a week of logs (a step
 *   that persists for a day is taken as a correction and trusted from then on);
 * - lines are buffered and written at least every second, when 256 KiB are
 *   waiting, and on shutdown; a write is whole lines, in slices of at most 1 MiB;
 * - when the disk refuses (full, read-only, directory or file removed), analysis goes on and
 *   events wait in memory up to `maxPendingBytes` (default 8 MiB, about 14,000
 *   events of ~600 bytes: bytes, not events, because memory is what must stay
 *   bounded and one event with a long field must not count as one reset; the
 *   event limiter's 50 per second per type and reason (events/event-limiter.ts)
 *   makes that more than 4 minutes of a storm of one kind at its cap, hours of
 *   ordinary error rates); writing is retried every second;
 *   beyond the bound events are counted as lost, a warning is logged at most once
 *   per interval, and once writing works again one event reports how many were lost;
 * - a line left half-written (a crash, SIGKILL or a partial write on a full disk)
 *   is closed with TORN_LINE_MARK and a newline before anything else is written,
 *   so it never swallows the next event and the reader can tell it is not an
 *   event; one torn by an earlier process is counted as lost, one torn by this
 *   process's own partial write is written again whole (nothing lost);
 * - files older than the retention are removed at start and then hourly; the
 *   current file and future-dated files are never removed.
 */
import { closeSync, constants, accessSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AnalyzerEvent, EventSink } from '../events/schema.js';

export const LOG_FILE_RE = /^errors_(\d{4})-(\d{2})-(\d{2})\.log$/;
/**
 * Appended to a line torn by a crash or a partial write, before its newline. A
 * complete event line always ends with `}` (JSON.stringify of an object), so a
 * line ending with this mark can never be mistaken for one, even when it was torn
 * right after an inner `}`. Visible ASCII so `grep` still treats the file as text.
 */
export const TORN_LINE_MARK = ' #torn';
const FLUSH_BYTES = 256 * 1024;
/** One write(2) at most this much, so a retry on a full disk does not copy the whole buffer. */
const WRITE_SLICE_CHARS = 1024 * 1024;
const FLUSH_INTERVAL_MS = 1000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
export const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;
const DEFAULT_WARN_INTERVAL_MS = 60_000;

/** Why events were lost, for the event that reports them. */
export type LossReason = 'overflow' | 'torn';

/** The slice of a logger the local log uses (the agent's, ship/logger.ts, satisfies it). */
export type LocalLogLogger = {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
};

export type LocalLogOptions = Readonly<{
  dir: string;
  retentionDays: number;
  /** Bound on bytes (UTF-16 code units of the lines) waiting in memory when the disk refuses writes. @default 8 MiB */
  maxPendingBytes?: number;
  /** Called after lines reach the disk (shipping can look at once). */
  onWritten?: () => void;
  /** Wall clock, for tests. */
  now?: () => number;
  /** Monotonic clock in ms, for tests. @default performance.now */
  monotonicNow?: () => number;
  /** Warnings (disk refusing, events lost) go here, each kind at most once per `warnIntervalMs`. */
  logger?: LocalLogLogger;
  /** @default 60 s */
  warnIntervalMs?: number;
  /**
   * Builds the event that reports `count` lost events once writing works again
   * (overflow), or at start (a line torn by an earlier process).
   */
  lossEvent?: (reason: LossReason, count: number, detail: Readonly<{ lastError: string | undefined; maxPendingBytes: number }>) => AnalyzerEvent;
}>;

export type LocalLogStats = Readonly<{
  written: number;
  /** Events waiting in memory for the disk. */
  pending: number;
  pending_bytes: number;
  /** Events dropped because the memory buffer was full while the disk refused writes. */
  lost: number;
  /** Lines found torn by an earlier process (their events are lost), closed with TORN_LINE_MARK. */
  torn_lines: number;
  write_errors: number;
  /** True while the last write attempt failed. */
  failing: boolean;
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

/** The newest daily log file in `dir`, or '' when there is none (or it cannot be listed). */
export function newestLogFile(dir: string): string {
  let newest = '';
  try {
    for (const name of readdirSync(dir)) if (LOG_FILE_RE.test(name) && name > newest) newest = name;
  } catch {
    /* an unreadable directory has no floor; writing will report the problem */
  }
  return newest;
}

export class LocalLog implements EventSink {
  readonly dir: string;
  readonly #retentionMs: number;
  readonly #maxPending: number;
  readonly #onWritten: (() => void) | undefined;
  readonly #now: () => number;
  readonly #mono: () => number;
  readonly #logger: LocalLogLogger | undefined;
  readonly #warnIntervalMs: number;
  readonly #lossEvent: LocalLogOptions['lossEvent'];
  /** Wall and monotonic clocks at an anchor (start): retention trusts the earlier of wall and anchored time. */
  #wallAtStart: number;
  #monoAtStart: number;
  /** Monotonic time since which the wall clock has disagreed with the anchored time by more than an hour. */
  #divergedSince: number | undefined;
  #lines: string[] = [];
  /** Lines before this index are on disk (kept only inside one flush). */
  #head = 0;
  #bytes = 0;
  #fd = -1;
  #fileName = '';
  /** The writer never opens a file named before this one (clock jumps backwards). */
  #floor: string;
  /** The pending flush (see #armFlush), if any. */
  #flushTimer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;
  #retentionTimer: NodeJS.Timeout | undefined;
  #written = 0;
  #lost = 0;
  #lostReported = 0;
  #lostWarned = 0;
  #torn = 0;
  #tornReported = 0;
  /** This process tore the tail itself (partial write): its line is still pending, not lost. */
  #selfTorn = false;
  #selfTornFile = '';
  #writeErrors = 0;
  #failing = false;
  #lastError: string | undefined;
  #removed = 0;
  readonly #lastWarn = new Map<string, number>();

  constructor(opts: LocalLogOptions) {
    this.dir = prepareLogDir(opts.dir);
    this.#retentionMs = opts.retentionDays * DAY_MS;
    this.#maxPending = opts.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.#onWritten = opts.onWritten;
    this.#now = opts.now ?? Date.now;
    this.#mono = opts.monotonicNow ?? (() => performance.now());
    this.#logger = opts.logger;
    this.#warnIntervalMs = opts.warnIntervalMs ?? DEFAULT_WARN_INTERVAL_MS;
    this.#lossEvent = opts.lossEvent;
    this.#wallAtStart = this.#now();
    this.#monoAtStart = this.#mono();
    this.#floor = newestLogFile(this.dir);
  }

  /**
   * Close a line torn by an earlier process in the newest file, then start the flush
   * timer and the retention sweep (the first sweep runs now).
   */
  start(): void {
    this.#closeTornTail();
    // Reported first, so the report sits right after the torn line it is about.
    if (this.#torn > 0) this.#queueLossReports();
    const today = logFileName(this.#now());
    if (this.#floor > today) {
      this.#logger?.warn({ file: this.#floor, today },
        'the newest local log file is dated after today (the clock was ahead or went back); appending to it so shipping sees every line in order');
    }
    this.removeExpired();
    this.#started = true;
    this.#armFlush();
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
    // While the disk refuses, only the timer retries: a write per event would be a syscall and a copy per packet.
    if (this.#bytes >= FLUSH_BYTES && !this.#failing) this.flush();
    else this.#armFlush();
  }

  /** Write what is buffered. Never throws: a failure keeps the lines for the next try. */
  flush(): void {
    if (this.#lines.length > 0 || this.#unreported() > 0) this.#writePending();
    this.#warnLost();
    this.#armFlush();
  }

  /**
   * A flush FLUSH_INTERVAL_MS from now while anything waits: lines, a loss to report or to warn
   * of. Nothing waiting, no timer: an idle agent is not woken every second for an empty flush.
   */
  #armFlush(): void {
    if (this.#flushTimer !== undefined || !this.#started || this.#closed) return;
    if (this.#lines.length === 0 && this.#unreported() === 0 && this.#lost === this.#lostWarned) return;
    this.#flushTimer = setTimeout(this.#onFlushTimer, FLUSH_INTERVAL_MS);
    this.#flushTimer.unref();
  }

  readonly #onFlushTimer = (): void => {
    this.#flushTimer = undefined;
    this.flush();
  };

  stats(): LocalLogStats {
    return {
      written: this.#written,
      pending: this.#lines.length,
      pending_bytes: this.#bytes,
      lost: this.#lost,
      torn_lines: this.#torn,
      write_errors: this.#writeErrors,
      failing: this.#failing,
      last_error: this.#lastError,
      files_removed: this.#removed,
    };
  }

  /**
   * Remove daily files older than the retention (by the date in their name), judged
   * by the earlier of the wall clock and the monotonic clock since start: a wall
   * clock that jumps forward must not delete logs that are really recent. The file
   * being written and files dated today or later are never removed.
   */
  removeExpired(): number {
    const wall = this.#now();
    const mono = this.#mono();
    let steady = this.#wallAtStart + (mono - this.#monoAtStart);
    if (Math.abs(wall - steady) > HOUR_MS) {
      // A step that lasts a day is a correction, not a glitch: trust the wall clock from now on.
      this.#divergedSince ??= mono;
      if (mono - this.#divergedSince >= DAY_MS) {
        this.#wallAtStart = wall;
        this.#monoAtStart = mono;
        this.#divergedSince = undefined;
        steady = wall;
      }
    } else {
      this.#divergedSince = undefined;
    }
    const cutoff = Math.min(wall, steady) - this.#retentionMs;
    const today = logFileName(Math.min(wall, steady));
    let removed = 0;
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      const m = LOG_FILE_RE.exec(name);
      if (!m || name === this.#fileName || name >= this.#floor || name >= today) continue;
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
    this.#closed = true;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    clearInterval(this.#retentionTimer);
    this.flush();
    this.#closeFd();
  }

  #unreported(): number {
    if (this.#lossEvent === undefined) return 0;
    return this.#lost - this.#lostReported + (this.#torn - this.#tornReported);
  }

  #writePending(): void {
    try {
      this.#openFor(this.#now());
    } catch (err) {
      this.#fail(err);
      return;
    }
    // Losses are reported as soon as the disk takes lines again (the report bypasses the bound: one line).
    if (this.#failing === false || this.#lines.length === 0) this.#queueLossReports();
    while (this.#head < this.#lines.length) {
      let end = this.#head;
      let chars = 0;
      while (end < this.#lines.length) {
        const len = (this.#lines[end] as string).length;
        if (end > this.#head && chars + len > WRITE_SLICE_CHARS) break;
        chars += len;
        end++;
      }
      const buf = Buffer.from(this.#lines.slice(this.#head, end).join(''), 'utf8');
      let off = 0;
      try {
        while (off < buf.length) off += writeSync(this.#fd, buf, off, buf.length - off);
      } catch (err) {
        this.#keepUnwritten(end, off);
        this.#fail(err);
        return;
      }
      this.#written += end - this.#head;
      this.#bytes -= chars;
      this.#head = end;
      if (this.#failing) {
        // The disk takes lines again: say so, and report what overflowed.
        this.#failing = false;
        this.#logger?.info({ file: this.#fileName, lost: this.#lost - this.#lostReported }, 'local log writable again');
        this.#queueLossReports();
      }
    }
    this.#lines = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#onWritten?.();
  }

  /** A write stopped after `off` bytes of lines [head, end): drop the whole lines that made it. */
  #keepUnwritten(end: number, off: number): void {
    let done = 0;
    let i = this.#head;
    for (; i < end; i++) {
      const line = this.#lines[i] as string;
      const size = Buffer.byteLength(line, 'utf8');
      if (done + size > off) break;
      done += size;
      this.#bytes -= line.length;
      this.#written++;
    }
    // Part of line i may be on disk: the next open closes it as torn, and the line is written again whole.
    if (off > done) {
      this.#selfTorn = true;
      this.#selfTornFile = this.#fileName;
    }
    this.#lines = this.#lines.slice(i);
    this.#head = 0;
  }

  #queueLossReports(): void {
    if (this.#lossEvent === undefined) return;
    const detail = { lastError: this.#lastError, maxPendingBytes: this.#maxPending };
    const torn = this.#torn - this.#tornReported;
    if (torn > 0) {
      this.#pushReport(this.#lossEvent('torn', torn, detail));
      this.#tornReported = this.#torn;
    }
    const lost = this.#lost - this.#lostReported;
    if (lost > 0) {
      this.#pushReport(this.#lossEvent('overflow', lost, detail));
      this.#lostReported = this.#lost;
    }
  }

  #pushReport(event: AnalyzerEvent): void {
    const line = `${JSON.stringify(event)}\n`;
    this.#lines.push(line);
    this.#bytes += line.length;
  }

  #fail(err: unknown): void {
    this.#writeErrors++;
    this.#lastError = `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim();
    this.#failing = true;
    if (this.#shouldWarn('write')) {
      this.#logger?.warn(
        { dir: this.dir, err: this.#lastError, pending: this.#lines.length, maxPendingBytes: this.#maxPending },
        'cannot write the local log; events wait in memory and writing is retried every second',
      );
    }
    // The fd may point at a removed or remounted file: open again next time.
    this.#closeFd();
  }

  #warnLost(): void {
    const lost = this.#lost - this.#lostWarned;
    if (lost === 0 || !this.#shouldWarn('lost')) return;
    this.#lostWarned = this.#lost;
    this.#logger?.warn(
      { lost, lostTotal: this.#lost, pending: this.#lines.length, maxPendingBytes: this.#maxPending, err: this.#lastError },
      'local log memory buffer full while the disk refuses writes: events lost (counted, reported once writing works)',
    );
  }

  #shouldWarn(key: string): boolean {
    const now = this.#now();
    const last = this.#lastWarn.get(key);
    // A clock that went back counts as "long ago": better one warning too many than silence.
    if (last === undefined || now - last >= this.#warnIntervalMs || now < last) {
      this.#lastWarn.set(key, now);
      return true;
    }
    return false;
  }

  /** The file to write now: today's by the wall clock, but never one before the newest. */
  #nameFor(ms: number): string {
    const name = logFileName(ms);
    return name > this.#floor ? name : this.#floor;
  }

  #openFor(ms: number): void {
    const name = this.#nameFor(ms);
    // A file removed under us (rm -rf of the directory) would take every write and keep none: open again.
    if (this.#fd >= 0 && name === this.#fileName && fstatSync(this.#fd).nlink > 0) return;
    this.#closeFd();
    if (this.#selfTorn && this.#selfTornFile !== name) {
      // The date changed since our own partial write: close that line where it is, or the reader would see a bare tail.
      const old = openSync(join(this.dir, this.#selfTornFile), 'a+');
      try {
        closeTornLine(old);
      } finally {
        closeSync(old);
      }
      this.#selfTorn = false;
    }
    const fd = openSync(join(this.dir, name), 'a+');
    try {
      if (closeTornLine(fd)) {
        if (this.#selfTorn) this.#selfTorn = false;
        else this.#torn++;
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.#fd = fd;
    this.#fileName = name;
    this.#floor = name;
  }

  /** At start: the newest file may end in a line torn by the previous process. */
  #closeTornTail(): void {
    if (this.#floor === '') return;
    let fd = -1;
    try {
      fd = openSync(join(this.dir, this.#floor), 'a+');
      if (closeTornLine(fd)) this.#torn++;
    } catch {
      /* the first write reports a disk that refuses */
    } finally {
      if (fd >= 0) closeSync(fd);
    }
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

/** Ends a torn last line with TORN_LINE_MARK and a newline; true when there was one. */
function closeTornLine(fd: number): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  if (last[0] === 0x0a) return false;
  writeSync(fd, `${TORN_LINE_MARK}\n`);
  return true;
}
