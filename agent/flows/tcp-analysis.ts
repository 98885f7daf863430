/**
 * Per-segment TCP analysis with tshark's definitions (Wireshark User's Guide,
 * "TCP Analysis"), so figures can be checked against `tshark -z expert` on the
 * same capture. Runs only for sampled flows; works modulo 2^32 (sequence wrap).
 */
import { TcpFlag, type PacketView } from '../decode/packet-view.js';
import type { Endpoint } from './tcp-connection.js';
import type { FlowCounters } from './flow-stats.js';

/** What the segment was found to be (one kind per segment, as tshark flags it). */
export const SegmentKind = {
  NORMAL: 0,
  RETRANSMISSION: 1,
  FAST_RETRANSMISSION: 2,
  SPURIOUS_RETRANSMISSION: 3,
  OUT_OF_ORDER: 4,
  KEEP_ALIVE: 5,
  KEEP_ALIVE_ACK: 6,
  ZERO_WINDOW_PROBE: 7,
  ZERO_WINDOW_PROBE_ACK: 8,
  DUPLICATE_ACK: 9,
  /** Over 1 GiB from the sender's next sequence number: forged or another incarnation (tcp-table.ts). */
  OUT_OF_WINDOW: 10,
} as const;
export type SegmentKind = (typeof SegmentKind)[keyof typeof SegmentKind];

/** tshark: a fast retransmission follows >= 2 duplicate ACKs by at most 20 ms. */
export const FAST_RETRANSMISSION_WINDOW_MICROS = 20_000;
/**
 * tshark's out-of-order threshold when the connection's initial RTT is not known: 3 ms
 * since the sender's highest sequence number last advanced. With a known initial RTT
 * (SYN to first ACK) tshark uses that instead: on a LAN or veth it is tens of µs.
 */
export const OUT_OF_ORDER_THRESHOLD_MICROS = 3_000;

const CONTROL = TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST;

/** a < b in sequence space (RFC 1982 serial arithmetic on 32 bits). */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/**
 * Classify one segment from `s` (sender) to `r` (receiver) before the sender's
 * state is advanced, and count it. Only called when the sender's sequence space
 * is known (s.seqInit). `at`: the packet's time on the connection's time base, as the
 * endpoints' ackAt and nextSeqAt (conn-columns.ts, TB), a 32-bit integer, so passing it
 * boxes nothing. `oooThresholdMicros`: the connection's initial RTT when known, else
 * OUT_OF_ORDER_THRESHOLD_MICROS (as tshark).
 */
export function analyseSegment(s: Endpoint, r: Endpoint, v: PacketView, c: FlowCounters, at: number,
  oooThresholdMicros: number = OUT_OF_ORDER_THRESHOLD_MICROS): SegmentKind {
  c.segmentsAnalysed++;
  const flags = v.tcpFlags;
  const ctl = (flags & CONTROL) !== 0;
  const syn = (flags & TcpFlag.SYN) !== 0;
  const fin = (flags & TcpFlag.FIN) !== 0;
  const len = v.payloadLen;
  const seq = v.seq;

  // Zero window probe: one byte at the next expected sequence number into a closed window.
  if (!ctl && len === 1 && seq === s.nextSeq && r.window === 0) {
    c.zeroWindowProbes++;
    return SegmentKind.ZERO_WINDOW_PROBE;
  }
  // Keep-alive: zero or one byte at next expected - 1 (so it is not a retransmission).
  if (!ctl && len <= 1 && seq === ((s.nextSeq - 1) >>> 0)) {
    c.keepAlives++;
    return SegmentKind.KEEP_ALIVE;
  }
  if ((len > 0 || syn || fin) && seqLt(seq, s.nextSeq)) {
    c.retransmissions++;
    const end = (seq + len) >>> 0;
    // tshark's order: fast retransmission, out-of-order, spurious, plain retransmission.
    // A time of 0 is none (never, or too long ago to matter): never within the window.
    const ackAt = r.ackAt;
    if (r.dupAcks >= 2 && r.lastAck === seq && ackAt !== 0 && at - ackAt <= FAST_RETRANSMISSION_WINDOW_MICROS) {
      c.fastRetransmissions++;
      return SegmentKind.FAST_RETRANSMISSION;
    }
    // A segment filling a hole soon after its successors: reordered, not resent. Not when it
    // ends exactly at the next expected byte (the last segment sent again).
    const advancedAt = s.nextSeqAt;
    const sinceAdvance = at - advancedAt;
    if (advancedAt !== 0 && sinceAdvance >= 0 && sinceAdvance < oooThresholdMicros && s.nextSeq !== end) {
      c.retransmissions--;
      c.outOfOrder++;
      return SegmentKind.OUT_OF_ORDER;
    }
    // Spurious: everything in it was already acknowledged by the receiver.
    if (len > 0 && r.ackInit && seqLe(end, r.lastAck)) {
      c.spuriousRetransmissions++;
      return SegmentKind.SPURIOUS_RETRANSMISSION;
    }
    return SegmentKind.RETRANSMISSION;
  }
  if (!ctl && len === 0 && (flags & TcpFlag.ACK) !== 0 && s.ackInit && v.ack === s.lastAck && seq === s.nextSeq) {
    // The answer to a keep-alive or a window probe repeats the ACK on purpose.
    if (r.lastKind === SegmentKind.KEEP_ALIVE) return SegmentKind.KEEP_ALIVE_ACK;
    if (r.lastKind === SegmentKind.ZERO_WINDOW_PROBE) return SegmentKind.ZERO_WINDOW_PROBE_ACK;
    if (v.window !== 0 && v.window === s.window) {
      s.dupAcks++;
      c.dupAcks++;
      return SegmentKind.DUPLICATE_ACK;
    }
  }
  return SegmentKind.NORMAL;
}

/** True for the kinds tshark flags as retransmissions (history letter 't'). */
export function isRetransmission(k: SegmentKind): boolean {
  return k === SegmentKind.RETRANSMISSION || k === SegmentKind.FAST_RETRANSMISSION || k === SegmentKind.SPURIOUS_RETRANSMISSION;
}
