/**
 * Types shared by the CloudWatch parts of ship/ and by main.ts, which feeds them.
 */
import type { FullConfig } from '../config/config.js';

/** The slice of the agent's logger (ship/logger.ts) that ship/ and enrich/ use. */
export type ShipLogger = {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
};

/** A logger that drops everything (tests, tools). */
export const SILENT_LOGGER: ShipLogger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});

export type { CloudwatchMode } from '../config/config.js';

/** The configuration fields the CloudWatch and discovery code reads (main passes its Config as it is). */
export type CloudConfig = Pick<FullConfig,
  | 'logDir' | 'cloudwatch' | 'region' | 'instanceId' | 'logGroup' | 'logStream' | 'cloudwatchRetentionDays'
  | 'metricsNamespace' | 'metricsIntervalSec' | 'discoveryIntervalSec' | 'imdsEndpoint'>;

/** A CloudWatch statistic set over one interval. */
export type StatSet = Readonly<{ count: number; sum: number; min: number; max: number }>;

/**
 * Counters the analyzer keeps. Cumulative since start (monotonic); the metrics
 * publisher sends the difference between two snapshots. A counter found smaller than
 * before is taken as a restart of the counter.
 */
export type StatsCounters = Readonly<{
  requests: number;
  http4xx: number;
  http5xx: number;
  resetsByTarget: number;
  resetsByPeer: number;
  refused: number;
  unanswered: number;
  retransmissions: number;
  zeroWindows: number;
  healthChecksOk: number;
  healthChecksFailed: number;
  loops: number;
  captureDrops: number;
  /** Capture interruptions recovered from (interface down or re-created). */
  captureGaps: number;
  /** Events that never reached the local log (memory buffer full while the disk refused, or torn by a crash). */
  localLogLost: number;
}>;

/** Figures for one load balancer / target group pair, as far as they are known. */
export type TargetStats = Readonly<{
  /** CloudWatch value, e.g. app/shop/50dc6c495c0c9188. */
  loadBalancer: string | undefined;
  /** CloudWatch value, e.g. targetgroup/web/73e2d6bc24d8a067. */
  targetGroup: string | undefined;
  counters: Partial<StatsCounters>;
  /** Response times (seconds) since the previous snapshot: drained by each call. */
  responseTime?: StatSet | undefined;
}>;

export type StatsSnapshot = Readonly<{
  counters: StatsCounters;
  /** Response times (seconds) since the previous snapshot: drained by each call. */
  responseTime?: StatSet | undefined;
  byTarget?: readonly TargetStats[];
}>;

/**
 * Called once per metrics interval by the publisher (and by nothing else: response
 * times are drained by the call).
 */
export type StatsSource = () => StatsSnapshot;

export const ZERO_COUNTERS: StatsCounters = Object.freeze({
  requests: 0, http4xx: 0, http5xx: 0, resetsByTarget: 0, resetsByPeer: 0, refused: 0, unanswered: 0,
  retransmissions: 0, zeroWindows: 0, healthChecksOk: 0, healthChecksFailed: 0, loops: 0, captureDrops: 0,
  captureGaps: 0, localLogLost: 0,
});
