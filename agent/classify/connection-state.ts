/**
 * What the classifiers remember about one TCP connection (kept in the
 * connection's `app` slot) and the facts they are given about it.
 */
import type { HttpStream } from './http/http-stream.js';
import { latin1 } from './http/http-parser.js';
import { wordView } from '../decode/word-view.js';
import { ip4Text } from '../decode/packet-view.js';
import type { ProxyHeader } from './proxy-protocol/proxy-parser.js';
import type { TlsStream } from './tls/tls-stream.js';

/** The connection as the classifiers see it: originator = the side that sent the SYN. */
export type ConnFacts = Readonly<{
  originatorIp: string;
  originatorPort: number;
  responderIp: string;
  responderPort: number;
  /** The connection was carried inside GENEVE (a Gateway Load Balancer flow). */
  geneve?: boolean;
  /** Picked up midstream: its handshake was not seen (the capture began later), so its first bytes need not start a message. */
  midstream?: boolean;
}>;

/** How a connection left the table, from the classifiers' point of view. */
export const ConnEnd = {
  FIN_BY_ORIGINATOR: 'fin_by_originator',
  FIN_BY_RESPONDER: 'fin_by_responder',
  RESET_BY_ORIGINATOR: 'reset_by_originator',
  RESET_BY_RESPONDER: 'reset_by_responder',
  /** SYN answered by RST. */
  REFUSED: 'refused',
  /** SYN never answered. */
  UNANSWERED: 'unanswered',
  /** Idle expiry or table eviction while still open. */
  EXPIRED: 'expired',
} as const;
export type ConnEnd = (typeof ConnEnd)[keyof typeof ConnEnd];

/**
 * What a connection speaks, as far as it is known. MIDSTREAM: picked up without its handshake, and
 * no byte seen yet that starts a message: its bytes are passed over until one does.
 */
export const Phase = { PRELUDE: 0, HTTP: 1, TLS: 2, H2: 3, OPAQUE: 4, MIDSTREAM: 5 } as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Bit per LB indicator seen on this flow (see LbIndicator). */
export const IndicatorBit = {
  TRACE_ID: 1, FORWARDED_WITHOUT_TRACE: 2, HEALTH_CHECKER_V2: 4, HEALTH_CHECKER_V1: 8,
  PROXY_V1: 16, PROXY_V2: 32, TCP_HEALTH_CHECK: 64, DIRECT_CLIENT: 128, GENEVE: 256,
} as const;

/** Path and trace id bytes kept in a record up to this size; longer ones become strings at once. */
const PENDING_INLINE_BYTES = 512;
/** Released records kept for reuse (the rest are left to the collector). */
const PENDING_POOL_MAX = 1024;

/**
 * A request awaiting its response. Records are reused (see PendingPool) and keep
 * the path and trace id as bytes: most are answered without either being read,
 * and a string is made only when an event or a timeout reports one.
 */
export class PendingRequest {
  method = '';
  /** First and last byte timestamps of the request (µs). */
  firstTs = 0;
  lastTs = 0;
  clientIp = '';
  /** ELB health checker version when this is a health check. */
  hc: 'v1' | 'v2' | undefined = undefined;
  /** A health check already reported as timed out. */
  timedOut = false;
  #bytes: Uint8Array | undefined;
  /** #bytes as a DataView, for copying four bytes at a time. */
  #view: DataView | undefined;
  #pathLen = 0;
  /** -1: no trace id. */
  #traceLen = -1;
  #path: string | undefined;
  #traceId: string | undefined;
  /** The next (younger) request of the same connection (ConnectionState's queue). */
  next: PendingRequest | undefined = undefined;

