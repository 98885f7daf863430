import {
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
  type CloudWatchLogsClient,
  type RejectedLogEventsInfo,
} from '@aws-sdk/client-cloudwatch-logs';
import { join } from 'node:path';
import {
  LOGS_DEFAULT_RETENTION_DAYS,
  LOGS_MAX_EVENT_AGE_MS,
  LOGS_MAX_EVENT_FUTURE_MS,
  LOGS_RETENTION_DAYS_ALLOWED,
  LOGS_WINDOW_SAFETY_MS,
} from './aws-limits.js';
import { acceptWindow, buildBatch, PUT_LOG_EVENTS_LIMITS, type BatchLimits, type PreparedBatch } from './cloudwatch-batch.js';
import { classifyAwsError, DEFAULT_BACKOFF, errorName, ErrorKind, failureFields, fullJitterDelay, LogOnce, sleep, withDeadline, type Backoff } from './cloudwatch-retry.js';
import { CURSOR_FILE_NAME, CursorStore, type Cursor } from './cursor.js';
import { countLinesAfter, LogReader, type LogReaderOptions } from './log-reader.js';
import type { ShipLogger } from './shipping-types.js';

export type LogsShipperOptions = Readonly<{
  client: CloudWatchLogsClient;
  logDir: string;
  logGroup: string;
  logStream: string;
  retentionDays?: number;
  logger: ShipLogger;
  /** Default: <logDir>/.cloudwatch-cursor.json. */
  cursorPath?: string;
  /** How often to look for new lines once caught up. */
  pollIntervalMs?: number;
  backoff?: Backoff;
  /** Errors of one kind are logged at most once per this interval. */
  errorLogIntervalMs?: number;
  limits?: BatchLimits;
  reader?: LogReaderOptions;
  /** Whole-call deadline of each CloudWatch call (default 33 s; see withDeadline). */
  callDeadlineMs?: number;
  now?: () => number;
}>;

/** Counts since start; the metrics publisher turns them into EventsRejected. */
export type LogsShipperStatus = {
  state: 'starting' | 'shipping' | 'retrying' | 'stopped';
  eventsSent: number;
  batchesSent: number;
  /** Kept locally because CloudWatch would never accept them (counted before sending). */
  rejectedBeforeSend: { tooOld: number; tooNew: number; tooLarge: number };
  /** Reported back by PutLogEvents in rejectedLogEventsInfo. */
  rejectedByService: { tooOld: number; tooNew: number; expired: number };
  /** Batches refused as invalid (never expected; kept locally, counted, logged). */
  refusedEvents: number;
  /** All of the above: events that are only in the local log. */
  rejectedTotal: number;
  retries: number;
  lastError: string | undefined;
  /**
   * Set while CloudWatch Logs is failing (since the first failed call of the current
   * run of failures, ISO time); undefined once a call succeeds again.
   */
  degradedSince: string | undefined;
  /** Failed calls of the current run of failures, by kind (failureKind()). */
  failingKinds: Record<string, number>;
  /** Failed calls since start, by kind. */
  failuresByKind: Record<string, number>;
  /** Acknowledged position; written to the cursor file after each batch. */
  cursor: Cursor;
  cursorSaveFailures: number;
};

export function validateRetentionDays(days: number): number {
  if (!(LOGS_RETENTION_DAYS_ALLOWED as readonly number[]).includes(days)) {
    throw new Error(
      `CloudWatch Logs retention ${days} days is not allowed; use one of ${LOGS_RETENTION_DAYS_ALLOWED.join(', ')}`,
    );
  }
  return days;
}

/**
 * Ships the local log to one CloudWatch Logs stream. The local log is the source of
 * truth; the cursor moves only after PutLogEvents acknowledged a batch, so after a
 * crash, restart or outage shipping resumes where it was and sends at most the one
 * unacknowledged batch again (each event carries its id for de-duplication).
 */
export class CloudWatchLogsShipper {
  readonly #o: LogsShipperOptions;
  readonly #store: CursorStore;
  readonly #abort = new AbortController();
  readonly #errorLog: LogOnce;
  readonly #now: () => number;
  readonly #retentionDays: number;
  readonly #status: LogsShipperStatus;
  #loop: Promise<void> | undefined;
  #draining = false;
  /**
   * Counts reads of the local log; flush() remembers the count when it starts, and only a
   * read that began after that can say "caught up" (a read already under way when the
   * last lines were written would miss them).
   */
  #reads = 0;
  #drainFromRead = 0;
  #caughtUp: (() => void) | undefined;
  #wake: (() => void) | undefined;

