/**
 * The stateful, per-connection classifier: recognises a proxy-protocol header, then
 * HTTP/1.x, TLS or HTTP/2 at the start of each connection, pairs requests with
 * responses, judges health checks, resolves the client, watches for loops and
 * guesses the load-balancer type. Events go to the EventSink; counters feed
 * snapshot(). Bad bytes are counted, never thrown.
 */
import { EventFactory } from '../events/event-factory.js';
import { EventType, type AnalyzerEvent, type EventSink, type LbRef, type LbType } from '../events/schema.js';
import { ip4Text, IpProto, type PacketView } from '../decode/packet-view.js';
import { analyzeForwardedFor, ALB_MAX_XFF_ENTRIES, canonicalIp, plainIpv4 } from './client-ip/forwarded-for.js';
import { SpaceSaving } from './client-ip/space-saving.js';
import { bump, ClassifyCounters, LbIndicator, toSnapshot, type ClassifySnapshot } from './classify-stats.js';
import { ConnEnd, ConnectionState, IndicatorBit, PENDING_MAX, PendingPool, Phase, ProxyFacts, type ConnFacts, type PendingRequest } from './connection-state.js';
import { GENEVE_UDP_PORT, parseGeneve, type GeneveHeader } from './geneve/geneve-parser.js';
import {
  compileMatcher, DEFAULT_HEALTH_CHECK_TIMEOUT_SEC, HealthCheckFailReason, healthCheckerVersionOf,
  HealthCheckKind, type StatusMatcher,
} from './health-check/health-check.js';
import {
  HeadRange, isRequestLine, isStatusLineStart, latin1, looksLikeRequestStart, looksLikeResponseStart, matchHttp2Preface, RequestHeadScan, ResponseHeadScan,
  responseHasBody, scanRequestHead, scannedForwardedFor, scannedMethod, scanResponseHead, ScanStatus,
} from './http/http-parser.js';
import { CHUNKED, HttpStream, NO_BODY, OPAQUE, RESYNC, UNTIL_CLOSE, type Framing, type HttpStreamHandler, type ScannedHead } from './http/http-stream.js';
import { EMPTY_LB_KNOWLEDGE, type LbBinding, type LbKnowledge } from './lb-knowledge.js';
import { ByTarget, IntervalStat, type IntervalStatSet, type TargetCounters } from './target-stats.js';
import { findTraceRoot, TraceRepeatDetector, TtlLoopDetector } from './loops/loop-detector.js';
import { detectProxyHeader, parseProxyHeader, type ProxyHeader } from './proxy-protocol/proxy-parser.js';
import { isClientHelloStart, isTlsRecordStart, parseClientHelloBody, TlsAlertLevel, TlsAlertName, TlsContentType, looksLikeTlsHandshake } from './tls/tls-parser.js';
import { TlsStream } from './tls/tls-stream.js';

export type ClassifierOptions = Readonly<{
  sink: EventSink;
  events?: EventFactory;
  knowledge?: LbKnowledge;
  /** Proxies (besides known LB nodes) whose X-Forwarded-For entries are trusted. */
  trustedProxies?: readonly string[];
  /** Keep query strings in paths (off by default). */
  keepQuery?: boolean;
  /** Entries of the top-clients sketch. */
  topClientsCapacity?: number;
  /** Requests kept per connection awaiting a response (pipelining bound; 1 to PENDING_MAX, 64 by default). */
  maxPendingRequests?: number;
}>;

/** Server names kept for sharing (TrafficClassifier's #sniNames). */
const SNI_NAMES_MAX = 1024;
/** Originator bytes held while the protocol is undecided; a proxy header plus a ClientHello fit. */
const PRELUDE_MAX = 20 * 1024;
const DEFAULT_MAX_PENDING = 64;
/** HTTP streams kept for reuse (see #pushHttp): 64 bytes each. */
const STREAM_POOL_MAX = 256;
/** The fields of a result that makes no event (a passed health check). */
const NO_FIELDS: Record<string, unknown> = Object.freeze({});
/** Events about one connection's unanswered requests at close; the rest are only counted. */
const MAX_CLOSE_EVENTS = 10;
/** LOOP_DETECTED events of one reason at most this often (every loop is still counted). */
const LOOP_EVENT_INTERVAL_MICROS = 1_000_000;
const INDICATOR_NAMES: ReadonlyArray<[number, string]> = [
  [IndicatorBit.TRACE_ID, LbIndicator.TRACE_ID],
  [IndicatorBit.FORWARDED_WITHOUT_TRACE, LbIndicator.FORWARDED_WITHOUT_TRACE],
  [IndicatorBit.HEALTH_CHECKER_V2, LbIndicator.HEALTH_CHECKER_V2],
  [IndicatorBit.HEALTH_CHECKER_V1, LbIndicator.HEALTH_CHECKER_V1],
  [IndicatorBit.PROXY_V1, LbIndicator.PROXY_V1],
  [IndicatorBit.PROXY_V2, LbIndicator.PROXY_V2],
  [IndicatorBit.TCP_HEALTH_CHECK, LbIndicator.TCP_HEALTH_CHECK],
  [IndicatorBit.DIRECT_CLIENT, LbIndicator.DIRECT_CLIENT],
  [IndicatorBit.GENEVE, LbIndicator.GENEVE],
];

/** The most likely load-balancer type from a flow's indicators (enrichment confirms it later). */
export function guessLbType(bits: number): LbType {
  if (bits & IndicatorBit.GENEVE) return 'GWLB';
  if (bits & IndicatorBit.PROXY_V2) return 'NLB';
  if (bits & (IndicatorBit.PROXY_V1 | IndicatorBit.HEALTH_CHECKER_V1)) return 'CLB';
  if (bits & (IndicatorBit.TRACE_ID | IndicatorBit.HEALTH_CHECKER_V2)) return 'ALB';
  if (bits & IndicatorBit.FORWARDED_WITHOUT_TRACE) return 'CLB';
  if (bits & (IndicatorBit.TCP_HEALTH_CHECK | IndicatorBit.DIRECT_CLIENT)) return 'NLB';
  return 'unknown';
}

/** The classifier's HTTP entry points, taking the connection (RequestHandler, ResponseHandler). */
type HttpHooks = Readonly<{
  requestHeadIn(cs: ConnectionState, buf: Uint8Array, off: number, len: number, ts: number, out: ScannedHead): boolean;
  requestHead(cs: ConnectionState, buf: Uint8Array, off: number, len: number, partial: boolean, firstTs: number, lastTs: number): Framing;
  responseHeadIn(cs: ConnectionState, buf: Uint8Array, off: number, len: number, ts: number, out: ScannedHead): boolean;
  responseHead(cs: ConnectionState, buf: Uint8Array, off: number, len: number, partial: boolean, firstTs: number): Framing;
  malformedHead(reason: string): void;
}>;

/**
 * What every connection's request or response stream calls back, made once per classifier:
 * the stream passes its connection (HttpStreamHandler). One handler object per side of each
 * connection cost 40 bytes each (issue 6: memory with 100k HTTP connections).
 */
abstract class HttpHandler implements HttpStreamHandler<ConnectionState> {
  protected readonly hooks: HttpHooks;
  constructor(hooks: HttpHooks) { this.hooks = hooks; }

