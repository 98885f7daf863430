import { formatIp4, formatIp6, ip4Text, ip6Text, IpVersion } from '../decode/packet-view.js';
import { connState, EndpointState, type ConnState } from './conn-state.js';
import { Bytes, CB, CF, CI, CP, CU, EI, EP, TB } from './conn-columns.js';
import { APP_WORDS, CHUNK_MASK, NO_CHUNK, type ConnChunk, type ConnStore } from './conn-store.js';
import { Endpoint, endpointBytes } from './endpoint.js';
import { tableHash4, tableHash6 } from './flow-hash.js';

export { Endpoint } from './endpoint.js';

/** What classifiers and event code may read about a connection. */
export interface TcpConnection {
  readonly ipVersion: IpVersion;
  /** Originator address: IPv4 as an unsigned 32-bit integer (0 for IPv6). */
  readonly origIp4: number;
  readonly respIp4: number;
  /** Originator/responder IPv6 addresses (16 bytes each; empty for IPv4). Allocates a view: not per packet. */
  readonly origIp6: Uint8Array;
  readonly respIp6: Uint8Array;
  readonly origPort: number;
  readonly respPort: number;
  /**
   * True when the connection was seen from its start: its first packet was a SYN or a SYN-ACK, so
   * the originator is known. False: picked up midstream (the capture began after its handshake,
   * or it left the table and came back), the originator guessed from ports.
   */
  readonly synSeen: boolean;
  /** True when the originator is this instance (an outgoing connection). */
  readonly localIsOriginator: boolean;
  readonly firstSeenMicros: number;
  readonly lastSeenMicros: number;
  /** Zeek-style history letters (upper case originator, lower case responder). */
  readonly history: string;
  /** history.indexOf(letter) without making the string. */
  historyIndexOf(letter: string): number;
  /** Payload bytes sent by each side, in sequence space. */
  readonly bytesOrig: number;
  readonly bytesResp: number;
  /** True when per-segment analysis runs for this flow (the -s sample). */
  readonly sampled: boolean;
  /** The connection state now, in Zeek's vocabulary. */
  readonly state: ConnState;
  /** Free slot for classifier state; cleared when the connection leaves the table. */
  app: unknown;
  /**
   * Three 32-bit words for classifier state beside `app` (0 until set; cleared with it):
   * state that can rest between segments without an object. Absent outside a table.
   */
  appWord?(i: 0 | 1 | 2): number;
  setAppWords?(w0: number, w1: number, w2: number): void;
  /** The connection's index in its table: the same for as long as it stays there. */
  readonly index: number;
  /**
   * A view of the same table for reading a connection later by its index (state kept across
   * calls reads its connection's addresses there instead of copying them). One view per table,
   * shared: point it and read it at once. Absent for a connection outside any table.
   */
  reader?(): ConnectionReader;
}

/** Reads any connection of one table by its index (TcpConnection.reader). */
export interface ConnectionReader {
  point(index: number): TcpConnection;
}

/** Lists a connection can be on; each list is ordered by last-seen time. */
export const ConnList = { NONE: 0, HANDSHAKE: 1, ACTIVE: 2, CLOSING: 3, FAILED: 4 } as const;
export type ConnList = (typeof ConnList)[keyof typeof ConnList];

/** History letter of each code (5 bits, conn-columns.ts Bytes.HIST): upper case originator, lower case responder. */
const HISTORY_CHARS = ' SHADFRTWIQ      shadfrtwiq';
/** Letters a history holds: each of the ten at most once per side. */
const HIST_LETTERS = 20;
/** Code of a letter's bit (H_* in tcp-table.ts: 1 << n) for the originator; +16 for the responder. */
function historyCode(bit: number, fromOrig: boolean): number {
  return 31 - Math.clz32(bit) + 1 + (fromOrig ? 0 : 16);
}

/**
 * A view of one connection in the store: the table points a few of these at
 * connection indexes (no object per connection, see conn-store.ts). Handed to
 * observers and event code, it is valid during the call only; what a classifier
 * keeps goes in `app`, which stays with the connection.
 */