  /** Fill the record; path and trace id (traceStart < 0: none) are copied out of `buf`. */
  set(method: string, buf: Uint8Array, pathStart: number, pathEnd: number, traceStart: number, traceEnd: number,
    firstTs: number, lastTs: number, clientIp: string, hc: 'v1' | 'v2' | undefined): void {
    this.method = method;
    this.firstTs = firstTs;
    this.lastTs = lastTs;
    this.clientIp = clientIp;
    this.hc = hc;
    this.timedOut = false;
    const pathLen = pathEnd - pathStart;
    const traceLen = traceStart < 0 ? -1 : traceEnd - traceStart;
    this.#path = undefined;
    this.#traceId = undefined;
    const need = pathLen + Math.max(0, traceLen);
    if (need > PENDING_INLINE_BYTES) {
      this.#path = latin1(buf, pathStart, pathEnd);
      this.#traceId = traceLen < 0 ? undefined : latin1(buf, traceStart, traceEnd);
      this.#pathLen = -1;
      this.#traceLen = -1;
      return;
    }
    let bytes = this.#bytes;
    let to = this.#view;
    if (bytes === undefined || to === undefined || bytes.length < need) {
      // Sized to what this request needs (a power of two, at least 64), not to the bound: a
      // record waits as long as its request does, and 100k waiting requests with 512 bytes
      // each were 51 MB (issue 6). A reused record grows when a longer one comes.
      let size = 64;
      while (size < need) size *= 2;
      bytes = this.#bytes = new Uint8Array(size);
      to = this.#view = new DataView(bytes.buffer);
    }
    const from = wordView(buf);
    copyBytes(from, buf, pathStart, to, bytes, 0, pathLen);
    if (traceLen > 0) copyBytes(from, buf, traceStart, to, bytes, pathLen, traceLen);
    this.#pathLen = pathLen;
    this.#traceLen = traceLen;
  }

  /** Request target as parsed (no query string unless configured). */
  get path(): string {
    if (this.#path === undefined) this.#path = this.#bytes === undefined || this.#pathLen <= 0 ? '' : latin1(this.#bytes, 0, this.#pathLen);
    return this.#path;
  }

  get traceId(): string | undefined {
    if (this.#traceId === undefined && this.#traceLen >= 0 && this.#bytes !== undefined) {
      this.#traceId = latin1(this.#bytes, this.#pathLen, this.#pathLen + this.#traceLen);
    }
    return this.#traceId;
  }
}

/** n bytes from src[s...] to dst[d...], four at a time through their DataViews, then byte by byte. */
function copyBytes(from: DataView<ArrayBufferLike>, src: Uint8Array, s: number, to: DataView, dst: Uint8Array, d: number, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) to.setInt32(d + i, from.getInt32(s + i, true), true);
  for (; i < n; i++) dst[d + i] = src[s + i] ?? 0;
}

/** Released PendingRequest records, reused so that a request costs no allocation. */
export class PendingPool {
  readonly #free: PendingRequest[] = [];

  take(): PendingRequest {
    return this.#free.pop() ?? new PendingRequest();
  }

  /** The record must no longer be referenced by the caller. */
  release(r: PendingRequest): void {
    if (this.#free.length < PENDING_POOL_MAX) this.#free.push(r);
  }
}

/** Bits of ConnectionState's flags word, one per yes/no fact (a field each cost 8 bytes). */
const enum Flag {
  SERVER_FIRST = 1, PROXY_DONE = 2, HELLO_SEEN = 4, HANDSHAKE_DONE = 8, HTTP_HEALTH_CHECK = 16, CLIENT_COUNTED = 32, CLOSED = 64,
  /** ccsSeen's two bits. */
  CCS_SHIFT = 7, CCS_MASK = 3 << 7,
  /** The next sequence number of a direction is known (its first payload was seen). */
  C2S_SEQ = 1 << 9, S2C_SEQ = 1 << 10,
  /** The Phase, three bits. */
  PHASE_SHIFT = 11, PHASE_MASK = 7 << 11,
  /** The IndicatorBit set, nine bits. */
  INDICATORS_SHIFT = 14, INDICATORS_MASK = 0x1ff << 14,
  /** Payload seen from each side (only whether any was matters). */
  C2S_DATA = 1 << 23, S2C_DATA = 1 << 24,
  /** The count of pending requests, seven bits (0-PENDING_MAX); bit 31 keeps the word's sign. */
  PENDING_SHIFT = 25, PENDING_MASK = 0x7f << 25,
}

/**
 * What a connection keeps of the proxy protocol header it began with: the header's other
 * fields (the proxy's own address, TLVs, the authority) are counted when it is parsed and not
 * needed again. The whole header was ~250 bytes per NLB connection with 100k open (issue 6).
 */
export class ProxyFacts {
  readonly version: 1 | 2;
  /** LOCAL: sent by the proxy itself (a health check); no client address. */
  readonly local: boolean;
  /** The client's address, as the header gave it. */
  readonly srcIp: string | undefined;
  /** The same address as a signed 32-bit integer when the header is v2 and the client IPv4 (ProxyHeader.srcIp4). */
  readonly srcIp4: number | undefined;
  readonly vpceId: string | undefined;

