import { formatIp4, formatIp6, IpVersion } from '../decode/packet-view.js';
import { connState, EndpointState, type ConnState } from './conn-state.js';
import { CF, CF_STRIDE, CU, CU_STRIDE, EF, EF_STRIDE, EI, EI_STRIDE, V6_STRIDE } from './conn-columns.js';
import { CHUNK_SLOTS, type ConnChunk, type ConnStore } from './conn-store.js';
import type { Endpoint } from './endpoint.js';

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
  /** True when the originator is known from its SYN (false: guessed from ports). */
  readonly synSeen: boolean;
  /** True when the originator is this instance (an outgoing connection). */
  readonly localIsOriginator: boolean;
  readonly firstSeenMicros: number;
  readonly lastSeenMicros: number;
  /** Zeek-style history letters (upper case originator, lower case responder). */
  readonly history: string;
  /** Payload bytes sent by each side, in sequence space. */
  readonly bytesOrig: number;
  readonly bytesResp: number;
  /** True when per-segment analysis runs for this flow (the -s sample). */
  readonly sampled: boolean;
  /** The connection state now, in Zeek's vocabulary. */
  readonly state: ConnState;
  /** Free slot for classifier state; cleared when the connection leaves the table. */
  app: unknown;
}

/** Lists a connection can be on; each list is ordered by last-seen time. */
export const ConnList = { NONE: 0, HANDSHAKE: 1, ACTIVE: 2, CLOSING: 3, FAILED: 4 } as const;
export type ConnList = (typeof ConnList)[keyof typeof ConnList];

/** The table's record of one connection: pooled and reused, never allocated per packet. */
export class Connection implements TcpConnection {
  readonly #store: ConnChunk;
  readonly #cursors: ConnStore;
  /** Index of this connection's columns in its chunk; fixed for the object's life. */
  readonly slot: number;
  ipVersion: IpVersion = IpVersion.V4;
  origPort = 0;
  respPort = 0;
  synSeen = false;
  localIsOriginator = false;
  history = '';
  sampled = false;
  app: unknown = undefined;
  /** An event was made for this connection (reset, refused, unanswered or abandoned). */
  reported = false;
  /** The originator acknowledged the SYN-ACK (or data flowed): no longer a handshake in progress. */
  handshakeDone = false;

  // Intrusive links: hash-bucket chain and the time-ordered expiry list.
  hashNext: Connection | null = null;
  prev: Connection | null = null;
  next: Connection | null = null;
  list: ConnList = ConnList.NONE;

  constructor(store: ConnStore, tableSlot: number) {
    const slot = tableSlot % CHUNK_SLOTS;
    this.#store = store.chunkOf(tableSlot);
    this.#cursors = store;
    this.slot = slot;
    this.orig.reset();
    this.resp.reset();
  }