export class Connection implements TcpConnection {
  readonly #s: ConnStore;
  #c: ConnChunk;
  #slot = 0;
  /** The connection index this view points at (-1: none yet). */
  index = -1;
  readonly #orig = new Endpoint();
  readonly #resp = new Endpoint();

  constructor(store: ConnStore) {
    this.#s = store;
    this.#c = NO_CHUNK;
  }

  /** The store's reader view (TcpConnection.reader). */
  reader(): Connection {
    return (this.#s.reader ??= new Connection(this.#s));
  }

  /** Point this view, and its two endpoint cursors, at connection `index` (making its chunk if needed). */
  point(index: number): this {
    this.index = index;
    const c = this.#s.chunkOf(index);
    const slot = index & CHUNK_MASK;
    this.#c = c;
    this.#slot = slot;
    this.#orig.point(c, slot * 2);
    this.#resp.point(c, slot * 2 + 1);
    return this;
  }

  // The accessors below read the columns in place and call nothing, so V8 always inlines
  // them (see conn-columns.ts): they are on the per-packet path.

  /** The originator's side (this view's own cursor, valid until the view is pointed elsewhere). */
  get orig(): Endpoint { return this.#orig; }
  /** The responder's side. */
  get resp(): Endpoint { return this.#resp; }

  // Direct reads (no cursor), safe to call from observers in the middle of an update.
  #state(side: number): EndpointState {
    return (((this.#c.ei32[(this.#slot * 2 + side) * EI.STRIDE + EI.PACK] as number) >>> EP.STATE_SHIFT) & EP.STATE_MASK) as EndpointState;
  }
  #bytes(side: number): number { return endpointBytes(this.#c, this.#slot * 2 + side); }
  #setBit(bit: number, on: boolean): void {
    const k = this.#slot * CI.STRIDE + CI.BITS;
    const b = this.#c.ci32[k] as number;
    this.#c.ci32[k] = on ? b | bit : b & ~bit;
  }

  get ipVersion(): IpVersion { return ((this.#c.ci32[this.#slot * CI.STRIDE + CI.BITS] as number) & CB.V6) !== 0 ? IpVersion.V6 : IpVersion.V4; }
  set ipVersion(v: IpVersion) { this.#setBit(CB.V6, v === IpVersion.V6); }
  get origPort(): number { return (this.#c.ci32[this.#slot * CI.STRIDE + CI.PORTS] as number) >>> CP.ORIG_SHIFT; }
  get respPort(): number { return (this.#c.ci32[this.#slot * CI.STRIDE + CI.PORTS] as number) & CP.RESP_MASK; }
  /** Both ports at once (one word): the originator's and the responder's. */
  setPorts(orig: number, resp: number): void { this.#c.ci32[this.#slot * CI.STRIDE + CI.PORTS] = (orig << CP.ORIG_SHIFT) | (resp & CP.RESP_MASK); }
  get synSeen(): boolean { return ((this.#c.ci32[this.#slot * CI.STRIDE + CI.BITS] as number) & CB.SYN_SEEN) !== 0; }
  set synSeen(v: boolean) { this.#setBit(CB.SYN_SEEN, v); }
  get localIsOriginator(): boolean { return ((this.#c.ci32[this.#slot * CI.STRIDE + CI.BITS] as number) & CB.LOCAL_ORIG) !== 0; }
  set localIsOriginator(v: boolean) { this.#setBit(CB.LOCAL_ORIG, v); }
  get sampled(): boolean { return ((this.#c.ci32[this.#slot * CI.STRIDE + CI.BITS] as number) & CB.SAMPLED) !== 0; }
  set sampled(v: boolean) { this.#setBit(CB.SAMPLED, v); }
  /** An event was made for this connection (reset, refused, unanswered or abandoned). */
  get reported(): boolean { return ((this.#c.ci32[this.#slot * CI.STRIDE + CI.BITS] as number) & CB.REPORTED) !== 0; }
  set reported(v: boolean) { this.#setBit(CB.REPORTED, v); }
  /** The originator acknowledged the SYN-ACK (or data flowed): no longer a handshake in progress. */
  get handshakeDone(): boolean { return ((this.#c.ci32[this.#slot * CI.STRIDE + CI.BITS] as number) & CB.HANDSHAKE_DONE) !== 0; }
  set handshakeDone(v: boolean) { this.#setBit(CB.HANDSHAKE_DONE, v); }
  /** The list (ConnList) the connection is on. */
  get list(): ConnList { return (((this.#c.ci32[this.#slot * CI.STRIDE + CI.BITS] as number) >>> CI.LIST_SHIFT) & CI.LIST_MASK) as ConnList; }
  /** The epoch of the endpoint times' base (conn-columns.ts, TB). */
  get timeEpoch(): number { return (this.#c.ci32[this.#slot * CI.STRIDE + CI.BITS] as number) >>> CI.EPOCH_SHIFT; }

  /**
   * A packet `at` µs after the time base, past TB.MAX: advance the epoch until it fits,
   * move both sides' times down with it (one that falls below 1 becomes none), and return
   * `at` from the new base. Beyond the last epoch (a clock that jumped centuries) the times
   * become none and the base stays: `at` is returned unchanged, and the caller keeps no time.
   */
  rebaseTimes(at: number): number {
    const steps = Math.ceil((at - TB.MAX) / TB.STEP);
    const k = this.#slot * CI.STRIDE + CI.BITS;
    const ci = this.#c.ci32;
    const epoch = ((ci[k] as number) >>> CI.EPOCH_SHIFT) + steps;
    const fits = epoch <= CI.EPOCH_MAX;
    const shift = fits ? steps * TB.STEP : 0;
    const ei = this.#c.ei32;
    for (let e = this.#slot * 2; e < this.#slot * 2 + 2; e++) {
      for (let f = EI.ACK_AT; f <= EI.NEXT_SEQ_AT; f++) {
        const t = ei[e * EI.STRIDE + f] as number;
        ei[e * EI.STRIDE + f] = fits && t - shift >= 1 ? t - shift : 0;
      }
    }
    if (fits) ci[k] = ((ci[k] as number) & ((1 << CI.EPOCH_SHIFT) - 1)) | (epoch << CI.EPOCH_SHIFT);
    return at - shift;
  }

  get app(): unknown {
    const a = this.#c.apps;
    return a === undefined ? undefined : a[this.#slot];
  }
  set app(v: unknown) { this.#c.setApp(this.#slot, v); }

  /** Zeek-style history (allocates a string: for events, summaries and final states only). */
  get history(): string {
    let out = '';
    for (let i = 0; i < HIST_LETTERS; i++) {
      const code = this.#histCode(i);
      if (code === 0) break;
      out += HISTORY_CHARS[code] ?? '?';
    }
    return out;
  }

  historyIndexOf(letter: string): number {
    const code = HISTORY_CHARS.indexOf(letter);
    for (let i = 0; i < HIST_LETTERS; i++) {
      const c = this.#histCode(i);
      if (c === 0) return -1;
      if (c === code) return i;
    }
    return -1;
  }

  /** Append a history letter (its H_* bit) for a side; the table writes each at most once per side. */
  addHistory(bit: number, fromOrig: boolean): void {
    for (let i = 0; i < HIST_LETTERS; i++) {
      if (this.#histCode(i) === 0) { this.#setHistCode(i, historyCode(bit, fromOrig)); return; }
    }
  }

  // History letter i is the 5-bit code at bit 5i of the slot's Bytes.HIST bytes (little-endian),
  // read and written through the 16 bits that hold it.
  #histCode(i: number): number {
    const bit = i * 5;
    const k = this.#slot * Bytes.HIST + (bit >>> 3);
    const h = this.#c.hist;
    return (((h[k] as number) | ((h[k + 1] as number) << 8)) >>> (bit & 7)) & 0x1f;
  }
  #setHistCode(i: number, code: number): void {
    const bit = i * 5;
    const k = this.#slot * Bytes.HIST + (bit >>> 3);
    const h = this.#c.hist;
    const w = (h[k] as number) | ((h[k + 1] as number) << 8) | (code << (bit & 7));
    h[k] = w & 0xff;
    h[k + 1] = w >>> 8;
  }

  get origIp4(): number { return this.#c.cu32[this.#slot * CU.STRIDE + CU.ORIG_IP4] as number; }
  set origIp4(v: number) { this.#c.cu32[this.#slot * CU.STRIDE + CU.ORIG_IP4] = v; }
  get respIp4(): number { return this.#c.cu32[this.#slot * CU.STRIDE + CU.RESP_IP4] as number; }
  set respIp4(v: number) { this.#c.cu32[this.#slot * CU.STRIDE + CU.RESP_IP4] = v; }
  /**
   * The table hash of the connection's 5-tuple (flow-hash.ts; the same for both directions), as a
   * signed 32-bit integer. Worked out again when the connection leaves the table rather than kept:
   * 4 bytes less per connection, and a lookup compares the 5-tuple, which it must do anyway.
   */
  get tableHash(): number {
    if (this.ipVersion === IpVersion.V4) return tableHash4(this.origIp4, this.respIp4, this.origPort, this.respPort) | 0;
    const base = this.#slot * Bytes.V6;
    return tableHash6(this.#c.v6, base, base + 16, this.origPort, this.respPort) | 0;
  }
  /** The columns and slot this view points at, for the table's hot path (plain loads, no boxed numbers). */
  get chunk(): ConnChunk { return this.#c; }
  get slot(): number { return this.#slot; }
  get firstSeenMicros(): number { return this.#c.cf64[this.#slot * CF.STRIDE + CF.FIRST_SEEN] as number; }
  set firstSeenMicros(v: number) { this.#c.cf64[this.#slot * CF.STRIDE + CF.FIRST_SEEN] = v; }
  get lastSeenMicros(): number { return this.#c.cf64[this.#slot * CF.STRIDE + CF.LAST_SEEN] as number; }
  set lastSeenMicros(v: number) { this.#c.cf64[this.#slot * CF.STRIDE + CF.LAST_SEEN] = v; }
  /** Time of the responder's latest SYN-ACK (0: none), for the handshake RTT. */
  get synAckMicros(): number { return this.#time(CU.SYNACK_AT); }
  set synAckMicros(v: number) { this.#setTime(CU.SYNACK_AT, v); }
  /** Time of the latest SYN without ACK (0: none): tshark's ts_mru_syn. */
  get mruSynMicros(): number { return this.#time(CU.MRU_SYN_AT); }
  set mruSynMicros(v: number) { this.#setTime(CU.MRU_SYN_AT, v); }
  /**
   * SYN to the first segment with ACK and without SYN (0: not known): tshark's
   * ts_first_rtt, its out-of-order threshold for this connection.
   */
  get firstRttMicros(): number { return this.#c.cu32[this.#slot * CU.STRIDE + CU.FIRST_RTT] as number; }
  set firstRttMicros(v: number) { this.#c.cu32[this.#slot * CU.STRIDE + CU.FIRST_RTT] = Math.min(Math.max(0, v), 0xffffffff); }

  /** A handshake time kept as µs after firstSeen + 1 in 32 bits (0: none). */
  #time(field: number): number {
    const d = this.#c.cu32[this.#slot * CU.STRIDE + field] as number;
    return d === 0 ? 0 : this.firstSeenMicros + d - 1;
  }
  #setTime(field: number, micros: number): void {
    const d = micros - this.firstSeenMicros + 1;
    // Out of range (before the first packet, or over 71 minutes after it): not kept.
    this.#c.cu32[this.#slot * CU.STRIDE + field] = micros > 0 && d >= 1 && d <= 0xffffffff ? d : 0;
  }

  /** The originator's IPv6 address (a fresh view: allocates, not for the hot path). */
  get origIp6(): Uint8Array {
    return this.ipVersion === IpVersion.V6 ? this.#c.v6.subarray(this.#slot * Bytes.V6, this.#slot * Bytes.V6 + 16) : EMPTY;
  }
  get respIp6(): Uint8Array {
    return this.ipVersion === IpVersion.V6 ? this.#c.v6.subarray(this.#slot * Bytes.V6 + 16, this.#slot * Bytes.V6 + 32) : EMPTY;
  }

  /** Copy the two IPv6 addresses (16 bytes each) from a packet. */
  setIp6(buf: Uint8Array, origOff: number, respOff: number): void {
    const v6 = this.#c.v6;
    const base = this.#slot * Bytes.V6;
    for (let i = 0; i < 16; i++) {
      v6[base + i] = buf[origOff + i] as number;
      v6[base + 16 + i] = buf[respOff + i] as number;
    }
  }

  /** Does the IPv6 address at buf[off] equal the originator's (side 0) or responder's (side 16)? */
  eq6(buf: Uint8Array, off: number, side: 0 | 16): boolean {
    const v6 = this.#c.v6;
    const base = this.#slot * Bytes.V6 + side;
    for (let i = 0; i < 16; i++) if (buf[off + i] !== v6[base + i]) return false;
    return true;
  }

  /** The store and offset of an IPv6 address, for LocalAddresses.has6 without a copy. */
  ip6Ref(side: 0 | 16): readonly [Uint8Array, number] {
    return [this.#c.v6, this.#slot * Bytes.V6 + side];
  }

  get bytesOrig(): number { return this.#bytes(0); }
  get bytesResp(): number { return this.#bytes(1); }

  get state(): ConnState {
    const os = this.#state(0);
    const rs = this.#state(1);
    // Only RSTOS0 looks at the history: skip building the string otherwise.
    const needsHistory = os === EndpointState.RESET && rs !== EndpointState.RESET;
    return connState(os, rs, this.#bytes(0), this.#bytes(1), needsHistory ? this.history : '');
  }

  appWord(i: 0 | 1 | 2): number { return this.#c.appWord(this.#slot, i); }
  setAppWords(w0: number, w1: number, w2: number): void {
    const w = this.#c.appWords;
    const k = this.#slot * APP_WORDS;
    w[k] = w0;
    w[k + 1] = w1;
    w[k + 2] = w2;
  }

  /** Zero the connection's columns and classifier slot, before its index is reused. */
  clear(): void {
    this.#c.clear(this.#slot);
  }
}

const EMPTY = new Uint8Array(0);

/** Printable addresses of a connection. Allocates: only for events and summaries. */
export type ConnAddresses = { origIp: string; origPort: number; respIp: string; respPort: number };

/** The originator's address as text. */
export function origIpText(c: TcpConnection): string {
  return c.ipVersion === IpVersion.V4 ? formatIp4(c.origIp4) : formatIp6(c.origIp6, 0);
}

/**
 * The originator's and responder's address texts for state kept as long as the connection,
 * through ip4Text's and ip6Text's caches (a connection's addresses are mostly the same few). Not for texts
 * made once and dropped (a SYN flood's million sources): a cached text outlives a young
 * collection and is promoted, where a fresh one dies young.
 */
export function keptIpText(c: TcpConnection, originator: boolean): string {
  if (c.ipVersion === IpVersion.V4) return ip4Text(originator ? c.origIp4 : c.respIp4);
  // A table's view: the address where it lies (origIp6 and respIp6 make a view each).
  if (c instanceof Connection) return ip6Text(c.chunk.v6, c.slot * Bytes.V6 + (originator ? 0 : 16));
  return ip6Text(originator ? c.origIp6 : c.respIp6, 0);
}

export function connAddresses(c: TcpConnection): ConnAddresses {
  const v4 = c.ipVersion === IpVersion.V4;
  return {
    origIp: origIpText(c),
    origPort: c.origPort,
    respIp: v4 ? formatIp4(c.respIp4) : formatIp6(c.respIp6, 0),
    respPort: c.respPort,
  };
}

/** "ip:port" with IPv6 in brackets, as in a URL. */
export function endpointString(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