  abstract looksLikeStart(buf: Uint8Array, off: number, len: number): boolean;
  abstract onHeadIn(cs: ConnectionState, buf: Uint8Array, off: number, len: number, ts: number, out: ScannedHead): boolean;
  abstract onHead(cs: ConnectionState, buf: Uint8Array, off: number, len: number, partial: boolean, firstTs: number, lastTs: number): Framing;
  abstract onBodyEnd(cs: ConnectionState, ts: number): void;

  onMalformed(_cs: ConnectionState, reason: string): void { this.hooks.malformedHead(reason); }
}

class RequestHandler extends HttpHandler {
  looksLikeStart(buf: Uint8Array, off: number, len: number): boolean { return looksLikeRequestStart(buf, off, len); }
  onHeadIn(cs: ConnectionState, buf: Uint8Array, off: number, len: number, ts: number, out: ScannedHead): boolean {
    return this.hooks.requestHeadIn(cs, buf, off, len, ts, out);
  }
  onHead(cs: ConnectionState, buf: Uint8Array, off: number, len: number, partial: boolean, firstTs: number, lastTs: number): Framing {
    return this.hooks.requestHead(cs, buf, off, len, partial, firstTs, lastTs);
  }
  /** A request body ended: its request was sent in full only then. */
  onBodyEnd(cs: ConnectionState, ts: number): void {
    const last = cs.pendingTail;
    if (last !== undefined) last.lastTs = ts;
  }
}

class ResponseHandler extends HttpHandler {
  looksLikeStart(buf: Uint8Array, off: number, len: number): boolean { return looksLikeResponseStart(buf, off, len); }
  onHeadIn(cs: ConnectionState, buf: Uint8Array, off: number, len: number, ts: number, out: ScannedHead): boolean {
    return this.hooks.responseHeadIn(cs, buf, off, len, ts, out);
  }
  onHead(cs: ConnectionState, buf: Uint8Array, off: number, len: number, partial: boolean, firstTs: number): Framing {
    return this.hooks.responseHead(cs, buf, off, len, partial, firstTs);
  }
  /** A response's end pairs nothing. */
  onBodyEnd(): void {}
}

