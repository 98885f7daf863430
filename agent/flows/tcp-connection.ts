import { formatIp4, formatIp6, IpVersion } from '../decode/packet-view.js';
import { connState, EndpointState, type ConnState } from './conn-state.js';

/** One direction of a connection: what its sender did. Reused with its connection. */
export class Endpoint {
  state: EndpointState = EndpointState.INACTIVE;
  /** History letters already written for this side (bit per letter, see HistoryBit). */
  historyBits = 0;
  /** Sequence number of this side's SYN (or first segment), valid when seqInit. */
  isn = 0;
  /** Highest sequence number sent plus one ("next expected"), modulo 2^32. */
  nextSeq = 0;
  seqInit = false;
  /** Sequence number of the previous segment, to tell OOO from a repeated segment. */
  lastSeq = 0;
  /** Last acknowledgement number this side sent, valid when ackInit. */
  lastAck = 0;
  ackInit = false;
  lastAckMicros = 0;
  /** Consecutive duplicate ACKs this side sent for lastAck. */
  dupAcks = 0;
  /** Raw window of this side's last segment; -1 before the first one. */
  window = -1;
  lastSegMicros = 0;
  /** Payload bytes in sequence space (gaps included, retransmissions not counted twice). */
  bytes = 0;
  /** SYN (or SYN-ACK) segments sent: more than one means retries. */
  syns = 0;
  /** SegmentKind of this side's previous analysed segment (keep-alive and probe ACKs). */
  lastKind = 0;

  reset(): void {
    this.state = EndpointState.INACTIVE;
    this.historyBits = 0;
    this.isn = 0;
    this.nextSeq = 0;
    this.seqInit = false;
    this.lastSeq = 0;
    this.lastAck = 0;
    this.ackInit = false;
    this.lastAckMicros = 0;
    this.dupAcks = 0;
    this.window = -1;
    this.lastSegMicros = 0;
    this.bytes = 0;
    this.syns = 0;
    this.lastKind = 0;
  }
}

/** What classifiers and event code may read about a connection. */
export interface TcpConnection {
  readonly ipVersion: IpVersion;
  /** Originator address: IPv4 as an unsigned 32-bit integer (0 for IPv6). */
  readonly origIp4: number;
  readonly respIp4: number;
  /** Originator/responder IPv6 addresses (16 bytes each; empty for IPv4). */
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
export const ConnList = { NONE: 0, HANDSHAKE: 1, ACTIVE: 2, CLOSING: 3 } as const;
export type ConnList = (typeof ConnList)[keyof typeof ConnList];

/** The table's record of one connection: pooled and reused, never allocated per packet. */
export class Connection implements TcpConnection {
  ipVersion: IpVersion = IpVersion.V4;
  origIp4 = 0;
  respIp4 = 0;
  readonly origIp6 = new Uint8Array(16);
  readonly respIp6 = new Uint8Array(16);
  origPort = 0;
  respPort = 0;
  hash = 0;
  synSeen = false;
  localIsOriginator = false;
  firstSeenMicros = 0;
  lastSeenMicros = 0;
  history = '';
  sampled = false;
  app: unknown = undefined;
  readonly orig = new Endpoint();
  readonly resp = new Endpoint();
  /** An event was made for this connection (reset, refused, unanswered or abandoned). */
  reported = false;
  /** The originator acknowledged the SYN-ACK (or data flowed): no longer a handshake in progress. */
  handshakeDone = false;

  // Intrusive links: hash-bucket chain and the time-ordered expiry list.
  hashNext: Connection | null = null;
  prev: Connection | null = null;
  next: Connection | null = null;
  list: ConnList = ConnList.NONE;

  get bytesOrig(): number { return this.orig.bytes; }
  get bytesResp(): number { return this.resp.bytes; }

  get state(): ConnState {
    return connState(this.orig.state, this.resp.state, this.orig.bytes, this.resp.bytes, this.history);
  }

  clear(): void {
    this.origIp4 = 0;
    this.respIp4 = 0;
    this.origIp6.fill(0);
    this.respIp6.fill(0);
    this.origPort = 0;
    this.respPort = 0;
    this.hash = 0;
    this.synSeen = false;
    this.localIsOriginator = false;
    this.firstSeenMicros = 0;
    this.lastSeenMicros = 0;
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