  constructor(options: LogsShipperOptions) {
    this.#o = options;
    this.#retentionDays = validateRetentionDays(options.retentionDays ?? LOGS_DEFAULT_RETENTION_DAYS);
    this.#store = new CursorStore(options.cursorPath ?? join(options.logDir, CURSOR_FILE_NAME));
    this.#errorLog = new LogOnce(options.errorLogIntervalMs ?? 60_000);
    this.#now = options.now ?? Date.now;
    this.#status = {
      state: 'starting', eventsSent: 0, batchesSent: 0,
      rejectedBeforeSend: { tooOld: 0, tooNew: 0, tooLarge: 0 },
      rejectedByService: { tooOld: 0, tooNew: 0, expired: 0 },
      refusedEvents: 0, rejectedTotal: 0, retries: 0, lastError: undefined,
      degradedSince: undefined, failingKinds: {}, failuresByKind: {},
      cursor: { file: '', offset: 0, lastId: undefined }, cursorSaveFailures: 0,
    };
  }

  start(): void {
    this.#loop ??= this.#run().catch((err: unknown) => {
      // Only a local failure (the cursor file cannot be written) ends up here.
      this.#o.logger.error({ err: String(err) }, 'CloudWatch Logs shipping stopped');
      this.#status.state = 'stopped';
    });
  }

  status(): Readonly<LogsShipperStatus> {
    return structuredClone(this.#status);
  }

  /** Lines in the local log after the cursor (not yet acknowledged). */
  pending(): Promise<number> {
    return countLinesAfter(this.#o.logDir, this.#status.cursor);
  }

  /** Look for new lines now instead of at the next poll. */
  nudge(): void {
    this.#wake?.();
  }

  /**
   * Ship what is in the local log now, for at most `budgetMs`, then stop. Whatever is
   * not acknowledged by then is sent after the next start.
   */
  async flush(budgetMs: number): Promise<{ caughtUp: boolean }> {
    this.start();
    this.#draining = true;
    this.#drainFromRead = this.#reads + 1;
    const caughtUp = new Promise<boolean>((resolve) => {
      this.#caughtUp = () => resolve(true);
    });
    this.nudge();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), budgetMs);
    });
    const done = await Promise.race([caughtUp, timeout]);
    clearTimeout(timer);
    await this.stop();
    return { caughtUp: done };
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#loop;
    this.#status.state = 'stopped';
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const loaded = await this.#store.load();
    if (loaded.problem !== undefined) this.#o.logger.warn({ cursor: this.#store.path }, loaded.problem);
    this.#status.cursor = loaded.cursor;
    if (!(await this.#ensureResources(signal))) return;
    this.#status.state = 'shipping';
    let reader = new LogReader(this.#o.logDir, loaded.cursor, this.#o.reader);
    let readFailures = 0;
    try {
      while (!signal.aborted) {
        const now = this.#now();
        const window = acceptWindow(now, this.#maxAgeMs(), LOGS_MAX_EVENT_FUTURE_MS, LOGS_WINDOW_SAFETY_MS);
        let batch: PreparedBatch | undefined;
        let readNo = 0;
        try {
          readNo = ++this.#reads;
          batch = await buildBatch(reader, window, now, this.#o.limits ?? PUT_LOG_EVENTS_LIMITS);
          readFailures = 0;
        } catch (err) {
          // The local log cannot be read (permissions, I/O): wait and read again from the cursor.
          if (this.#errorLog.shouldLog('read', this.#now())) {
            this.#o.logger.warn({ err: String(err), dir: this.#o.logDir }, 'cannot read the local log for CloudWatch shipping; retrying');
          }
          await reader.close();
          reader = new LogReader(this.#o.logDir, this.#status.cursor, this.#o.reader);
          await sleep(fullJitterDelay(readFailures++, this.#o.backoff ?? DEFAULT_BACKOFF), signal);
          continue;
        }
        if (batch === undefined) {
          if (this.#draining && readNo >= this.#drainFromRead) this.#caughtUp?.();
          await this.#idle(signal);
          continue;
        }
        if (batch.events.length > 0 && !(await this.#send(batch, signal))) return;
        this.#account(batch);
        const cursor: Cursor = { file: batch.end.file, offset: batch.end.offset, lastId: batch.lastId ?? this.#status.cursor.lastId };
        await this.#saveCursor(cursor);
        this.#status.cursor = cursor;
      }
    } finally {
      await reader.close();
    }
  }

  /**
   * A cursor that cannot be written (disk full, read-only) does not stop shipping:
   * the next restart then resends from the last saved cursor (duplicates, no loss).
   */
  async #saveCursor(cursor: Cursor): Promise<void> {
    try {
      await this.#store.save(cursor);
    } catch (err) {
      this.#status.cursorSaveFailures++;
      if (this.#errorLog.shouldLog('cursor-save', this.#now())) {
        this.#o.logger.warn({ err: String(err), cursor: this.#store.path }, 'cannot save the CloudWatch cursor; shipping goes on, a restart would resend more');
      }
    }
  }

  #deadlineMs(): number {
    return this.#o.callDeadlineMs ?? 33_000;
  }

  #maxAgeMs(): number {
    return Math.min(LOGS_MAX_EVENT_AGE_MS, this.#retentionDays * 24 * 60 * 60 * 1000);
  }

  #idle(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.#o.pollIntervalMs ?? 1000);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
      if (signal.aborted) done();
    });
  }

  /** Sends one batch until acknowledged. False only when stopped first. */
  async #send(batch: PreparedBatch, signal: AbortSignal): Promise<boolean> {
    const { logGroup, logStream } = this.#o;
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await withDeadline(this.#deadlineMs(), signal, (abortSignal) => this.#o.client.send(
          new PutLogEventsCommand({ logGroupName: logGroup, logStreamName: logStream, logEvents: batch.events }),
          { abortSignal },
        ));
        this.#status.eventsSent += batch.events.length;
        this.#status.batchesSent++;
        this.#recovered();
        if (out.rejectedLogEventsInfo) this.#accountServiceRejects(out.rejectedLogEventsInfo, batch);
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        const kind = classifyAwsError(err);
        const name = errorName(err);
        this.#status.lastError = name;
        if (kind === ErrorKind.Invalid) {
          // The same request would be refused forever; keep the events locally and move on.
          this.#status.refusedEvents += batch.events.length;
          this.#status.rejectedTotal += batch.events.length;
          this.#o.logger.error(
            { err: name, message: (err as Error).message, events: batch.events.length, lastId: batch.lastId },
            'CloudWatch Logs refused a batch; its events stay in the local log only',
          );
          return true;
        }
        this.#status.retries++;
        const f = this.#failed(err);
        const repeats = this.#errorLog.take(f.failure, this.#now());
        if (repeats !== undefined) {
          this.#o.logger.warn(
            { ...f, kind, attempt, repeats, events: batch.events.length },
            `PutLogEvents failed (${f.failure}${repeats > 0 ? `, ${repeats} more like it since the last line` : ''}); retrying with backoff, events stay on disk and the cursor stays`,
          );
        }
        if (kind === ErrorKind.Missing) {
          if (!(await this.#ensureResources(signal))) return false;
          // Right after a re-creation the stream may not be visible yet: do not spin.
          if (attempt > 0 && !(await sleep(fullJitterDelay(attempt, this.#o.backoff ?? DEFAULT_BACKOFF), signal))) return false;
          continue;
        }
        if (!(await sleep(fullJitterDelay(attempt, this.#o.backoff ?? DEFAULT_BACKOFF), signal))) return false;
      }
    }
  }

  /** Notes one failed call: the shipper is degraded until a call succeeds. */
  #failed(err: unknown): ReturnType<typeof failureFields> {
    const f = failureFields(err);
    const s = this.#status;
    s.lastError = f.err;
    s.state = 'retrying';
    s.degradedSince ??= new Date(this.#now()).toISOString();
    s.failingKinds[f.failure] = (s.failingKinds[f.failure] ?? 0) + 1;
    s.failuresByKind[f.failure] = (s.failuresByKind[f.failure] ?? 0) + 1;
    return f;
  }

  /** A call succeeded: say once what the failures were, then forget them. */
  #recovered(): void {
    const s = this.#status;
    s.state = 'shipping';
    if (s.degradedSince === undefined) return;
    this.#o.logger.info(
      { degradedSince: s.degradedSince, failedCalls: s.failingKinds, notLoggedRepeats: this.#errorLog.unreported() },
      'CloudWatch Logs reachable again; shipping resumed',
    );
    this.#errorLog.reset();
    s.degradedSince = undefined;
    s.failingKinds = {};
  }

  #account(batch: PreparedBatch): void {
    const s = batch.skipped;
    const n = s.tooOld + s.tooNew + s.tooLarge;
    if (n === 0) return;
    this.#status.rejectedBeforeSend.tooOld += s.tooOld;
    this.#status.rejectedBeforeSend.tooNew += s.tooNew;
    this.#status.rejectedBeforeSend.tooLarge += s.tooLarge;
    this.#status.rejectedTotal += n;
    this.#o.logger.warn(
      { ...s, exampleId: batch.firstSkippedId, file: batch.end.file },
      'events CloudWatch Logs would reject (outside its time window or too large) kept in the local log only',
    );
  }

  #accountServiceRejects(info: RejectedLogEventsInfo, batch: PreparedBatch): void {
    const n = batch.events.length;
    const expired = Math.min(n, info.expiredLogEventEndIndex ?? 0);
    const old = Math.max(0, Math.min(n, info.tooOldLogEventEndIndex ?? 0) - expired);
    const tooNew = info.tooNewLogEventStartIndex === undefined ? 0 : Math.max(0, n - info.tooNewLogEventStartIndex);
    this.#status.rejectedByService.expired += expired;
    this.#status.rejectedByService.tooOld += old;
    this.#status.rejectedByService.tooNew += tooNew;
    this.#status.rejectedTotal += expired + old + tooNew;
    this.#o.logger.warn(
      { expired, tooOld: old, tooNew, batchLastId: batch.lastId },
      'CloudWatch Logs rejected events (rejectedLogEventsInfo); they stay in the local log',
    );
  }

  /**
   * Creates the group (with its retention) and the stream when missing. Transient
   * failures are retried with backoff; false only when stopped first.
   */
  async #ensureResources(signal: AbortSignal): Promise<boolean> {
    const { logGroup, logStream, logger } = this.#o;
    const client = this.#o.client;
    const call = <T>(fn: (abortSignal: AbortSignal) => Promise<T>): Promise<T> => withDeadline(this.#deadlineMs(), signal, fn);
    for (let attempt = 0; ; attempt++) {
      try {
        const created = await ignoreExists(() => call((abortSignal) => client.send(new CreateLogGroupCommand({ logGroupName: logGroup }), { abortSignal })));
        try {
          await call((abortSignal) => client.send(new PutRetentionPolicyCommand({ logGroupName: logGroup, retentionInDays: this.#retentionDays }), { abortSignal }));
        } catch (err) {
          if (signal.aborted) return false;
          // Not fatal: the group may be managed (and its retention set) by the CDK stack.
          if (classifyAwsError(err) !== ErrorKind.Transient) {
            logger.warn({ err: errorName(err), logGroup }, 'could not set the log group retention; continuing');
          } else throw err;
        }
        await ignoreExists(() => call((abortSignal) => client.send(new CreateLogStreamCommand({ logGroupName: logGroup, logStreamName: logStream }), { abortSignal })));
        if (created) logger.info({ logGroup, retentionDays: this.#retentionDays }, 'created CloudWatch log group');
        if (this.#status.degradedSince !== undefined) this.#recovered();
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        this.#status.retries++;
        const f = this.#failed(err);
        const repeats = this.#errorLog.take(`ensure:${f.failure}`, this.#now());
        if (repeats !== undefined) {
          logger.warn(
            { ...f, logGroup, logStream, repeats },
            `cannot prepare the CloudWatch log group/stream (${f.failure}${repeats > 0 ? `, ${repeats} more like it since the last line` : ''}); retrying`,
          );
        }
        if (!(await sleep(fullJitterDelay(attempt, this.#o.backoff ?? DEFAULT_BACKOFF), signal))) return false;
      }
    }
  }
}

/** Runs a Create* call; true when it created, false when it already existed. */
async function ignoreExists(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (err) {
    if (errorName(err) === 'ResourceAlreadyExistsException') return false;
    throw err;
  }
}
