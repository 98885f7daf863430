import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AwsCredentialIdentity, MiddlewareStack } from '@aws-sdk/types';
import { addAnswerCheck, jsonObjectAnswer } from './cloudwatch-answer-check.js';

/**
 * How the SDK clients are made. In production only `region` is set: credentials come
 * from the SDK's default chain and endpoints from AWS (or AWS_ENDPOINT_URL_* if set).
 * Tests pass `endpoint` and fake credentials to talk to the local double.
 */
export type ClientSettings = Readonly<{
  region: string;
  endpoint?: string | undefined;
  credentials?: AwsCredentialIdentity | undefined;
  /**
   * Timeouts, so that a hung connection cannot stall shipping or discovery:
   * - connectionTimeoutMs: TCP connect;
   * - requestTimeoutMs: from sending until the answer's headers (the SDK only warns
   *   unless throwOnRequestTimeout is set, so it is), and also the socket inactivity
   *   limit: the request timeout is cleared once headers arrive, so without it a server
   *   that sends headers and then nothing would hang the call forever (measured against
   *   the double's stall-after-headers fault).
   */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}>;

export const DEFAULT_CONNECTION_TIMEOUT_MS = 3_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

/**
 * Whole-call deadline (see withDeadline): connect plus twice the request timeout, 33 s
 * by default. A healthy call takes well under a second.
 */
export function callDeadlineMs(s: Partial<ClientSettings>): number {
  return (s.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS) + 2 * (s.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
}

/** The SDK options every client of ship/ and enrich/ gets (region, endpoint, credentials, timeouts). */
export function commonClientOptions(s: ClientSettings) {
  return {
    region: s.region,
    ...(s.endpoint !== undefined ? { endpoint: s.endpoint } : {}),
    ...(s.credentials !== undefined ? { credentials: s.credentials } : {}),
    requestHandler: {
      connectionTimeout: s.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
      requestTimeout: s.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      socketTimeout: s.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  };
}

/** Logs: one SDK attempt per call; the shipper retries itself, forever, with backoff. */
export function createLogsClient(s: ClientSettings): CloudWatchLogsClient {
  const client = new CloudWatchLogsClient({ ...commonClientOptions(s), maxAttempts: 1 });
  // Only PutLogEvents moves the cursor; a fake success of Create* shows up as ResourceNotFound next.
  addAnswerCheck(client.middlewareStack as unknown as MiddlewareStack<object, object>, jsonObjectAnswer, new Set(['PutLogEvents']));
  return client;
}

/**
 * Metrics: the SDK's standard retries (3 attempts) inside one interval, then our policy.
 * No answer check: metrics are a view, not the record, and CloudWatch may answer
 * PutMetricData with an empty body; an empty 200 from a middlebox costs one interval.
 */
export function createMetricsClient(s: ClientSettings): CloudWatchClient {
  return new CloudWatchClient({ ...commonClientOptions(s), maxAttempts: 3 });
}