  constructor(h: Pick<ProxyHeader, 'version' | 'local' | 'srcIp' | 'srcIp4' | 'vpceId'>) {
    this.version = h.version;
    this.local = h.local;
    this.srcIp = h.srcIp;
    this.srcIp4 = h.srcIp4;
    this.vpceId = h.vpceId;
  }

  /**
   * What a resting connection keeps of its header: the client's IPv4 address as a 32-bit integer
   * for a v2 PROXY header without a VPC endpoint id (what an NLB sends), which fromRest() turns
   * back into the same facts; the object itself otherwise. The object and its address text were
   * ~90 bytes per connection with 100k NLB connections open (issue 6: memory).
   */
  restValue(): number | ProxyFacts {
    if (this.version !== 2 || this.local || this.vpceId !== undefined || this.srcIp4 === undefined) return this;
    return this.srcIp4;
  }

  /** The facts restValue() made a number of. */
  static fromRest(a: number): ProxyFacts {
    return new ProxyFacts({ version: 2, local: false, srcIp: ip4Text(a), srcIp4: a, vpceId: undefined });
  }
}

/**
 * What a connection needs only when its first bytes do not decide its protocol at once (a
 * proxy protocol header, a request split before its method is known): made then, not for
 * every connection.
 */
class Prelude {
  /** Originator bytes held until the protocol is known (proxy header, first request or hello). */
  pre: Buffer | undefined = undefined;
  preLen = 0;
  preStart = 0;
  proxy: ProxyFacts | undefined = undefined;
}

/** A connection's facts and the time it was first seen (µs), as a FactsSource gives them. */
export type OpenedFacts = ConnFacts & { readonly openedTs: number; readonly midstream: boolean };

/**
 * Where a connection's facts are read when they are needed (an event, a client address, a
 * health-check lookup), by the key the state was made with: for the agent, the flow table's
 * columns by connection index, so the state keeps no copy of addresses, ports or time.
 * `at` may answer with one shared object, valid until its next call.
 */
export interface FactsSource {
  at(key: number): OpenedFacts;
}

/** A FactsSource of one connection given as an object (tests, and callers without a table). */
class FixedFacts implements FactsSource, OpenedFacts {
  readonly originatorIp: string;
  readonly originatorPort: number;
  readonly responderIp: string;
  readonly responderPort: number;
  readonly openedTs: number;
  readonly midstream: boolean;
  constructor(f: ConnFacts, openedTs: number) {
    this.originatorIp = f.originatorIp;
    this.originatorPort = f.originatorPort;
    this.responderIp = f.responderIp;
    this.responderPort = f.responderPort;
    this.openedTs = openedTs;
    this.midstream = f.midstream === true;
  }
  at(): OpenedFacts { return this; }
}

/** The most requests a connection keeps waiting for their responses (the count's bits in the flags word). */
export const PENDING_MAX = 127;

/**
 * One connection's classifier state. Its facts (addresses, ports, when it opened) are read
 * from a FactsSource by key when needed, not copied: the flow table holds them already.
 * Yes/no facts, the phase, the LB indicators and the count of waiting requests share one
 * word; a direction's stream is one field, an HttpStream or a TlsStream by the phase, and
 * an HTTP stream between messages is none at all (the classifier takes one from its pool
 * for a segment and gives it back when the message is done); what only a prelude or a proxy
 * header needs is made when one comes (Prelude).
 * Measured with 100k open HTTP connections (issue 6): 224 → 160 bytes a connection, then
 * 120 bytes (a heap snapshot: 9.1 MB for 75,867 of them) and no heap number or address text of
 * its own.
 */
export class ConnectionState {
  #src: FactsSource;
  #key: number;
  /**
   * Next expected sequence number per direction, as a signed 32-bit integer (see nextSeq): an
   * unsigned one over 2^31, half of all on real traffic, is a 16-byte heap number per field.
   */
  #nextC2s = 0;
  #nextS2c = 0;
  /** Each direction's stream: HttpStreams in the HTTP phase (none between messages), TlsStreams in the TLS one. */
  #c2s: HttpStream<ConnectionState> | TlsStream | undefined = undefined;
  #s2c: HttpStream<ConnectionState> | TlsStream | undefined = undefined;
  /**
   * Requests awaiting their responses, oldest first: a queue linked through the records
   * (PendingRequest.next). An array kept its 17-slot backing store after its first request
   * (~190 bytes per HTTP connection with 100k of them open, issue 6).
   */
  pendingHead: PendingRequest | undefined = undefined;
  pendingTail: PendingRequest | undefined = undefined;
  sni: string | undefined = undefined;
  #prelude: Prelude | undefined = undefined;
  #flags = 0;
  /** The state's latest entry in the classifiers' awake ring (classifiers.ts, settle); -1: none. */
  awakePos = -1;

