/**
 * How AWS failures are treated inside ship/ and enrich/: which ones are worth
 * retrying, and how long to wait (exponential backoff with full jitter, as AWS
 * recommends: https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/).
 */

export const ErrorKind = {
  /** Throttling, 5xx, timeouts, dropped connections: retry after a backoff. */
  Transient: 'transient',
  /** The log group or stream is gone: create it, then retry. */
  Missing: 'missing',
  /** Credentials missing, expired or not allowed: retry slowly, it may be fixed. */
  Denied: 'denied',
  /** The request itself is refused (validation): retrying the same request cannot help. */
  Invalid: 'invalid',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

const THROTTLING = new Set([
  'ThrottlingException', 'Throttling', 'ThrottledException', 'RequestLimitExceeded', 'TooManyRequestsException',
  'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'ServiceUnavailable', 'ServiceUnavailableException',
  'InternalFailure', 'InternalServerError', 'InternalError', 'RequestTimeout', 'RequestTimeoutException',
  'TimeoutError', 'LimitExceededException', 'OperationAbortedException',
]);
const DENIED = new Set([
  'AccessDenied', 'AccessDeniedException', 'UnrecognizedClientException', 'InvalidClientTokenId', 'ExpiredToken',
  'ExpiredTokenException', 'InvalidSignatureException', 'SignatureDoesNotMatch', 'CredentialsProviderError',
  'UnauthorizedOperation', 'AuthFailure', 'MissingAuthenticationToken',
]);
const INVALID = new Set([
  'InvalidParameterException', 'InvalidParameterValue', 'InvalidParameterCombination', 'ValidationError',
  'ValidationException', 'InvalidParameterValueException', 'SerializationException',
]);

type AwsErrorLike = { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } };

export function errorName(err: unknown): string {
  const e = err as AwsErrorLike | undefined;
  if (e && typeof e.name === 'string' && e.name !== 'Error') return e.name;
  if (e && typeof e.code === 'string') return e.code;
  return e && typeof e.name === 'string' ? e.name : 'UnknownError';
}

export function classifyAwsError(err: unknown): ErrorKind {
  const name = errorName(err);
  if (name === 'ResourceNotFoundException') return ErrorKind.Missing;
  if (THROTTLING.has(name)) return ErrorKind.Transient;
  if (DENIED.has(name)) return ErrorKind.Denied;
  const status = (err as AwsErrorLike | undefined)?.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return ErrorKind.Transient;
  if (INVALID.has(name)) return ErrorKind.Invalid;
  if (typeof status === 'number' && (status === 401 || status === 403)) return ErrorKind.Denied;
  // Network errors (ECONNRESET, socket hang up, ...) and anything unknown: retry.
  return ErrorKind.Transient;
}

/** A call that outlived its whole-call deadline (named and coded like the SDK's own timeouts). */
export class CallDeadlineError extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';

  constructor(ms: number) {
    super(`the call did not complete within its ${ms} ms deadline`);
  }
}

/**
 * Runs one SDK call (or a group of them) with a whole-call deadline. The SDK's timeouts
 * are per phase (connect, until headers, socket inactivity): a server that trickles a
 * byte now and then trips none of them. `stop` (shutdown) aborts too and its abort is
 * passed through unchanged. One controller per call, listeners removed afterwards: no
 * AbortSignal.any on the long-lived stop signal.
 */
export async function withDeadline<T>(ms: number, stop: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onStop = (): void => ac.abort();
  if (stop?.aborted) ac.abort();
  stop?.addEventListener('abort', onStop, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, ms);
  try {
    return await call(ac.signal);
  } catch (err) {
    if (timedOut && !stop?.aborted) throw new CallDeadlineError(ms);
    throw err;
  } finally {
    clearTimeout(timer);
    stop?.removeEventListener('abort', onStop);
  }
}

export type Backoff = Readonly<{ baseMs: number; capMs: number }>;

/** Defaults for shipping: first retry within 200 ms, never more than 30 s apart. */
export const DEFAULT_BACKOFF: Backoff = Object.freeze({ baseMs: 200, capMs: 30_000 });

/** Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)). */
export function fullJitterDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Resolves true after `ms`, or false as soon as the signal aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const THROTTLED = new Set([
  'ThrottlingException', 'Throttling', 'ThrottledException', 'RequestLimitExceeded', 'TooManyRequestsException',
  'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'LimitExceededException',
]);

/**
 * A short, stable name for what went wrong, used to log each kind of failure once per
 * interval (a small, bounded set of keys). Transport codes come first: the SDK names a
 * dropped connection "TimeoutError" with code ECONNRESET.
 */
export function failureKind(err: unknown): string {
  const e = err as (AwsErrorLike & { message?: unknown; $response?: unknown }) | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const name = errorName(err);
  const message = typeof e?.message === 'string' ? e.message : '';
  if (name === 'UnverifiedAnswer') return 'unverified-answer';
  if (code === 'ECONNRESET' || code === 'EPIPE' || message === 'aborted' || message === 'socket hang up') return 'connection-lost';
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'connection-refused';
  if (code === 'ETIMEDOUT' || name === 'TimeoutError') return 'timeout';
  if (name === 'SyntaxError' || /Deserialization error|XML parse error/.test(message)) return 'unparseable-answer';
  if (THROTTLED.has(name)) return 'throttled';
  const status = e?.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 500) return `server-error:${name}`;
  return name;
}

/** What a log line about a failure says, whatever the caller. */
export function failureFields(err: unknown): { failure: string; err: string; status: number | undefined; message: string } {
  const e = err as (AwsErrorLike & { message?: unknown }) | undefined;
  const status = e?.$metadata?.httpStatusCode;
  const message = typeof e?.message === 'string' ? e.message.split('\n')[0]?.slice(0, 160) ?? '' : '';
  return { failure: failureKind(err), err: errorName(err), status: typeof status === 'number' ? status : undefined, message };
}

/**
 * Says whether a failure should be logged now: the first of each kind, then at most
 * once per interval per kind, so an outage gives a few lines, not an error loop. The
 * line that is logged says how many of that kind were held back since the previous
 * one (`repeats`), so nothing is hidden. Kinds come from failureKind(): a small set.
 */
export class LogOnce {
  readonly #intervalMs: number;
  readonly #entries = new Map<string, { at: number; skipped: number }>();
  suppressed = 0;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** Undefined: do not log this one. A number: log now, saying this many repeats were held back. */
  take(key: string, nowMs: number = Date.now()): number | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || nowMs - entry.at >= this.#intervalMs) {
      const repeats = entry?.skipped ?? 0;
      this.#entries.set(key, { at: nowMs, skipped: 0 });
      return repeats;
    }
    entry.skipped++;
    this.suppressed++;
    return undefined;
  }

  shouldLog(key: string, nowMs: number = Date.now()): boolean {
    return this.take(key, nowMs) !== undefined;
  }

  /** Repeats held back and not yet reported, by kind (for the "recovered" line). */
  unreported(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, e] of this.#entries) if (e.skipped > 0) out[k] = e.skipped;
    return out;
  }

  reset(): void {
    this.#entries.clear();
  }
}
