import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AwsContext } from '../enrich/enrichment.js';
import { callDeadlineMs, createLogsClient, createMetricsClient, type ClientSettings } from './cloudwatch-clients.js';
import { CloudWatchLogsShipper, type LogsShipperStatus } from './cloudwatch-logs.js';
import { MetricsPublisher, type MetricsStatus } from './metrics.js';
import type { CloudConfig, ShipLogger, StatsSource } from './shipping-types.js';

export type ShippingStatus =
  | Readonly<{ mode: 'local'; reason: string }>
  | Readonly<{
    mode: 'aws';
    /** 'degraded' while CloudWatch Logs or metrics calls fail; `degraded` then says what and since when. */
    health: 'ok' | 'degraded';
    degraded: string | undefined;
    logs: Readonly<LogsShipperStatus>;
    metrics: Readonly<MetricsStatus>;
  }>;

/** One line for the summary and health.json: what is failing, how often, since when. */
export function degradedReason(logs: Readonly<LogsShipperStatus>, metrics: Readonly<MetricsStatus>): string | undefined {
  const parts: string[] = [];
  if (logs.degradedSince !== undefined) {
    const kinds = Object.entries(logs.failingKinds).map(([k, n]) => `${k} x${n}`).join(', ');
    parts.push(`CloudWatch Logs failing since ${logs.degradedSince} (${kinds || logs.lastError || 'unknown'}); events wait in the local log`);
  }
  if (metrics.degradedSince !== undefined) {
    parts.push(`CloudWatch metrics failing since ${metrics.degradedSince} (${metrics.lastError ?? 'unknown'}); ${metrics.queued} interval(s) waiting`);
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** What main holds: status for the summary, flush on SIGTERM, stop. */
export type Shipping = Readonly<{
  status(): ShippingStatus;
  /** Events written locally and not yet acknowledged by CloudWatch Logs (0 in local-only mode). */
  pending(): Promise<number>;
  /** Tell the Logs shipper new lines were written (optional; it also polls every second). */
  nudge(): void;
  /** Ship what can be shipped within budgetMs (SIGTERM), then stop. */
  flush(budgetMs: number): Promise<{ caughtUp: boolean }>;
  stop(): Promise<void>;
}>;

export type StartShippingOptions = Readonly<{
  config: CloudConfig;
  logger: ShipLogger;
  statsSource: StatsSource;
  context: AwsContext;
  /** Tests: endpoint and fake credentials, or ready clients. */
  clientSettings?: Partial<ClientSettings>;
  clients?: { logs: CloudWatchLogsClient; metrics: CloudWatchClient };
  /** Tests: shorter polling and backoff. */
  pollIntervalMs?: number;
  backoff?: { baseMs: number; capMs: number };
}>;

/**
 * Starts CloudWatch Logs shipping from the local log and the metrics publisher. In
 * local-only mode nothing is started and the handle only reports why.
 */
export function startShipping(o: StartShippingOptions): Shipping {
  const ctx = o.context;
  if (ctx.mode !== 'aws') {
    const status: ShippingStatus = { mode: 'local', reason: ctx.reason };
    return { status: () => status, pending: async () => 0, nudge: () => undefined, flush: async () => ({ caughtUp: true }), stop: async () => undefined };
  }
  const settings: ClientSettings = { ...o.clientSettings, region: ctx.region };
  const logsClient = o.clients?.logs ?? createLogsClient(settings);
  const metricsClient = o.clients?.metrics ?? createMetricsClient(settings);
  const logs = new CloudWatchLogsShipper({
    client: logsClient,
    logDir: o.config.logDir,
    logGroup: o.config.logGroup,
    logStream: o.config.logStream ?? ctx.instanceId,
    retentionDays: o.config.cloudwatchRetentionDays,
    logger: o.logger,
    callDeadlineMs: callDeadlineMs(settings),
    ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
    ...(o.backoff !== undefined ? { backoff: o.backoff } : {}),
  });
  const metrics = new MetricsPublisher({
    client: metricsClient,
    namespace: o.config.metricsNamespace,
    instanceId: ctx.instanceId,
    intervalMs: o.config.metricsIntervalSec * 1000,
    statsSource: o.statsSource,
    // Three SDK attempts, each within the per-call deadline.
    callDeadlineMs: 3 * callDeadlineMs(settings),
    shipping: async () => ({ eventsPending: await logs.pending(), eventsRejectedTotal: logs.status().rejectedTotal }),
    logger: o.logger,
  });
  logs.start();
  metrics.start();
  return {
    status: () => {
      const l = logs.status();
      const m = metrics.status();
      const degraded = degradedReason(l, m);
      return { mode: 'aws', health: degraded === undefined ? 'ok' : 'degraded', degraded, logs: l, metrics: m };
    },
    pending: () => logs.pending(),
    nudge: () => logs.nudge(),
    async flush(budgetMs) {
      // Logs first (they are the record); the metrics' last interval gets a small share.
      const started = Date.now();
      const result = await logs.flush(Math.max(0, budgetMs * 0.8));
      await metrics.flush(Math.max(100, budgetMs - (Date.now() - started)));
      return result;
    },
    async stop() {
      metrics.stop();
      await logs.stop();
    },
  };
}