  /** `key`: what `src` knows the connection by; `geneve`: it was carried inside GENEVE. */
  constructor(src: FactsSource, key: number, geneve: boolean) {
    this.#src = src;
    this.#key = key;
    if (geneve) this.indicators = IndicatorBit.GENEVE;
  }

  /**
   * Whether the state holds nothing but its flags word, its two next sequence numbers and a
   * proxy header (no stream, waiting request or undecided prelude, not closed): it can then
   * rest between segments as three words (restWord) and the header (restProxy), and be taken
   * up again by wake(). A server name is kept only until the handshake is done, while the TLS
   * walks run: a restable state has none.
   */
  get restable(): boolean {
    return this.#c2s === undefined && this.#s2c === undefined && this.pendingHead === undefined && (this.#flags & Flag.CLOSED) === 0 &&
      (this.#prelude === undefined || this.#preludeRests(this.#prelude));
  }

  /**
   * A prelude whose protocol is decided, that holds no bytes and no LOCAL proxy header: it rests
   * as its proxy header (restProxy), if any. Its lengths are not read again: only the prelude
   * phase and a LOCAL header's health check read them.
   */
  #preludeRests(p: Prelude): boolean {
    return p.pre === undefined && p.proxy?.local !== true && this.phase !== Phase.PRELUDE;
  }

