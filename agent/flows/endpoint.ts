import { EI, EP, EU, EW } from './conn-columns.js';
import type { EndpointState } from './conn-state.js';
import type { ConnChunk } from './conn-store.js';

/**
 * One direction of a connection: what its sender did. A cursor over the store's
 * columns: each Connection view owns two (originator, responder) and points them
 * with itself, so no connection carries endpoint objects. Valid until that view
 * is pointed at another connection.
 */
export class Endpoint {
  #u: Uint32Array = EMPTY_U32;
  #i: Int32Array = EMPTY_I32;
  #e = 0;

  point(chunk: ConnChunk, endpointIndex: number): this {
    this.#u = chunk.eu32;
    this.#i = chunk.ei32;
    this.#e = endpointIndex;
    return this;
  }

  // The getters read the packed word (EI.PACK, the endpoint's first Int32 field) in place
  // rather than through a helper: a getter that calls nothing stays small enough for V8
  // to always inline it (see conn-columns.ts).

  /** Zeek endpoint state (EndpointState). */
  get state(): EndpointState { return (((this.#i[this.#e * EI.STRIDE] as number) >>> EP.STATE_SHIFT) & EP.STATE_MASK) as EndpointState; }
  set state(v: EndpointState) { this.#put(EP.STATE_SHIFT, EP.STATE_MASK, v); }
  /** History letters already written for this side (bit per letter). */
  get historyBits(): number { return ((this.#i[this.#e * EI.STRIDE] as number) >>> EP.HISTORY_SHIFT) & EP.HISTORY_MASK; }
  set historyBits(v: number) { this.#put(EP.HISTORY_SHIFT, EP.HISTORY_MASK, v); }
  /** Sequence number of this side's SYN (or first segment), valid when seqInit. */
  get isn(): number { return this.#u[this.#e * EU.STRIDE + EU.ISN] as number; }
  set isn(v: number) { this.#u[this.#e * EU.STRIDE + EU.ISN] = v; }
  /** Highest sequence number sent plus one ("next expected"), modulo 2^32. */
  get nextSeq(): number { return this.#u[this.#e * EU.STRIDE + EU.NEXT_SEQ] as number; }
  set nextSeq(v: number) { this.#u[this.#e * EU.STRIDE + EU.NEXT_SEQ] = v; }
  /** Sequence number of the previous segment, to tell out-of-order from a repeated segment. */
  get lastSeq(): number { return this.#u[this.#e * EU.STRIDE + EU.LAST_SEQ] as number; }
  set lastSeq(v: number) { this.#u[this.#e * EU.STRIDE + EU.LAST_SEQ] = v; }
  /** Last acknowledgement number this side sent, valid when ackInit. */
  get lastAck(): number { return this.#u[this.#e * EU.STRIDE + EU.LAST_ACK] as number; }
  set lastAck(v: number) { this.#u[this.#e * EU.STRIDE + EU.LAST_ACK] = v; }
  get seqInit(): boolean { return ((this.#i[this.#e * EI.STRIDE] as number) & Bit.SEQ_INIT) !== 0; }
  set seqInit(v: boolean) { this.#flag(Bit.SEQ_INIT, v); }
  get ackInit(): boolean { return ((this.#i[this.#e * EI.STRIDE] as number) & Bit.ACK_INIT) !== 0; }
  set ackInit(v: boolean) { this.#flag(Bit.ACK_INIT, v); }
  /** When this side's last ACK was seen: µs after the connection's time base, 0 = none (conn-columns.ts, TB). */
  get ackAt(): number { return this.#i[this.#e * EI.STRIDE + EI.ACK_AT] as number; }
  set ackAt(v: number) { this.#i[this.#e * EI.STRIDE + EI.ACK_AT] = v; }
  /** When nextSeq last advanced (tshark's nextseqtime), as ackAt: the out-of-order clock starts there. */
  get nextSeqAt(): number { return this.#i[this.#e * EI.STRIDE + EI.NEXT_SEQ_AT] as number; }
  set nextSeqAt(v: number) { this.#i[this.#e * EI.STRIDE + EI.NEXT_SEQ_AT] = v; }
  /** Payload bytes in sequence space (gaps included, retransmissions not counted twice); see EW. */
  get bytes(): number { return bytesOf(this.#i, this.#u, this.#e); }
  /** Count `n` (0 <= n < 2^32) more payload bytes; the carry goes to the high bits (EW). */
  addBytes(n: number): void {
    const k = this.#e * EU.STRIDE + EU.BYTES_LO;
    const lo = (this.#u[k] as number) + n;
    this.#u[k] = lo;
    if (lo > 0xffffffff) this.#carry();
  }
  /** The low word wrapped: one more in the high bits, or, at their maximum, stay at 2^47 - 1. */
  #carry(): void {
    const k = this.#e * EI.STRIDE + EI.WINDOW;
    const w = this.#i[k] as number;
    const high = w >>> EW.HIGH_SHIFT;
    if (high < EW.HIGH_MAX) this.#i[k] = (w & EW.WINDOW_MASK) | ((high + 1) << EW.HIGH_SHIFT);
    else this.#u[this.#e * EU.STRIDE + EU.BYTES_LO] = 0xffffffff;
  }
  /** Consecutive duplicate ACKs this side sent for lastAck (saturating at 3: the analysis asks for two). */
  get dupAcks(): number { return ((this.#i[this.#e * EI.STRIDE] as number) >>> EP.DUP_SHIFT) & EP.DUP_MASK; }
  set dupAcks(v: number) { this.#put(EP.DUP_SHIFT, EP.DUP_MASK, v); }
  /** Raw window of this side's last segment; -1 before the first one (stored plus one: a cleared slot reads -1). */
  get window(): number { return ((this.#i[this.#e * EI.STRIDE + EI.WINDOW] as number) & EW.WINDOW_MASK) - 1; }
  set window(v: number) {
    const k = this.#e * EI.STRIDE + EI.WINDOW;
    this.#i[k] = ((this.#i[k] as number) & ~EW.WINDOW_MASK) | (v + 1);
  }
  /** SYN (or SYN-ACK) segments sent: more than one means retries (saturating at 2047). */
  get syns(): number { return ((this.#i[this.#e * EI.STRIDE] as number) >>> EP.SYNS_SHIFT) & EP.SYNS_MASK; }
  set syns(v: number) { this.#put(EP.SYNS_SHIFT, EP.SYNS_MASK, v); }
  /** SegmentKind of this side's previous analysed segment (keep-alive and probe ACKs). */
  get lastKind(): number { return ((this.#i[this.#e * EI.STRIDE] as number) >>> EP.KIND_SHIFT) & EP.KIND_MASK; }
  set lastKind(v: number) { this.#put(EP.KIND_SHIFT, EP.KIND_MASK, v); }

  /** Write a field of the packed word; a value above the field's mask is kept as the mask (saturates). */
  #put(shift: number, mask: number, v: number): void {
    const k = this.#e * EI.STRIDE + EI.PACK;
    this.#i[k] = ((this.#i[k] as number) & ~(mask << shift)) | ((v < mask ? v & mask : mask) << shift);
  }
  #flag(bit: number, on: boolean): void {
    const k = this.#e * EI.STRIDE + EI.PACK;
    const p = this.#i[k] as number;
    this.#i[k] = on ? p | bit : p & ~bit;
  }
}

/** Payload bytes of endpoint `e` in a chunk (EW: high bits in the window word, low word in EU.BYTES_LO). */
export function endpointBytes(chunk: ConnChunk, e: number): number {
  return bytesOf(chunk.ei32, chunk.eu32, e);
}

function bytesOf(i: Int32Array, u: Uint32Array, e: number): number {
  return ((i[e * EI.STRIDE + EI.WINDOW] as number) >>> EW.HIGH_SHIFT) * 0x100000000 + (u[e * EU.STRIDE + EU.BYTES_LO] as number);
}

/** The two flags of EP's FLAGS field, as bits of the packed word. */
const enum Bit { SEQ_INIT = 1 << EP.FLAGS_SHIFT, ACK_INIT = 2 << EP.FLAGS_SHIFT }
const EMPTY_U32 = new Uint32Array(0);
const EMPTY_I32 = new Int32Array(0);
