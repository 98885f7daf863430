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

/**
 * Says whether an error should be logged now: the first of each kind, then at most
 * once per interval per kind, so an outage gives a few lines, not an error loop.
 * Kinds are error names: a small, bounded set.
 */
export class LogOnce {
  readonly #intervalMs: number;
  readonly #lastAt = new Map<string, number>();
  suppressed = 0;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  shouldLog(key: string, nowMs: number = Date.now()): boolean {
    const last = this.#lastAt.get(key);
    if (last === undefined || nowMs - last >= this.#intervalMs) {
      this.#lastAt.set(key, nowMs);
      return true;
    }
    this.suppressed++;
    return false;
  }

  reset(): void {
    this.#lastAt.clear();
  }
}