  /** What a restable state keeps besides its words: its proxy protocol header, if it began with one. */
  get restProxy(): ProxyFacts | undefined { return this.#prelude?.proxy; }

  /** The words a restable state rests in: 0 the flags word, 1 and 2 the next sequence numbers (originator's, responder's). */
  restWord(i: 0 | 1 | 2): number {
    return i === 0 ? this.#flags : i === 1 ? this.#nextC2s : this.#nextS2c;
  }

  /**
   * Become the state of connection `key` of `src` that rested as words w0-w2 and proxy header
   * `proxy` (all zero and none: a new state). Every field is set: a record is reused for
   * another connection this way.
   */
  wake(src: FactsSource, key: number, w0: number, w1: number, w2: number, proxy: ProxyFacts | undefined): void {
    this.#src = src;
    this.#key = key;
    this.#flags = w0;
    this.#nextC2s = w1;
    this.#nextS2c = w2;
    this.sni = undefined;
    this.#c2s = undefined;
    this.#s2c = undefined;
    this.pendingHead = undefined;
    this.pendingTail = undefined;
    this.#prelude = undefined;
    if (proxy !== undefined) this.#ext().proxy = proxy;
    this.awakePos = -1;
  }

  /** State for a connection whose facts are given as an object, opened at `openedTs` (µs). */
  static of(facts: ConnFacts, openedTs: number): ConnectionState {
    return new ConnectionState(new FixedFacts(facts, openedTs), 0, facts.geneve === true);
  }

  get phase(): Phase { return ((this.#flags & Flag.PHASE_MASK) >>> Flag.PHASE_SHIFT) as Phase; }
  set phase(v: Phase) { this.#flags = (this.#flags & ~Flag.PHASE_MASK) | ((v << Flag.PHASE_SHIFT) & Flag.PHASE_MASK); }
  /** Bit per LB indicator seen on this flow (IndicatorBit). */
  get indicators(): number { return (this.#flags & Flag.INDICATORS_MASK) >>> Flag.INDICATORS_SHIFT; }
  set indicators(v: number) { this.#flags = (this.#flags & ~Flag.INDICATORS_MASK) | ((v << Flag.INDICATORS_SHIFT) & Flag.INDICATORS_MASK); }

  /** The request stream, in the HTTP phase. */
  get req(): HttpStream<ConnectionState> | undefined { return this.phase === Phase.HTTP ? this.#c2s as HttpStream<ConnectionState> | undefined : undefined; }
  set req(s: HttpStream<ConnectionState> | undefined) { this.#c2s = s; }
  /** The response stream, in the HTTP phase. */
  get res(): HttpStream<ConnectionState> | undefined { return this.phase === Phase.HTTP ? this.#s2c as HttpStream<ConnectionState> | undefined : undefined; }
  set res(s: HttpStream<ConnectionState> | undefined) { this.#s2c = s; }
  /** The originator's TLS record walk, in the TLS phase until the handshake is done. */
  get tlsC2s(): TlsStream | undefined { return this.phase === Phase.TLS ? this.#c2s as TlsStream | undefined : undefined; }
  set tlsC2s(s: TlsStream | undefined) { this.#c2s = s; }
  /** The responder's TLS record walk, in the TLS phase until the handshake is done. */
  get tlsS2c(): TlsStream | undefined { return this.phase === Phase.TLS ? this.#s2c as TlsStream | undefined : undefined; }
  set tlsS2c(s: TlsStream | undefined) { this.#s2c = s; }

  /** Originator bytes held until the protocol is known (proxy header, first request or hello). */
  get pre(): Buffer | undefined { return this.#prelude?.pre; }
  set pre(v: Buffer | undefined) { if (v !== undefined || this.#prelude !== undefined) this.#ext().pre = v; }
  get preLen(): number { return this.#prelude?.preLen ?? 0; }
  set preLen(v: number) { if (v !== 0 || this.#prelude !== undefined) this.#ext().preLen = v; }
  get preStart(): number { return this.#prelude?.preStart ?? 0; }
  set preStart(v: number) { if (v !== 0 || this.#prelude !== undefined) this.#ext().preStart = v; }
  /** The proxy protocol header the connection began with. */
  get proxy(): ProxyFacts | undefined { return this.#prelude?.proxy; }
  set proxy(v: ProxyFacts | undefined) { if (v !== undefined || this.#prelude !== undefined) this.#ext().proxy = v; }

  #ext(): Prelude {
    return (this.#prelude ??= new Prelude());
  }

  /** The connection was carried inside GENEVE (kept as its LB indicator). */
  get geneve(): boolean { return (this.indicators & IndicatorBit.GENEVE) !== 0; }
  /** ChangeCipherSpec records seen after the hello: bit 1 client, bit 2 server. */
  get ccsSeen(): number { return (this.#flags & Flag.CCS_MASK) >>> Flag.CCS_SHIFT; }
  set ccsSeen(v: number) { this.#flags = (this.#flags & ~Flag.CCS_MASK) | ((v << Flag.CCS_SHIFT) & Flag.CCS_MASK); }

  /**
   * The connection as the classifiers see it, read from its FactsSource: the answer may be
   * shared, read it before asking for another connection's.
   */
  get facts(): OpenedFacts { return this.#src.at(this.#key); }
  /** When the connection was first seen (µs). */
  get openedTs(): number { return this.#src.at(this.#key).openedTs; }
  /** Payload was seen from the originator. */
  get c2sData(): boolean { return (this.#flags & Flag.C2S_DATA) !== 0; }
  /** Payload was seen from the responder. */
  get s2cData(): boolean { return (this.#flags & Flag.S2C_DATA) !== 0; }
  /** Requests waiting for their responses. */
  get pendingCount(): number { return (this.#flags & Flag.PENDING_MASK) >>> Flag.PENDING_SHIFT; }

  get serverFirst(): boolean { return (this.#flags & Flag.SERVER_FIRST) !== 0; }
  set serverFirst(v: boolean) { this.#flag(Flag.SERVER_FIRST, v); }
  get proxyDone(): boolean { return (this.#flags & Flag.PROXY_DONE) !== 0; }
  set proxyDone(v: boolean) { this.#flag(Flag.PROXY_DONE, v); }
  get helloSeen(): boolean { return (this.#flags & Flag.HELLO_SEEN) !== 0; }
  set helloSeen(v: boolean) { this.#flag(Flag.HELLO_SEEN, v); }
  get handshakeDone(): boolean { return (this.#flags & Flag.HANDSHAKE_DONE) !== 0; }
  set handshakeDone(v: boolean) { this.#flag(Flag.HANDSHAKE_DONE, v); }
  get httpHealthCheck(): boolean { return (this.#flags & Flag.HTTP_HEALTH_CHECK) !== 0; }
  set httpHealthCheck(v: boolean) { this.#flag(Flag.HTTP_HEALTH_CHECK, v); }
  get clientCounted(): boolean { return (this.#flags & Flag.CLIENT_COUNTED) !== 0; }
  set clientCounted(v: boolean) { this.#flag(Flag.CLIENT_COUNTED, v); }
  get closed(): boolean { return (this.#flags & Flag.CLOSED) !== 0; }
  set closed(v: boolean) { this.#flag(Flag.CLOSED, v); }

  /** The next sequence number expected from a side (unsigned), or -1 before its first payload. */
  nextSeq(fromOriginator: boolean): number {
    if (fromOriginator) return (this.#flags & Flag.C2S_SEQ) !== 0 ? this.#nextC2s >>> 0 : -1;
    return (this.#flags & Flag.S2C_SEQ) !== 0 ? this.#nextS2c >>> 0 : -1;
  }

  /** A side's payload ended at `next` (mod 2^32). */
  setNextSeq(fromOriginator: boolean, next: number): void {
    if (fromOriginator) { this.#nextC2s = next | 0; this.#flags |= Flag.C2S_SEQ; } else { this.#nextS2c = next | 0; this.#flags |= Flag.S2C_SEQ; }
  }

  /** A side sent payload (c2sData, s2cData). */
  markData(fromOriginator: boolean): void {
    this.#flags |= fromOriginator ? Flag.C2S_DATA : Flag.S2C_DATA;
  }

  #flag(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }

  /** Queue a request (the youngest). At most PENDING_MAX: the caller sheds the oldest first. */
  pushPending(r: PendingRequest): void {
    if (this.pendingCount >= PENDING_MAX) throw new RangeError(`more than ${PENDING_MAX} pending requests`);
    r.next = undefined;
    if (this.pendingTail === undefined) this.pendingHead = r;
    else this.pendingTail.next = r;
    this.pendingTail = r;
    this.#flags = (this.#flags + (1 << Flag.PENDING_SHIFT)) | 0;
  }

  /** Take the oldest request off the queue. */
  shiftPending(): PendingRequest | undefined {
    const r = this.pendingHead;
    if (r === undefined) return undefined;
    this.pendingHead = r.next;
    if (this.pendingHead === undefined) this.pendingTail = undefined;
    r.next = undefined;
    this.#flags = (this.#flags - (1 << Flag.PENDING_SHIFT)) | 0;
    return r;
  }
}
