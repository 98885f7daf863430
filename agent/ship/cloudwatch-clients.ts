import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AwsCredentialIdentity } from '@aws-sdk/types';

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
   * Socket connect / whole-request timeouts: a hung connection must not stall shipping.
   * The SDK only warns on a request timeout unless throwOnRequestTimeout is set, so it is.
   */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}>;

function common(s: ClientSettings) {
  return {
    region: s.region,
    ...(s.endpoint !== undefined ? { endpoint: s.endpoint } : {}),
    ...(s.credentials !== undefined ? { credentials: s.credentials } : {}),
    requestHandler: { connectionTimeout: s.connectionTimeoutMs ?? 3_000, requestTimeout: s.requestTimeoutMs ?? 15_000, throwOnRequestTimeout: true },
  };
}

/** Logs: one SDK attempt per call; the shipper retries itself, forever, with backoff. */
export function createLogsClient(s: ClientSettings): CloudWatchLogsClient {
  return new CloudWatchLogsClient({ ...common(s), maxAttempts: 1 });
}

/** Metrics: the SDK's standard retries (3 attempts) inside one interval, then our policy. */
export function createMetricsClient(s: ClientSettings): CloudWatchClient {
  return new CloudWatchClient({ ...common(s), maxAttempts: 3 });
}
