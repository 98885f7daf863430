import { CONN_STATES, type ConnState } from './conn-state.js';

/** Per-segment figures that only cover the sampled flows when -s N > 1. */
export const SAMPLED_FIGURES = [
  'retransmissions', 'fast_retransmissions', 'spurious_retransmissions',
  'duplicate_acks', 'out_of_order', 'zero_window_probes', 'keep_alives', 'handshake_rtt_us',
] as const;

/** A CloudWatch-style statistic set (PutMetricData StatisticValues). */
export type StatSet = Readonly<{ count: number; sum: number; min: number; max: number }>;

/** The TCP/UDP figures for the summary and the metrics (a plain, frozen copy). */
export type FlowSnapshot = Readonly<{
  /** -s N in force; 1 = every flow analysed per segment. */
  sample: number;
  /** Names of the figures below that only cover sampled flows (empty at -s 1). */
  sampled_figures: readonly string[];
  connections_opened: number;
  connections_closed: number;
  /** Connections in the table now. */
  connections_tracked: number;
  connections_tracked_peak: number;
  /** Pushed out because the table was full. */
  connections_evicted: number;
  /** Left the table after idle, closed or handshake timeouts. */
  connections_expired: number;
  /** Final state of every connection that left the table. */
  by_state: Readonly<Record<ConnState, number>>;
  resets_by_target: number;
  resets_by_peer: number;
  refused: number;
  unanswered: number;
  handshake_abandoned: number;
  /** SYNs sent again by originators (exact: SYNs are always analysed). */
  syn_retries: number;
  zero_windows: number;
  retransmissions: number;
  fast_retransmissions: number;
  spurious_retransmissions: number;
  duplicate_acks: number;
  out_of_order: number;
  zero_window_probes: number;
  keep_alives: number;
  /** SYN-ACK to the originator's ACK at the capture point, microseconds (sampled flows). */
  handshake_rtt_us: StatSet;
  /**
   * Connection events not written one by one because their type and reason passed
   * the rate limit (see events/event-limiter.ts); each window's are in one summary event.
   */
  events_suppressed: number;
  /**
   * Segments over 1 GiB (more than any TCP window) from where their sender is: forged or
   * stale; not counted as data nor shown to the classifiers.
   */
  out_of_window_segments: number;
  /** Segments analysed per segment (sampled flows), for rates. */
  segments_analysed: number;
  tcp_packets: number;
  udp_packets: number;
  /** UDP packets by destination port (bounded; the rest under `other`). */
  udp_by_port: Readonly<Record<string, number>>;
}>;

/** The mutable counters behind FlowSnapshot; plain fields so the hot path only adds. */
export class FlowCounters {
  opened = 0;
  closed = 0;
  eventsSuppressed = 0;
  outOfWindow = 0;
  trackedPeak = 0;
  evicted = 0;
  expired = 0;
  readonly byState = new Map<ConnState, number>(CONN_STATES.map((s) => [s, 0]));
  resetsByTarget = 0;
  resetsByPeer = 0;
  refused = 0;
  unanswered = 0;
  abandoned = 0;
  synRetries = 0;
  zeroWindows = 0;
  retransmissions = 0;
  fastRetransmissions = 0;
  spuriousRetransmissions = 0;
  dupAcks = 0;
  outOfOrder = 0;
  zeroWindowProbes = 0;
  keepAlives = 0;
  rttCount = 0;
  rttSum = 0;
  rttMin = 0;
  rttMax = 0;
  segmentsAnalysed = 0;
  tcpPackets = 0;
  udpPackets = 0;
  udpOther = 0;
  readonly udpByPort = new Map<number, number>();

  countHandshakeRtt(us: number): void {
    if (us < 0) return; // timestamps out of order in a capture: not a measurement
    if (this.rttCount === 0 || us < this.rttMin) this.rttMin = us;
    if (us > this.rttMax) this.rttMax = us;
    this.rttCount++;
    this.rttSum += us;
  }

  countState(s: ConnState): void {
    this.byState.set(s, (this.byState.get(s) ?? 0) + 1);
  }

  countUdp(port: number, maxPorts: number): void {
    this.udpPackets++;
    const n = this.udpByPort.get(port);
    if (n !== undefined) this.udpByPort.set(port, n + 1);
    else if (this.udpByPort.size < maxPorts) this.udpByPort.set(port, 1);
    else this.udpOther++;
  }

  snapshot(sample: number, tracked: number): FlowSnapshot {
    const byState = Object.fromEntries(CONN_STATES.map((s) => [s, this.byState.get(s) ?? 0])) as Record<ConnState, number>;
    const udp: Record<string, number> = {};
    for (const [port, n] of [...this.udpByPort].sort((a, b) => b[1] - a[1])) udp[String(port)] = n;
    if (this.udpOther > 0) udp['other'] = this.udpOther;
    return Object.freeze({
      sample,
      sampled_figures: sample > 1 ? SAMPLED_FIGURES : [],
      connections_opened: this.opened,
      connections_closed: this.closed,
      connections_tracked: tracked,
      connections_tracked_peak: this.trackedPeak,
      connections_evicted: this.evicted,
      connections_expired: this.expired,
      by_state: Object.freeze(byState),
      resets_by_target: this.resetsByTarget,
      resets_by_peer: this.resetsByPeer,
      refused: this.refused,
      unanswered: this.unanswered,
      handshake_abandoned: this.abandoned,
      syn_retries: this.synRetries,
      zero_windows: this.zeroWindows,
      retransmissions: this.retransmissions,
      fast_retransmissions: this.fastRetransmissions,
      spurious_retransmissions: this.spuriousRetransmissions,
      duplicate_acks: this.dupAcks,
      out_of_order: this.outOfOrder,
      zero_window_probes: this.zeroWindowProbes,
      keep_alives: this.keepAlives,
      handshake_rtt_us: Object.freeze({ count: this.rttCount, sum: this.rttSum, min: this.rttMin, max: this.rttMax }),
      events_suppressed: this.eventsSuppressed,
      out_of_window_segments: this.outOfWindow,
      segments_analysed: this.segmentsAnalysed,
      tcp_packets: this.tcpPackets,
      udp_packets: this.udpPackets,
      udp_by_port: Object.freeze(udp),
    });
  }
}
