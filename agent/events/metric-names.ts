/**
 * The CloudWatch metric catalogue: names published by ship/ and used by the CDK
 * alarms and dashboard in infra/. One list so the two cannot drift apart.
 */
export const DEFAULT_NAMESPACE = 'LBTrafficAnalyzer';

export const MetricName = {
  /** Client HTTP requests seen (health checks excluded). Count. */
  Requests: 'Requests',
  HTTP4xx: 'HTTP_4XX_Count',
  HTTP5xx: 'HTTP_5XX_Count',
  /** 5xx responses as a percentage of the interval's client requests (only sent when there were requests). Percent. */
  HTTP5xxRate: 'HTTP_5XX_Rate',
  /** Time from the last request byte to the first response byte. Seconds, statistic set. */
  TargetResponseTime: 'TargetResponseTime',
  /** Connections reset by this instance (the target). Count. */
  ResetsByTarget: 'ResetsByTarget',
  /** Connections reset by the peer (load balancer or client). Count. */
  ResetsByPeer: 'ResetsByPeer',
  ConnectionsRefused: 'ConnectionsRefused',
  ConnectionsUnanswered: 'ConnectionsUnanswered',
  Retransmissions: 'Retransmissions',
  ZeroWindows: 'ZeroWindows',
  HealthChecksOk: 'HealthChecksOk',
  HealthChecksFailed: 'HealthChecksFailed',
  LoopsDetected: 'LoopsDetected',
  /** Packets dropped by the kernel or interface (ps_drop + ps_ifdrop). Count. */
  CaptureDrops: 'CaptureDrops',
  /** Capture interruptions (interface down, deleted and re-created) that ended; each is a CAPTURE_LOSS event with its duration. Count. */
  CaptureGaps: 'CaptureGaps',
  /** Events lost before reaching the local log: the disk refused writes while its memory buffer was full, or a line torn by a crash. Count. */
  LocalLogEventsLost: 'LocalLogEventsLost',
  /** Events written locally but not yet acknowledged by CloudWatch Logs. Count (gauge). */
  EventsPending: 'EventsPending',
  /** Events CloudWatch Logs will never accept (too old, too new); kept locally. Count. */
  EventsRejected: 'EventsRejected',
  /** 1 per interval while the agent runs; alarms treat missing data as breaching. */
  Heartbeat: 'Heartbeat',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

/** Dimension names reuse AWS's own so figures sit beside the load balancer's. */
export const DimensionName = {
  InstanceId: 'InstanceId',
  LoadBalancer: 'LoadBalancer',
  TargetGroup: 'TargetGroup',
} as const;
