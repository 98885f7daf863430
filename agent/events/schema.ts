/**
 * The event schema: the contract with `grep`, Logs Insights queries and alarms.
 * One event is one JSON object on one line, identical in the local log and in
 * CloudWatch Logs. Adding a field is compatible; renaming or removing one bumps
 * SCHEMA_VERSION. Documented in README.md ("Events").
 */
export const SCHEMA_VERSION = 1;

export const EventType = {
  /** A connection ended by a reset. */
  TCP_ERROR: 'TCP_ERROR',
  /** A connection that never got established: refused (SYN → RST) or unanswered. */
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  /** HTTP 5xx from the target, or a request the target closed/reset before answering. */
  APP_ERROR: 'APP_ERROR',
  HEALTH_CHECK_FAIL: 'HEALTH_CHECK_FAIL',
  TLS_ERROR: 'TLS_ERROR',
  LOOP_DETECTED: 'LOOP_DETECTED',
  /** The load balancer's view of this target's health (DescribeTargetHealth) contradicts the checks seen on the wire. */
  HEALTH_CHECK_MISMATCH: 'HEALTH_CHECK_MISMATCH',
  /** The kernel or the interface dropped packets, or capture stopped for a while. */
  CAPTURE_LOSS: 'CAPTURE_LOSS',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

export type LbType = 'ALB' | 'NLB' | 'CLB' | 'GWLB' | 'unknown';

export type LbRef = Readonly<{
  type: LbType;
  name?: string;
  arn?: string;
  /** CloudWatch dimension value: app/name/id, net/name/id, gwy/name/id, or the CLB name. */
  dimension?: string;
}>;

export type TargetGroupRef = Readonly<{
  name?: string;
  arn?: string;
  /** CloudWatch dimension value: targetgroup/name/id. */
  dimension?: string;
}>;

/** Fields every event has (the 5-tuple fields are absent for CAPTURE_LOSS). */
export type EventBase = {
  v: typeof SCHEMA_VERSION;
  /** ULID; unique per event, the de-duplication key after retries. */
  id: string;
  /** ISO 8601 UTC with microseconds, from the packet timestamp. */
  time: string;
  type: EventType;
  /** Machine-readable cause, one of a fixed set per type (see README). */
  reason: string;
  /** One human-readable line, worded as the original script's log. */
  message: string;
  proto?: 'tcp' | 'udp';
  src_ip?: string;
  src_port?: number;
  dst_ip?: string;
  dst_port?: number;
  client_ip?: string;
  lb?: LbRef;
  target_group?: TargetGroupRef;
  instance_id?: string;
};

/** An event: the base fields plus type-specific details (flat, snake_case). */
export type AnalyzerEvent = EventBase & { readonly [detail: string]: unknown };

/** Anything that accepts events: the local log, a test collector, a fan-out. */
export interface EventSink {
  emit(event: AnalyzerEvent): void;
}

/** The second formatMicros last wrote, and its text up to the seconds (2026-02-15T09:30:15). */
let lastSecond = Number.NaN;
let lastSecondText = '';

/**
 * Format a microsecond epoch timestamp as 2026-02-15T09:30:15.123456Z. The text up to the
 * seconds is made once per second (events come in bursts: toISOString was ~3 µs of each).
 */
export function formatMicros(tsMicros: number): string {
  const second = Math.floor(Math.floor(tsMicros / 1000) / 1000);
  if (second !== lastSecond) {
    lastSecondText = new Date(second * 1000).toISOString().slice(0, 19); // ...T09:30:15
    lastSecond = second;
  }
  const micros = String(Math.floor(tsMicros % 1_000_000)).padStart(6, '0');
  return `${lastSecondText}.${micros}Z`;
}