  /** The originator's side (the store's shared originator cursor, pointed here). */
  get orig(): Endpoint { return this.#cursors.origCursor.point(this.#store, this.slot * 2); }
  /** The responder's side (the store's shared responder cursor, pointed here). */
  get resp(): Endpoint { return this.#cursors.respCursor.point(this.#store, this.slot * 2 + 1); }

  // Direct reads (no cursor), safe to call from observers in the middle of an update.
  #ei(side: number, field: number): number { return this.#store.ei32[(this.slot * 2 + side) * EI_STRIDE + field] as number; }
  #bytes(side: number): number { return this.#store.ef64[(this.slot * 2 + side) * EF_STRIDE + EF.BYTES] as number; }

  get origIp4(): number { return this.#store.cu32[this.slot * CU_STRIDE + CU.ORIG_IP4] as number; }
  set origIp4(v: number) { this.#store.cu32[this.slot * CU_STRIDE + CU.ORIG_IP4] = v; }
  get respIp4(): number { return this.#store.cu32[this.slot * CU_STRIDE + CU.RESP_IP4] as number; }
  set respIp4(v: number) { this.#store.cu32[this.slot * CU_STRIDE + CU.RESP_IP4] = v; }
  get hash(): number { return this.#store.cu32[this.slot * CU_STRIDE + CU.HASH] as number; }
  set hash(v: number) { this.#store.cu32[this.slot * CU_STRIDE + CU.HASH] = v; }
  get firstSeenMicros(): number { return this.#store.cf64[this.slot * CF_STRIDE + CF.FIRST_SEEN] as number; }
  set firstSeenMicros(v: number) { this.#store.cf64[this.slot * CF_STRIDE + CF.FIRST_SEEN] = v; }
  get lastSeenMicros(): number { return this.#store.cf64[this.slot * CF_STRIDE + CF.LAST_SEEN] as number; }
  set lastSeenMicros(v: number) { this.#store.cf64[this.slot * CF_STRIDE + CF.LAST_SEEN] = v; }
  /** Time of the responder's latest SYN-ACK (0: none), for the handshake RTT. */
  get synAckMicros(): number { return this.#store.cf64[this.slot * CF_STRIDE + CF.SYNACK_AT] as number; }
  set synAckMicros(v: number) { this.#store.cf64[this.slot * CF_STRIDE + CF.SYNACK_AT] = v; }
  /** Time of the latest SYN without ACK (0: none): tshark's ts_mru_syn. */
  get mruSynMicros(): number { return this.#store.cf64[this.slot * CF_STRIDE + CF.MRU_SYN_AT] as number; }
  set mruSynMicros(v: number) { this.#store.cf64[this.slot * CF_STRIDE + CF.MRU_SYN_AT] = v; }
  /**
   * SYN to the first segment with ACK and without SYN (0: not known): tshark's
   * ts_first_rtt, its out-of-order threshold for this connection.
   */
  get firstRttMicros(): number { return this.#store.cf64[this.slot * CF_STRIDE + CF.FIRST_RTT] as number; }
  set firstRttMicros(v: number) { this.#store.cf64[this.slot * CF_STRIDE + CF.FIRST_RTT] = v; }

  /** The originator's IPv6 address (a fresh view: allocates, not for the hot path). */
  get origIp6(): Uint8Array {
    return this.ipVersion === IpVersion.V6 ? this.#store.v6.subarray(this.slot * V6_STRIDE, this.slot * V6_STRIDE + 16) : EMPTY;
  }
  get respIp6(): Uint8Array {
    return this.ipVersion === IpVersion.V6 ? this.#store.v6.subarray(this.slot * V6_STRIDE + 16, this.slot * V6_STRIDE + 32) : EMPTY;
  }

  /** Copy the two IPv6 addresses (16 bytes each) from a packet. */
  setIp6(buf: Uint8Array, origOff: number, respOff: number): void {
    const v6 = this.#store.v6;
    const base = this.slot * V6_STRIDE;
    for (let i = 0; i < 16; i++) {
      v6[base + i] = buf[origOff + i] as number;
      v6[base + 16 + i] = buf[respOff + i] as number;
    }
  }

  /** Does the IPv6 address at buf[off] equal the originator's (side 0) or responder's (side 16)? */
  eq6(buf: Uint8Array, off: number, side: 0 | 16): boolean {
    const v6 = this.#store.v6;
    const base = this.slot * V6_STRIDE + side;
    for (let i = 0; i < 16; i++) if (buf[off + i] !== v6[base + i]) return false;
    return true;
  }

  /** The store and offset of an IPv6 address, for LocalAddresses.has6 without a copy. */
  ip6Ref(side: 0 | 16): readonly [Uint8Array, number] {
    return [this.#store.v6, this.slot * V6_STRIDE + side];
  }

  get bytesOrig(): number { return this.#bytes(0); }
  get bytesResp(): number { return this.#bytes(1); }

  get state(): ConnState {
    return connState(this.#ei(0, EI.STATE) as EndpointState, this.#ei(1, EI.STATE) as EndpointState, this.#bytes(0), this.#bytes(1), this.history);
  }

  clear(): void {
    this.#store.clear(this.slot);
    this.ipVersion = IpVersion.V4;
    this.origPort = 0;
    this.respPort = 0;
    this.synSeen = false;
    this.localIsOriginator = false;
    this.history = '';
    this.sampled = false;
    this.app = undefined;
    this.orig.reset();
    this.resp.reset();
    this.reported = false;
    this.handshakeDone = false;
    this.hashNext = null;
    this.prev = null;
    this.next = null;
    this.list = ConnList.NONE;
  }
}

const EMPTY = new Uint8Array(0);

/** Printable addresses of a connection. Allocates: only for events and summaries. */
export type ConnAddresses = { origIp: string; origPort: number; respIp: string; respPort: number };

export function connAddresses(c: TcpConnection): ConnAddresses {
  const v4 = c.ipVersion === IpVersion.V4;
  return {
    origIp: v4 ? formatIp4(c.origIp4) : formatIp6(c.origIp6, 0),
    origPort: c.origPort,
    respIp: v4 ? formatIp4(c.respIp4) : formatIp6(c.respIp6, 0),
    respPort: c.respPort,
  };
}

/** "ip:port" with IPv6 in brackets, as in a URL. */
export function endpointString(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
