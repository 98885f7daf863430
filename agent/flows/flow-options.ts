/** FlowTable settings: defaults (each with its reason), validation, and the mapping from Config. */
import type { EventFactory } from '../events/event-factory.js';
import { EVENT_LIMIT_DEFAULTS } from '../events/event-limiter.js';
import type { EventSink } from '../events/schema.js';
import type { LocalAddresses } from './local-addresses.js';
import type { TcpObserver } from './tcp-observer.js';

export const FLOW_DEFAULTS = {
  /** Sized for 100k concurrent connections (issue 2), a few hundred bytes each. */
  maxConnections: 100_000,
  /**
   * 350 s: an NLB forgets an idle TCP flow after 350 s and an ALB's idle timeout
   * is at most 4000 s but 60 s by default; a connection silent longer than the
   * NLB keeps it is no longer one a client can use.
   * https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html#connection-idle-timeout
   */
  idleTimeoutSec: 350,
  /**
   * 3 s: the first SYN retransmission comes after 1 s (RFC 6298 initial RTO) and
   * the second 2 s later, so a target that is up answers well within it, and a
   * client not answered for 3 s has already retried; long enough for a slow
   * accept queue, short enough to report while the LB still waits (an ALB gives
   * a target 10 s to accept a connection before answering 504).
   * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html
   */
  synTimeoutSec: 3,
  /** 5 s, as Zeek's tcp_close_delay/tcp_reset_delay: late ACKs and RSTs still find their connection. */
  closedLingerSec: 5,
  /**
   * 130 s: how long an unanswered or abandoned handshake is remembered after its
   * event, so later SYN retries count on it instead of making new events. Linux
   * gives up after 6 retries, 127 s after the first SYN (net.ipv4.tcp_syn_retries).
   */
  failedLingerSec: 130,
  /** Bound on the distinct UDP destination ports counted; the rest go under "other". */
  maxUdpPorts: 1024,
  /**
   * Connection events of one type and reason written per second of packet time; the
   * rest go into one summary event per second (events/event-limiter.ts has the why).
   */
  eventsPerSecond: EVENT_LIMIT_DEFAULTS.perWindow,
} as const;

export type FlowTableOptions = {
  readonly sink: EventSink;
  readonly events: EventFactory;
  readonly maxConnections?: number;
  readonly idleTimeoutSec?: number;
  readonly synTimeoutSec?: number;
  readonly closedLingerSec?: number;
  readonly failedLingerSec?: number;
  /** -s N: per-segment analysis for flows whose sample hash % N === 0. */
  readonly sample?: number;
  readonly localAddresses?: LocalAddresses;
  readonly observer?: TcpObserver;
  readonly maxUdpPorts?: number;
  /** Rate limit for connection events, per type and reason (FLOW_DEFAULTS.eventsPerSecond). */
  readonly eventsPerSecond?: number;
};

/** The flow-table settings found in Config (seconds and counts as the flags give them). */
export type FlowConfig = Readonly<{ sample: number; maxConnections: number; synTimeoutSec: number; idleTimeoutSec: number }>;

/** Options for FlowTable from the validated Config; main.ts adds the sink, factory, observer and local addresses. */
export function flowOptionsFromConfig(config: FlowConfig): Pick<FlowTableOptions, 'sample' | 'maxConnections' | 'synTimeoutSec' | 'idleTimeoutSec'> {
  return {
    sample: config.sample,
    maxConnections: config.maxConnections,
    synTimeoutSec: config.synTimeoutSec,
    idleTimeoutSec: config.idleTimeoutSec,
  };
}

export function positiveInt(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`flow table: ${name} must be a positive integer, got ${n}`);
  return n;
}

/** Seconds (flag units) to microseconds (packet time units). */
export function seconds(name: string, s: number): number {
  if (!(s > 0) || !Number.isFinite(s)) throw new Error(`flow table: ${name} must be a positive number of seconds, got ${s}`);
  return Math.round(s * 1_000_000);
}