export class TrafficClassifier {
  readonly #responseTime = new IntervalStat();
  readonly #byTarget = new ByTarget();
  readonly #sink: EventSink;
  readonly #events: EventFactory;
  readonly #knowledge: LbKnowledge;
  readonly #trusted: Set<string>;
  readonly #keepQuery: boolean;
  readonly #maxPending: number;
  readonly #c = new ClassifyCounters();
  readonly #top: SpaceSaving;
  readonly #traces = new TraceRepeatDetector();
  readonly #ttl = new TtlLoopDetector();
  readonly #matchers = new Map<string, StatusMatcher>();
  readonly #hcPending = new Set<ConnectionState>();
  readonly #lastLoopEvent = new Map<string, number>();
  readonly #isTrusted: (ip: string) => boolean;
  /** Scan records reused for every head: the hot path keeps offsets, not strings. */
  readonly #reqScan = new RequestHeadScan();
  readonly #resScan = new ResponseHeadScan();
  /** The 'length' framing handed back to HttpStream, which applies it at once: one object, reused. */
  readonly #bodyLength: { kind: 'length'; length: number } = { kind: 'length', length: 0 };
  readonly #pendingPool = new PendingPool();
  /** Streams between messages, for reuse (#pushHttp). */
  readonly #streams: HttpStream<ConnectionState>[] = [];
  /**
   * One string per server name: a target serves a few names, and each connection kept its own
   * copy of its ClientHello's (~40 bytes each with 100k TLS connections open, issue 6).
   * Cleared when full, so a client that sends random names costs at most this many.
   */
  readonly #sniNames = new Map<string, string>();
  /** Out-parameters of the byte scanners (plain IPv4 value; trace Root start and end). */
  readonly #ipv4Out = new Int32Array(1);
  readonly #rootOut = new Int32Array(2);
  /** What both sides of every HTTP connection call back (see RequestHandler): made once, not per connection. */
  readonly #httpHooks: HttpHooks = {
    requestHeadIn: (cs, buf, off, len, ts, out) => this.#requestHeadIn(cs, buf, off, len, ts, out),
    requestHead: (cs, buf, off, len, partial, firstTs, lastTs) => this.#requestHead(cs, buf, off, len, partial, firstTs, lastTs),
    responseHeadIn: (cs, buf, off, len, ts, out) => this.#responseHeadIn(cs, buf, off, len, ts, out),
    responseHead: (cs, buf, off, len, partial, firstTs) => this.#responseHead(cs, buf, off, len, partial, firstTs),
    malformedHead: (reason) => this.#malformedHead(reason),
  };
  readonly #requests = new RequestHandler(this.#httpHooks);
  readonly #responses = new ResponseHandler(this.#httpHooks);

  constructor(opts: ClassifierOptions) {
    this.#sink = opts.sink;
    this.#events = opts.events ?? new EventFactory();
    this.#knowledge = opts.knowledge ?? EMPTY_LB_KNOWLEDGE;
    this.#trusted = new Set((opts.trustedProxies ?? []).map(canonicalIp));
    this.#keepQuery = opts.keepQuery === true;
    this.#maxPending = Math.max(1, Math.min(PENDING_MAX, opts.maxPendingRequests ?? DEFAULT_MAX_PENDING));
    this.#top = new SpaceSaving(opts.topClientsCapacity ?? 1000);
    this.#isTrusted = (ip) => this.#trusted.has(ip) || this.#knowledge.isLoadBalancerAddress(ip);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Per-connection state for a connection given by its facts, first seen at `tsMicros`. */
  open(facts: ConnFacts, tsMicros: number): ConnectionState {
    return ConnectionState.of(facts, tsMicros);
  }

  /** A payload-bearing segment (view.payload*, view.seq, view.tsMicros). */
  onPayload(cs: ConnectionState, fromOriginator: boolean, v: PacketView): void {
    if (cs.closed || v.payloadLen <= 0) return;
    let len = v.payloadLen;
    let cap = Math.max(0, Math.min(v.payloadCapLen, len));
    let off = v.payloadOffset;
    const seq = v.seq >>> 0;
    const next = cs.nextSeq(fromOriginator);
    if (next >= 0) {
      const diff = (seq - next) | 0;
      if (diff < 0) {
        // Retransmission (whole or overlapping): analyse only the new bytes.
        const skip = -diff;
        if (skip >= len) return;
        off += skip;
        cap = Math.max(0, cap - skip);
        len -= skip;
      } else if (diff > 0) {
        this.#gap(cs, fromOriginator, diff, v.tsMicros);
      }
    }
    cs.setNextSeq(fromOriginator, seq + v.payloadLen);
    // A connection whose handshake went by before the capture, none of its bytes read yet: read from its next message start (#midstream).
    if (cs.phase === Phase.PRELUDE && cs.preLen === 0 && !cs.serverFirst && cs.facts.midstream) cs.phase = Phase.MIDSTREAM;
    if (!fromOriginator && !cs.s2cData && cs.phase !== Phase.HTTP && cs.phase !== Phase.MIDSTREAM) this.#firstAnswer(cs, v.buf, off, cap, v.tsMicros);
    cs.markData(fromOriginator);
    this.#data(cs, fromOriginator, v.buf, off, cap, len, v.tsMicros);
  }

  /** The connection left the table. */
  /**
   * `seqBytes`: payload bytes of both directions by the flow table's sequence numbers.
   * At -s N the kernel keeps an unsampled flow's other segments (a server banner, say)
   * from us, so "nothing was said" is judged on those, not on the bytes seen here.
   */
  onClose(cs: ConnectionState, how: ConnEnd, established: boolean, tsMicros: number, seqBytes = 0): void {
    if (cs.closed) return;
    cs.closed = true;
    this.#hcPending.delete(cs);
    if (cs.phase === Phase.PRELUDE && cs.preLen > 0) this.#resolvePrelude(cs, tsMicros, true);
    this.#closePending(cs, how, tsMicros);
    if (cs.phase === Phase.TLS && cs.helloSeen && !cs.handshakeDone) this.#c.incompleteHandshakes++;
    this.#tcpHealthCheck(cs, how, established, tsMicros, seqBytes);
    if (cs.c2sData || cs.s2cData || (cs.indicators & IndicatorBit.TCP_HEALTH_CHECK) !== 0) {
      if (cs.c2sData && cs.proxy === undefined && !cs.httpHealthCheck && (cs.indicators & ~IndicatorBit.DIRECT_CLIENT) === 0 &&
          !this.#knowledge.isLoadBalancerAddress(cs.facts.originatorIp) && this.#knowledge.lbFor(cs.facts.responderPort, cs.facts.originatorIp)?.lb.type === 'NLB') {
        cs.indicators |= IndicatorBit.DIRECT_CLIENT;
      }
      bump(this.#c.lbTypeFlows, this.#lbType(cs));
      for (const [bit, name] of INDICATOR_NAMES) if (cs.indicators & bit) bump(this.#c.lbIndicators, name);
    }
    cs.pre = undefined;
    cs.req = undefined;
    cs.res = undefined;
    cs.tlsC2s = undefined;
    cs.tlsS2c = undefined;
  }

  /**
   * Every decoded packet (cheap): the decreasing-TTL loop check, and GENEVE on UDP
   * 6081, whose header is returned so the caller can decode the inner packet
   * (innerOffset/innerLength) as a flow of its own, attributed to the GWLB.
   */
  onPacket(v: PacketView): GeneveHeader | undefined {
    const loop = this.#ttl.observe(v);
    if (loop !== undefined) {
      this.#loop('ttl_decreasing', v.tsMicros, undefined,
        `Same packet seen ${loop.ttls.length} times with TTL ${loop.ttls.join('>')} (ip id ${loop.ipId}, seq ${loop.seq}, length ${loop.length})`,
        { ttls: loop.ttls, ip_id: loop.ipId, seq: loop.seq, length: loop.length });
    }
    if (v.proto !== IpProto.UDP || (v.dstPort !== GENEVE_UDP_PORT && v.srcPort !== GENEVE_UDP_PORT)) return undefined;
    const g = parseGeneve(v.buf, v.payloadOffset, v.payloadCapLen);
    if (g.status !== 'ok') { this.#c.geneveMalformed++; return undefined; }
    this.#c.genevePackets++;
    if (!g.value.oam && g.value.innerLength > 0) this.#c.geneveInner++;
    return g.value;
  }

  /** Periodic (e.g. each second): health checks that have waited longer than their timeout fail now. */
  tick(nowMicros: number): void {
    for (const cs of this.#hcPending) {
      let waiting = false;
      for (let req = cs.pendingHead; req !== undefined; req = req.next) {
        if (req.hc === undefined || req.timedOut) continue;
        const timeoutMs = this.#hcTimeoutMs(cs);
        if ((nowMicros - req.lastTs) / 1000 > timeoutMs) {
          req.timedOut = true;
          this.#healthCheckResult(cs, HealthCheckKind.HTTP, HealthCheckFailReason.TIMEOUT, nowMicros,
            `no response within ${timeoutMs / 1000} s to ${req.method} ${req.path}`, { method: req.method, path: req.path, timeout_ms: timeoutMs });
        } else waiting = true;
      }
      if (!waiting) this.#hcPending.delete(cs);
    }
  }

  /**
   * Whether closing a silent connection (no payload, no sequence bytes) opened by
   * `originatorIp` can count for anything: only one from a load balancer can, as a TCP
   * health check (see #tcpHealthCheck); onClose of any other connection without payload
   * changes no counter and emits nothing.
   */
  silentCloseCounts(originatorIp: string): boolean {
    return this.#knowledge.isLoadBalancerAddress(originatorIp);
  }

  /** The most likely load-balancer type of one flow: enrichment's answer, else the flow's indicators. */
  lbTypeOf(cs: ConnectionState): LbType {
    return this.#lbType(cs);
  }

  /** Client response times (seconds) since the last call: one statistic set per metrics interval. */
  drainResponseTimes(): IntervalStatSet | undefined {
    return this.#responseTime.drain();
  }

  /** Counters per load balancer / target group known to discovery (cumulative; response times drained). */
  targets(): IterableIterator<TargetCounters> {
    return this.#byTarget.values();
  }

  snapshot(topN = 10): ClassifySnapshot {
    return toSnapshot(this.#c, this.#top.top(topN));
  }

  // ---------------------------------------------------------------- byte streams

  #data(cs: ConnectionState, fromOriginator: boolean, buf: Uint8Array, off: number, cap: number, len: number, ts: number): void {
    switch (cs.phase) {
      case Phase.PRELUDE:
        if (fromOriginator) this.#prelude(cs, buf, off, cap, len, ts);
        else if (cs.preLen === 0) cs.serverFirst = true;
        return;
      case Phase.MIDSTREAM:
        this.#midstream(cs, fromOriginator, buf, off, cap, len, ts);
        return;
      case Phase.HTTP:
        if (fromOriginator) cs.req = this.#pushHttp(cs.req, this.#requests, cs, buf, off, cap, len, ts);
        else cs.res = this.#pushHttp(cs.res, this.#responses, cs, buf, off, cap, len, ts);
        return;
      case Phase.TLS:
        (fromOriginator ? cs.tlsC2s : cs.tlsS2c)?.push(buf, off, cap, len, ts);
        return;
      default:
        return;
    }
  }

  #gap(cs: ConnectionState, fromOriginator: boolean, n: number, ts: number): void {
    switch (cs.phase) {
      case Phase.PRELUDE:
        if (fromOriginator) {
          if (cs.preLen > 0) this.#resolvePrelude(cs, ts, true);
          if (cs.phase === Phase.PRELUDE) this.#toOpaque(cs);
          else this.#gap(cs, fromOriginator, n, ts);
        }
        return;
      case Phase.HTTP:
        if (fromOriginator) cs.req = this.#gapHttp(cs.req, this.#requests, cs, n, ts);
        else cs.res = this.#gapHttp(cs.res, this.#responses, cs, n, ts);
        return;
      case Phase.TLS:
        (fromOriginator ? cs.tlsC2s : cs.tlsS2c)?.gap(n, ts);
        return;
      default:
        return;
    }
  }

  /**
   * A segment of a connection picked up midstream (its handshake not seen: the capture began
   * later), before any byte that starts a message. Its first bytes need not start one (the rest
   * of a body, say), so neither "the server spoke first" nor "not HTTP" can be concluded from
   * them, which made such a connection opaque for the rest of its life (an ALB's keep-alive
   * connections open when the agent starts can carry requests for hours). Instead:
   * - a whole request line from the client, or a status line from the target, makes it HTTP
   *   from this segment on; the other direction passes over bytes until one starts a message;
   * - a ClientHello, a proxy protocol header or an HTTP/2 preface from the client means the
   *   capture began between the handshake and the first bytes: read as from the start;
   * - a TLS record from the client makes it an HTTPS connection whose handshake was missed;
   * - anything else (body bytes, another protocol) is passed over.
   */
  #midstream(cs: ConnectionState, fromOriginator: boolean, buf: Uint8Array, off: number, cap: number, len: number, ts: number): void {
    if (!fromOriginator) {
      if (!isStatusLineStart(buf, off, cap)) return;
      this.#midstreamHttp(cs);
      cs.req = this.#resyncedStream();
      cs.res = this.#pushHttp(undefined, this.#responses, cs, buf, off, cap, len, ts);
      return;
    }
    if (isRequestLine(buf, off, cap)) {
      this.#midstreamHttp(cs);
      cs.res = this.#resyncedStream();
      cs.req = this.#pushHttp(undefined, this.#requests, cs, buf, off, cap, len, ts);
      return;
    }
    const proxy = detectProxyHeader(buf, off, cap);
    if (isClientHelloStart(buf, off, cap) || proxy === 'v1' || proxy === 'v2' || matchHttp2Preface(buf, off, cap) === 'yes') {
      cs.phase = Phase.PRELUDE;
      this.#prelude(cs, buf, off, cap, len, ts);
    } else if (isTlsRecordStart(buf, off, cap)) {
      // TLS whose handshake went by before the capture: an HTTPS connection, its records not
      // walked (the target's segments need not start at a record boundary).
      cs.proxyDone = true;
      cs.phase = Phase.TLS;
      this.#c.httpsConnections++;
      this.#countClientOnce(cs);
    }
  }

  #midstreamHttp(cs: ConnectionState): void {
    cs.proxyDone = true;
    cs.phase = Phase.HTTP;
  }

  /** A stream that passes over bytes until a segment starts a message (a direction picked up midstream). */
  #resyncedStream(): HttpStream<ConnectionState> {
    const st = this.#takeStream();
    st.resync();
    return st;
  }

  #prelude(cs: ConnectionState, buf: Uint8Array, off: number, cap: number, len: number, ts: number): void {
    if (cs.pre === undefined && cap === len && cap < PRELUDE_MAX) {
      if (this.#preludeInPlace(cs, buf, off, cap, ts)) return;
      // A proxy header (an NLB's, a CLB's) and what follows it read where they lie; only bytes
      // that cannot decide yet are held, as below. Copying every NLB connection's first segment
      // into a held buffer of 1 KB or more was most of what such a connection allocated.
      if (!cs.proxyDone) {
        if (this.#resolve(cs, buf, off, off + cap, ts, false)) cs.preLen = cap; // as if held and let go (#resolvePrelude): what followed the header counts
        else this.#hold(cs, buf, off, cap);
        return;
      }
    }
    const room = PRELUDE_MAX - cs.preLen;
    const n = Math.min(room, cap);
    if (n > 0) this.#hold(cs, buf, off, n);
    const missing = len - n;
    this.#resolvePrelude(cs, ts, missing > 0 || cs.preLen >= PRELUDE_MAX);
    if (missing > 0 && cs.phase !== Phase.PRELUDE) this.#gap(cs, true, missing, ts);
  }

  /** Append buf[off, off + n) to the connection's held bytes. */
  #hold(cs: ConnectionState, buf: Uint8Array, off: number, n: number): void {
    if (cs.pre === undefined || cs.pre.length < cs.preLen + n) {
      const next = Buffer.allocUnsafe(Math.min(PRELUDE_MAX, Math.max(1024, (cs.preLen + n) * 2)));
      if (cs.pre !== undefined) cs.pre.copy(next, 0, 0, cs.preLen);
      cs.pre = next;
    }
    cs.pre.set(buf.subarray(off, off + n), cs.preLen);
    cs.preLen += n;
  }

  /** Decide what the connection speaks from the held bytes; `force` when no more bytes will complete them. */
  #resolvePrelude(cs: ConnectionState, ts: number, force: boolean): void {
    const pre = cs.pre;
    if (pre === undefined) { if (force) this.#toOpaque(cs); return; }
    if (this.#resolve(cs, pre, 0, cs.preLen, ts, force)) cs.pre = undefined;
  }

  /**
   * The proxy headers in the connection's first bytes, which start at buf[base] and end at
   * buf[end] (cs.preStart past `base` is where the unread ones begin, and moves past each header
   * read), then what the connection speaks from the bytes after them: true when that is decided
   * (or the connection is opaque), false when more bytes must come first; `force` when none will.
   */
  #resolve(cs: ConnectionState, buf: Uint8Array, base: number, end: number, ts: number, force: boolean): boolean {
    let p = base + cs.preStart;
    for (;;) {
      if (cs.proxyDone) break;
      const avail = end - p;
      const d = detectProxyHeader(buf, p, avail);
      if (d === 'maybe') { if (!force && avail < 16) return false; cs.proxyDone = true; break; }
      if (d === 'no') { cs.proxyDone = true; break; }
      const r = parseProxyHeader(buf, p, avail);
      if (r.status === 'incomplete' && !force) return false;
      if (r.status !== 'ok') {
        // A broken header: noted, and the connection analysed as plain TCP.
        this.#c.proxyMalformed++;
        this.#toOpaque(cs);
        return true;
      }
      this.#onProxyHeader(cs, r.value, ts);
      p += r.length;
      cs.preStart = p - base;
    }
    const avail = end - p;
    if (avail === 0) {
      if (!force) return false;
      this.#toOpaque(cs);
      return true;
    }
    return this.#decide(cs, buf, p, avail, ts, force);
  }

  /**
   * What the connection speaks, from its first originator bytes buf[p, p + n) after any proxy
   * header; they go to the stream of that protocol. False (nothing decided) when they could
   * still be an HTTP/2 preface and more may come.
   */
  #decide(cs: ConnectionState, buf: Uint8Array, p: number, n: number, ts: number, force: boolean): boolean {
    if (cs.serverFirst) { this.#c.otherProtocolConnections++; this.#toOpaque(cs); return true; }
    const h2 = matchHttp2Preface(buf, p, n);
    if (h2 === 'yes') { this.#c.http2Prefaces++; this.#countClientOnce(cs); cs.phase = Phase.H2; return true; }
    if (h2 === 'maybe' && !force) return false;
    if (looksLikeTlsHandshake(buf, p, n)) {
      cs.phase = Phase.TLS;
      this.#startTls(cs);
      cs.tlsC2s?.push(buf, p, n, n, ts);
    } else if (looksLikeRequestStart(buf, p, n)) {
      cs.phase = Phase.HTTP;
      cs.req = this.#pushHttp(undefined, this.#requests, cs, buf, p, n, n, ts);
    } else {
      this.#c.otherProtocolConnections++;
      this.#countClientOnce(cs);
      this.#toOpaque(cs);
    }
    return true;
  }

  /**
   * #resolvePrelude on a connection's first originator segment where it lies, when that
   * segment decides (no proxy header, nothing that a later byte could change): the usual
   * first request or ClientHello goes to its stream without being copied. False, having
   * decided nothing else, when the bytes must be held.
   */
  #preludeInPlace(cs: ConnectionState, buf: Uint8Array, off: number, n: number, ts: number): boolean {
    if (cs.proxyDone || detectProxyHeader(buf, off, n) !== 'no') return false;
    // 'no' holds for any longer prefix too: the held bytes skip the proxy check when #decide waits.
    cs.proxyDone = true;
    return this.#decide(cs, buf, off, n, ts, false);
  }

  #toOpaque(cs: ConnectionState): void {
    cs.phase = Phase.OPAQUE;
    cs.pre = undefined;
  }

  #onProxyHeader(cs: ConnectionState, h: ProxyHeader, ts: number): void {
    if (cs.proxy !== undefined) {
      // The LB prepends its header and keeps whatever followed: a second header means
      // another proxy (or the client) added one too: the path runs through proxies twice.
      this.#c.proxyStacked++;
      this.#loop('stacked_proxy_headers', ts, cs,
        `Stacked proxy protocol headers: v${cs.proxy.version} ${cs.proxy.srcIp ?? 'LOCAL'} then v${h.version} ${h.srcIp ?? 'LOCAL'}`,
        { first_source: cs.proxy.srcIp ?? null, second_source: h.srcIp ?? null });
      return;
    }
    cs.proxy = new ProxyFacts(h);
    if (h.version === 1) { this.#c.proxyV1++; cs.indicators |= IndicatorBit.PROXY_V1; } else { this.#c.proxyV2++; cs.indicators |= IndicatorBit.PROXY_V2; }
    if (h.local) this.#c.proxyLocal++;
    if (h.vpceId !== undefined) this.#c.proxyVpce++;
  }

  // ---------------------------------------------------------------- HTTP

  /**
   * One segment of a direction's HTTP stream. A stream between messages (HttpStream.idle) is
   * none: one is taken from the pool for the segment and given back when its message is done,
   * so an HTTP connection at rest holds no stream (64 bytes each way, issue 6: memory with
   * 100k connections). An idle stream and a new one behave the same. Returns what the
   * connection keeps.
   */
  #pushHttp(s: HttpStream<ConnectionState> | undefined, handler: HttpStreamHandler<ConnectionState>, cs: ConnectionState,
    buf: Uint8Array, off: number, cap: number, len: number, ts: number): HttpStream<ConnectionState> | undefined {
    const st = s ?? this.#takeStream();
    st.push(handler, cs, buf, off, cap, len, ts);
    return this.#keep(st);
  }

  /** `n` bytes of a direction's HTTP stream were not captured (see #pushHttp). */
  #gapHttp(s: HttpStream<ConnectionState> | undefined, handler: HttpStreamHandler<ConnectionState>, cs: ConnectionState,
    n: number, ts: number): HttpStream<ConnectionState> | undefined {
    const st = s ?? this.#takeStream();
    st.gap(handler, cs, n, ts);
    return this.#keep(st);
  }

  /** A stream between messages: a pooled one, or a new one. */
  #takeStream(): HttpStream<ConnectionState> {
    return this.#streams.pop() ?? new HttpStream<ConnectionState>();
  }

  /** The stream, or none when it is between messages (it then goes back to the pool). */
  #keep(st: HttpStream<ConnectionState>): HttpStream<ConnectionState> | undefined {
    if (!st.idle) return st;
    if (this.#streams.length < STREAM_POOL_MAX) this.#streams.push(st);
    return undefined;
  }

  /** The request stream stops following messages (an upgrade, a tunnel). */
  #requestsOpaque(cs: ConnectionState): void {
    const st = cs.req ?? this.#takeStream();
    st.setOpaque();
    cs.req = st;
  }

  #malformedHead(reason: string): void {
    if (reason === 'head_too_large') this.#c.headsTooLarge++;
    else this.#c.malformedStartLines++;
  }

  /** A request head read in one pass where its segment starts (see HttpStreamHandler.onHeadIn). */
  #requestHeadIn(cs: ConnectionState, buf: Uint8Array, off: number, len: number, ts: number, out: ScannedHead): boolean {
    const h = this.#reqScan;
    if (!scanRequestHead(buf, off, len, this.#keepQuery, false, h, HeadRange.OPEN)) return false;
    out.length = h.length;
    out.framing = this.#request(cs, h, ts, ts);
    return true;
  }

  #requestHead(cs: ConnectionState, buf: Uint8Array, off: number, len: number, partial: boolean, firstTs: number, lastTs: number): Framing {
    const h = this.#reqScan;
    if (!scanRequestHead(buf, off, len, this.#keepQuery, partial, h, HeadRange.WHOLE)) {
      if (h.status === ScanStatus.MALFORMED) this.#malformedHead(h.reason);
      return RESYNC;
    }
    return this.#request(cs, h, firstTs, lastTs);
  }

  /** A scanned request head: counted, paired later with its response; the framing of its body. */
  #request(cs: ConnectionState, h: RequestHeadScan, firstTs: number, lastTs: number): Framing {
    if (h.partial) this.#c.partialHeads++;
    this.#onRequest(cs, h, firstTs, lastTs);
    if (h.contentLength === -2) return RESYNC;
    if (h.chunked) return CHUNKED;
    if (h.contentLength > 0) return this.#length(h.contentLength);
    return NO_BODY;
  }

  #length(n: number): Framing {
    this.#bodyLength.length = n;
    return this.#bodyLength;
  }

  #onRequest(cs: ConnectionState, h: RequestHeadScan, firstTs: number, lastTs: number): void {
    const b = h.buf;
    const hc = healthCheckerVersionOf(b, h.uaStart, h.uaEnd);
    if (h.traceStart >= 0) cs.indicators |= IndicatorBit.TRACE_ID;
    else if (h.xffFields > 0 || h.xfProtoStart >= 0) cs.indicators |= IndicatorBit.FORWARDED_WITHOUT_TRACE;
    if (hc === 'v2') cs.indicators |= IndicatorBit.HEALTH_CHECKER_V2;
    if (hc === 'v1') cs.indicators |= IndicatorBit.HEALTH_CHECKER_V1;
    const method = scannedMethod(h);
    // The path as a string only when an event here needs it; the pending record keeps its bytes.
    let path: string | undefined;

    let clientIp: string | undefined;
    if (h.xffFields > 0) {
      const own = cs.facts.responderIp;
      let entries = 1;
      let containsOwn = false;
      let repeated: string | undefined;
      if (h.xffFields === 1 && plainIpv4(b, h.xffRanges[0] ?? 0, h.xffRanges[1] ?? 0, this.#ipv4Out)) {
        // One plain IPv4 entry (the usual case behind one ALB): what analyzeForwardedFor
        // would conclude, without splitting strings.
        // plainIpv4 takes only the canonical text (no leading zeros): the cached one is the same.
        const ip = ip4Text(this.#ipv4Out[0] ?? 0);
        containsOwn = ip === own;
        if (!containsOwn && !this.#isTrusted(ip)) clientIp = ip;
      } else {
        const a = analyzeForwardedFor(scannedForwardedFor(h) as string, this.#isTrusted, own);
        clientIp = a.clientIp;
        entries = a.entries;
        containsOwn = a.containsOwnAddress;
        repeated = a.repeatedAddress;
      }
      // A cut list lost its right end, where the client is: the count is a lower bound.
      if (h.xffCut) clientIp = undefined;
      if (containsOwn) {
        this.#loop('own_address_in_xff', firstTs, cs, `This instance's address ${own} is already in X-Forwarded-For (${entries} entries): the request came back to us`,
          { xff_entries: entries, method, path: (path ??= latin1(b, h.pathStart, h.pathEnd)), address: own }, clientIp);
      } else if (repeated !== undefined) {
        this.#loop('repeated_address_in_xff', firstTs, cs, `Address ${repeated} appears twice in X-Forwarded-For (${entries} entries)`,
          { xff_entries: entries, method, path: (path ??= latin1(b, h.pathStart, h.pathEnd)), address: repeated }, clientIp);
      } else if (entries > ALB_MAX_XFF_ENTRIES) {
        this.#loop('xff_too_long', firstTs, cs, `X-Forwarded-For has ${entries} entries (an ALB answers 463 above ${ALB_MAX_XFF_ENTRIES})`,
          { xff_entries: entries, method, path: (path ??= latin1(b, h.pathStart, h.pathEnd)) }, clientIp);
      }
    }
    if (h.traceStart >= 0 && findTraceRoot(b, h.traceStart, h.traceEnd, this.#rootOut)) {
      const rs = this.#rootOut[0] ?? 0;
      const re = this.#rootOut[1] ?? 0;
      const n = this.#traces.observeBytes(b, rs, re, firstTs);
      if (n > 0) {
        const root = latin1(b, rs, re);
        this.#loop('repeated_trace_id', firstTs, cs, `X-Amzn-Trace-Id ${root} arrived ${n} times within seconds: the request is going round`,
          { trace_id: latin1(b, h.traceStart, h.traceEnd), root, count: n, method, path: (path ??= latin1(b, h.pathStart, h.pathEnd)) }, clientIp);
      }
    }
    clientIp ??= this.#connectionClient(cs);
    if (hc !== undefined) cs.httpHealthCheck = true;
    else {
      this.#c.httpRequests++;
      const t = this.#byTarget.of(this.#binding(cs));
      if (t !== undefined) t.requests++;
      this.#top.add(clientIp);
      cs.clientCounted = true;
    }
    if (cs.pendingCount >= this.#maxPending) {
      const dropped = cs.shiftPending();
      if (dropped !== undefined) this.#pendingPool.release(dropped);
      this.#c.unansweredRequests++;
    }
    const rec = this.#pendingPool.take();
    rec.set(method, b, h.pathStart, h.pathEnd, h.traceStart, h.traceEnd, firstTs, lastTs, clientIp, hc);
    cs.pushPending(rec);
    if (hc !== undefined) this.#hcPending.add(cs);
  }

  /** A response head read in one pass where its segment starts (see HttpStreamHandler.onHeadIn). */
  #responseHeadIn(cs: ConnectionState, buf: Uint8Array, off: number, len: number, ts: number, out: ScannedHead): boolean {
    const res = this.#resScan;
    if (!scanResponseHead(buf, off, len, false, res, HeadRange.OPEN)) return false;
    out.length = res.length;
    out.framing = this.#response(cs, res, ts);
    return true;
  }

  #responseHead(cs: ConnectionState, buf: Uint8Array, off: number, len: number, partial: boolean, firstTs: number): Framing {
    const res = this.#resScan;
    if (!scanResponseHead(buf, off, len, partial, res, HeadRange.WHOLE)) {
      if (res.status === ScanStatus.MALFORMED) this.#malformedHead(res.reason);
      return RESYNC;
    }
    return this.#response(cs, res, firstTs);
  }

  /** A scanned response head: paired with the oldest pending request; the framing of its body. */
  #response(cs: ConnectionState, res: ResponseHeadScan, firstTs: number): Framing {
    if (res.partial) this.#c.partialHeads++;
    const status = res.status3;
    // Interim responses (100-continue, 103) precede the real one: not paired.
    if (status >= 100 && status < 200 && status !== 101) return NO_BODY;
    const req = cs.shiftPending();
    // Nothing left to time out: the connection's state may rest (classifiers.ts), out of the set.
    if (cs.pendingHead === undefined && cs.httpHealthCheck) this.#hcPending.delete(cs);
    if (req === undefined) this.#onOrphanResponse(cs, status, firstTs);
    else this.#onResponse(cs, req, status, firstTs);
    const method = req?.method;
    if (req !== undefined) this.#pendingPool.release(req);
    if (status === 101) {
      this.#c.upgrades++;
      this.#requestsOpaque(cs);
      return OPAQUE;
    }
    if (method === 'CONNECT' && status >= 200 && status < 300) { this.#requestsOpaque(cs); return OPAQUE; }
    if (!responseHasBody(method, status)) return NO_BODY;
    if (res.chunked) return CHUNKED;
    if (res.contentLength >= 0) return this.#length(res.contentLength);
    if (res.contentLength === -2) return RESYNC;
    return UNTIL_CLOSE;
  }

  #onResponse(cs: ConnectionState, req: PendingRequest, status: number, firstTs: number): void {
    const latencyMs = Math.max(0, (firstTs - req.lastTs) / 1000);
    if (req.hc !== undefined) {
      if (req.timedOut) return;
      const spec = this.#knowledge.healthCheckFor(cs.facts.responderPort);
      const timeoutMs = this.#hcTimeoutMs(cs);
      const late = latencyMs > timeoutMs;
      if (!late && this.#matcher(spec?.matcher)(status)) {
        // Passed: counted only (no event), so no detail is made.
        this.#healthCheckResult(cs, HealthCheckKind.HTTP, undefined, firstTs, '', NO_FIELDS);
        return;
      }
      const detail = { method: req.method, path: req.path, status: status, latency_ms: round3(latencyMs) };
      if (late) {
        this.#healthCheckResult(cs, HealthCheckKind.HTTP, HealthCheckFailReason.TIMEOUT, firstTs,
          `answered ${status} after ${round3(latencyMs)} ms, over the ${timeoutMs / 1000} s timeout`, { ...detail, timeout_ms: timeoutMs });
      } else {
        this.#healthCheckResult(cs, HealthCheckKind.HTTP, HealthCheckFailReason.STATUS, firstTs,
          `answered ${status}, expected ${spec?.matcher ?? '200-399'}`, { ...detail, matcher: spec?.matcher ?? '200-399' });
      }
      return;
    }
    const c = this.#c;
    c.latencyCount++;
    c.latencySumMs += latencyMs;
    if (latencyMs > c.latencyMaxMs) c.latencyMaxMs = latencyMs;
    this.#responseTime.add(latencyMs / 1000);
    const t = this.#countStatus(cs, status);
    if (t !== undefined) t.responseTime.add(latencyMs / 1000);
    if (status >= 500 && status < 600) {
      const f = cs.facts;
      this.#emit(EventType.APP_ERROR, `http_${status}`,
        `HTTP ${status}: ${req.method} ${req.path} from ${req.clientIp} via ${f.originatorIp}:${f.originatorPort} -> ${f.responderIp}:${f.responderPort} (${round3(latencyMs)} ms)`,
        firstTs, cs, req.clientIp,
        { status: status, method: req.method, path: req.path, latency_ms: round3(latencyMs), trace_id: req.traceId ?? null });
    }
  }

  /**
   * A response with no request waiting for it: its request was not seen (sent before the capture
   * began, or its head was lost), or the target answered none (a 408 before closing an idle
   * connection). Its status counts as any other's, as the load balancer's HTTPCode_Target_*
   * metrics count every answer; it has no latency, method or path, and its 5xx event says the
   * request was not seen. Its client is the proxy header's, or the originator unless that is a
   * load balancer or a trusted proxy (whose connections carry many clients). On a health-check
   * connection it is left out, as every answer there is.
   */
  #onOrphanResponse(cs: ConnectionState, status: number, firstTs: number): void {
    this.#c.orphanResponses++;
    if (cs.httpHealthCheck) return;
    this.#countStatus(cs, status);
    if (status < 500 || status >= 600) return;
    const f = cs.facts;
    const client = cs.proxy?.srcIp ?? (this.#isTrusted(f.originatorIp) ? undefined : f.originatorIp);
    this.#emit(EventType.APP_ERROR, `http_${status}`,
      `HTTP ${status} to a request not seen (sent before the capture began, lost, or not HTTP): ${f.originatorIp}:${f.originatorPort} -> ${f.responderIp}:${f.responderPort}`,
      firstTs, cs, client,
      { status: status, method: null, path: null, latency_ms: null, trace_id: null, request_seen: false });
  }

  /**
   * The target's first bytes on a connection whose client did not speak HTTP (another protocol, a
   * TLS ClientHello, an HTTP/2 preface) or had said nothing yet: when they are an HTTP/1.x status
   * line, the target answered in HTTP all the same (a 400 to a scanner's bytes or to a TLS
   * ClientHello on a plain HTTP port, a 408 to a connection that sent nothing): its status counts
   * as a response whose request was not seen. Its stream is not followed further.
   */
  #firstAnswer(cs: ConnectionState, buf: Uint8Array, off: number, cap: number, ts: number): void {
    if (!isStatusLineStart(buf, off, cap)) return;
    const status = ((buf[off + 9] as number) - 0x30) * 100 + ((buf[off + 10] as number) - 0x30) * 10 + ((buf[off + 11] as number) - 0x30);
    this.#onOrphanResponse(cs, status, ts);
  }

  /** A response's status in the counters (by class, 4xx and 5xx by code, per target); its target's counters. */
  #countStatus(cs: ConnectionState, status: number): TargetCounters | undefined {
    const c = this.#c;
    c.httpResponses++;
    const cls = Math.floor(status / 100);
    if (cls >= 1 && cls <= 5) c.statusClasses[cls] = (c.statusClasses[cls] ?? 0) + 1;
    const t = this.#byTarget.of(this.#binding(cs));
    if (t !== undefined) {
      if (cls === 4) t.http4xx++;
      else if (cls === 5) t.http5xx++;
    }
    if (cls === 4) bump(c.status4xx, status);
    else if (cls === 5) bump(c.status5xx, status);
    return t;
  }

  #closePending(cs: ConnectionState, how: ConnEnd, ts: number): void {
    if (cs.pendingHead === undefined) return;
    let events = 0;
    const f = cs.facts;
    for (let req: PendingRequest | undefined = cs.pendingHead; req !== undefined; req = req.next) {
      if (req.hc !== undefined) {
        if (req.timedOut) continue;
        const why = how === ConnEnd.RESET_BY_RESPONDER ? HealthCheckFailReason.RESET
          : how === ConnEnd.FIN_BY_RESPONDER ? HealthCheckFailReason.CLOSED : HealthCheckFailReason.TIMEOUT;
        this.#healthCheckResult(cs, HealthCheckKind.HTTP, why, ts, `${how.replaceAll('_', ' ')} before answering ${req.method} ${req.path}`,
          { method: req.method, path: req.path });
        continue;
      }
      if (how !== ConnEnd.FIN_BY_RESPONDER && how !== ConnEnd.RESET_BY_RESPONDER) { this.#c.unansweredRequests++; continue; }
      const reset = how === ConnEnd.RESET_BY_RESPONDER;
      if (reset) this.#c.targetResetBeforeResponse++; else this.#c.targetClosedBeforeResponse++;
      if (events++ >= MAX_CLOSE_EVENTS) continue;
      const waitedMs = round3(Math.max(0, (ts - req.lastTs) / 1000));
      const idleMs = round3(Math.max(0, (req.firstTs - cs.openedTs) / 1000));
      this.#emit(EventType.APP_ERROR, reset ? 'target_reset_before_response' : 'target_closed_before_response',
        `Target ${reset ? 'reset' : 'closed'} the connection before answering ${req.method} ${req.path} ` +
        `(${f.originatorIp}:${f.originatorPort} -> ${f.responderIp}:${f.responderPort}); the load balancer answers 502. ` +
        `Classic cause: the target's keep-alive timeout is shorter than the load balancer's idle timeout`,
        ts, cs, req.clientIp,
        { method: req.method, path: req.path, waited_ms: waitedMs, connection_age_ms: idleMs, trace_id: req.traceId ?? null,
          hint: 'target keep-alive timeout shorter than the load balancer idle timeout' });
    }
    for (let req = cs.shiftPending(); req !== undefined; req = cs.shiftPending()) this.#pendingPool.release(req);
  }

  // ---------------------------------------------------------------- TLS

  #startTls(cs: ConnectionState): void {
    cs.tlsC2s = new TlsStream({
      want: (type, len) => (type === TlsContentType.HANDSHAKE && !cs.helloSeen ? len : type === TlsContentType.ALERT ? 2 : 0),
      onRecord: (type, len, body, _truncated, ts) => {
        if (type === TlsContentType.HANDSHAKE && !cs.helloSeen) {
          cs.helloSeen = true;
          this.#c.httpsConnections++;
          this.#countClientOnce(cs);
          const h = parseClientHelloBody(body, 0, body.length);
          if (h.status === 'ok') {
            this.#c.clientHellosParsed++;
            bump(this.#c.tlsVersions, h.value.versionName);
            cs.sni = this.#sharedSni(h.value.sni);
          } else if (h.status === 'malformed') this.#c.tlsMalformed++;
        } else if (type === TlsContentType.APPLICATION_DATA && cs.helloSeen) {
          // The client encrypts only after processing the server's flight: the handshake is done.
          this.#handshakeDone(cs);
        } else if (type === TlsContentType.CHANGE_CIPHER_SPEC && cs.helloSeen) this.#changeCipherSpec(cs, 1);
        else if (type === TlsContentType.ALERT && len === 2) this.#alert(cs, true, body, ts);
      },
      onMalformed: () => { this.#c.tlsMalformed++; },
    });
    cs.tlsS2c = new TlsStream({
      want: (type) => (type === TlsContentType.ALERT ? 2 : 0),
      onRecord: (type, len, body, _truncated, ts) => {
        if (type === TlsContentType.ALERT && len === 2) this.#alert(cs, false, body, ts);
        else if (type === TlsContentType.CHANGE_CIPHER_SPEC && cs.helloSeen) this.#changeCipherSpec(cs, 2);
      },
      onMalformed: () => { this.#c.tlsMalformed++; },
    });
  }

  #sharedSni(name: string | undefined): string | undefined {
    if (name === undefined) return undefined;
    const known = this.#sniNames.get(name);
    if (known !== undefined) return known;
    if (this.#sniNames.size >= SNI_NAMES_MAX) this.#sniNames.clear();
    this.#sniNames.set(name, name);
    return name;
  }

  /**
   * Both sides switched to the negotiated keys (TLS 1.2, and TLS 1.3 in its usual
   * middlebox-compatibility mode): the handshake is done even when the client's first
   * application-data record is never seen (at -s N the kernel keeps it from us).
   */
  #changeCipherSpec(cs: ConnectionState, side: 1 | 2): void {
    cs.ccsSeen |= side;
    if (cs.ccsSeen === 3) this.#handshakeDone(cs);
  }

  /**
   * Later alerts are encrypted: stop walking records, and let go of both walks (their
   * handlers, closures and buffers were ~1.5 KB per connection for as long as it lived).
   */
  #handshakeDone(cs: ConnectionState): void {
    cs.handshakeDone = true;
    // The server name is reported only with an alert, and alerts are not read past this point.
    cs.sni = undefined;
    cs.tlsC2s?.stop();
    cs.tlsS2c?.stop();
    cs.tlsC2s = undefined;
    cs.tlsS2c = undefined;
  }

  #alert(cs: ConnectionState, fromOriginator: boolean, body: Uint8Array, ts: number): void {
    if (body.length < 2) return;
    const level = body[0] ?? 0;
    const desc = body[1] ?? 0;
    const name = TlsAlertName[desc] ?? `unknown_${desc}`;
    bump(this.#c.tlsAlerts, name);
    if (level !== TlsAlertLevel.FATAL) return;
    this.#c.fatalAlerts++;
    const f = cs.facts;
    const by = fromOriginator ? 'peer' : 'target';
    this.#emit(EventType.TLS_ERROR, 'fatal_alert',
      `TLS alert ${name} (fatal) sent by the ${by}: ${f.originatorIp}:${f.originatorPort} -> ${f.responderIp}:${f.responderPort}${cs.sni !== undefined ? ` (SNI ${cs.sni})` : ''}`,
      ts, cs, this.#connectionClient(cs), { alert: name, alert_code: desc, sent_by: by, sni: cs.sni ?? null });
  }

  // ---------------------------------------------------------------- health checks, clients, LB type

  #tcpHealthCheck(cs: ConnectionState, how: ConnEnd, established: boolean, ts: number, seqBytes: number): void {
    if (cs.httpHealthCheck) return;
    const viaLocal = cs.proxy?.local === true && cs.preLen - cs.preStart <= 0 && cs.phase !== Phase.HTTP && cs.phase !== Phase.TLS;
    const silent = !cs.c2sData && !cs.s2cData && seqBytes === 0;
    const fromLb = this.#knowledge.isLoadBalancerAddress(cs.facts.originatorIp);
    if (!viaLocal && !(silent && fromLb)) return;
    const spec = this.#knowledge.healthCheckFor(cs.facts.responderPort);
    // A refused or unanswered SYN says nothing about why the LB connected: only when a
    // check is known for this port is it a failed check (flows reports it as
    // CONNECTION_FAILED either way).
    const failedToConnect = how === ConnEnd.REFUSED || how === ConnEnd.UNANSWERED || (!established && !viaLocal);
    if (failedToConnect && spec === undefined) return;
    const kind = spec !== undefined && (spec.protocol === 'HTTP' || spec.protocol === 'HTTPS') ? HealthCheckKind.HTTP : HealthCheckKind.TCP;
    cs.indicators |= IndicatorBit.TCP_HEALTH_CHECK;
    let why: string | undefined;
    if (how === ConnEnd.REFUSED) why = HealthCheckFailReason.REFUSED;
    else if (failedToConnect) why = HealthCheckFailReason.UNANSWERED;
    else if (how === ConnEnd.RESET_BY_RESPONDER) why = HealthCheckFailReason.RESET;
    const detail = why === undefined ? '' : `connection ${how.replaceAll('_', ' ')}`;
    this.#healthCheckResult(cs, kind, why, ts, detail, { ended: how, via_proxy_local: viaLocal });
  }

  #healthCheckResult(cs: ConnectionState, kind: HealthCheckKind, why: string | undefined, ts: number, detail: string, fields: Record<string, unknown>): void {
    const bucket = this.#c.healthChecks[kind];
    const binding = this.#binding(cs);
    const lbKey = binding?.lb.name ?? binding?.lb.dimension ?? this.#lbType(cs);
    let byLb = this.#c.healthChecksByLb.get(lbKey);
    if (byLb === undefined) { byLb = { ok: 0, failed: 0 }; this.#c.healthChecksByLb.set(lbKey, byLb); }
    const t = this.#byTarget.of(binding);
    if (why === undefined) {
      bucket.ok++;
      byLb.ok++;
      if (t !== undefined) t.healthChecksOk++;
      return;
    }
    bucket.failed++;
    byLb.failed++;
    if (t !== undefined) t.healthChecksFailed++;
    bump(this.#c.healthCheckFailures, `${kind}:${why}`);
    const f = cs.facts;
    this.#emit(EventType.HEALTH_CHECK_FAIL, why,
      `Health check failed (${kind.toUpperCase()}): ${detail} (${f.originatorIp}:${f.originatorPort} -> ${f.responderIp}:${f.responderPort})`,
      ts, cs, undefined, { check: kind, ...fields });
  }

  #hcTimeoutMs(cs: ConnectionState): number {
    return (this.#knowledge.healthCheckFor(cs.facts.responderPort)?.timeoutSec ?? DEFAULT_HEALTH_CHECK_TIMEOUT_SEC) * 1000;
  }

  #matcher(spec: string | undefined): StatusMatcher {
    const key = spec ?? '';
    let m = this.#matchers.get(key);
    if (m === undefined) { m = compileMatcher(spec); this.#matchers.set(key, m); }
    return m;
  }

  /** The client of a connection without X-Forwarded-For: proxy-protocol source, else the packet source. */
  #connectionClient(cs: ConnectionState): string {
    return cs.proxy?.srcIp ?? cs.facts.originatorIp;
  }

  #countClientOnce(cs: ConnectionState): void {
    if (cs.clientCounted) return;
    cs.clientCounted = true;
    this.#top.add(this.#connectionClient(cs));
  }

  #binding(cs: ConnectionState): LbBinding | undefined {
    return this.#knowledge.lbFor(cs.facts.responderPort, cs.facts.originatorIp);
  }

  #lbType(cs: ConnectionState): LbType {
    return this.#binding(cs)?.lb.type ?? guessLbType(cs.indicators);
  }

  #lbRef(cs: ConnectionState): LbRef {
    return this.#binding(cs)?.lb ?? { type: guessLbType(cs.indicators) };
  }

  // ---------------------------------------------------------------- events

  #loop(reason: string, ts: number, cs: ConnectionState | undefined, message: string, evidence: Record<string, unknown>, clientIp?: string): void {
    bump(this.#c.loops, reason);
    const last = this.#lastLoopEvent.get(reason);
    if (last !== undefined && ts - last < LOOP_EVENT_INTERVAL_MICROS && ts >= last) return;
    this.#lastLoopEvent.set(reason, ts);
    if (cs === undefined) {
      this.#sink.emit(this.#events.create(EventType.LOOP_DETECTED, reason, `Forwarding loop suspected: ${message}`, ts, { evidence }));
      return;
    }
    this.#emit(EventType.LOOP_DETECTED, reason, `Forwarding loop suspected: ${message}`, ts, cs, clientIp, { evidence });
  }

  #emit(type: EventType, reason: string, message: string, ts: number, cs: ConnectionState, clientIp: string | undefined, details: Record<string, unknown>): void {
    const f = cs.facts;
    const binding = this.#binding(cs);
    const fields: Record<string, unknown> = {
      proto: 'tcp', src_ip: f.originatorIp, src_port: f.originatorPort, dst_ip: f.responderIp, dst_port: f.responderPort,
      lb: this.#lbRef(cs),
      ...details,
    };
    if (clientIp !== undefined) fields['client_ip'] = clientIp;
    if (binding?.targetGroup !== undefined) fields['target_group'] = binding.targetGroup;
    if (cs.proxy?.vpceId !== undefined) fields['vpce_id'] = cs.proxy.vpceId;
    const event: AnalyzerEvent = this.#events.create(type, reason, message, ts, fields);
    this.#sink.emit(event);
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
