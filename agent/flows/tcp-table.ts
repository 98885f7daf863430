/**
 * The TCP connection table and its analysis: finds the connection of every TCP
 * packet without allocating, follows each side's state (Zeek's model), turns
 * resets, refusals, unanswered SYNs and abandoned handshakes into events, counts
 * the per-segment figures tshark reports, and expires connections in O(1).
 * Time comes from packet timestamps, so a capture file behaves as live capture.
 */
import { IpProto, IpVersion, TcpFlag, type PacketView } from '../decode/packet-view.js';
import { EventType, type EventSink } from '../events/schema.js';
import type { EventFactory } from '../events/event-factory.js';
import { EventLimiter } from '../events/event-limiter.js';
import { EndpointState } from './conn-state.js';
import { ConnQueue } from './conn-list.js';
import { ConnStore } from './conn-store.js';
import { CF, CU, TB } from './conn-columns.js';
import { FlowCounters, type FlowSnapshot } from './flow-stats.js';
import { sampleHash4, sampleHash6, tableHash4, tableHash6 } from './flow-hash.js';
import { FLOW_DEFAULTS, positiveInt, seconds, type FlowTableOptions } from './flow-options.js';
import { NO_LOCAL_ADDRESSES, type LocalAddresses } from './local-addresses.js';
import { analyseSegment, isRetransmission, OUT_OF_ORDER_THRESHOLD_MICROS, SegmentKind, seqLt } from './tcp-analysis.js';
import { connectionEvent } from './flow-events.js';
import { ConnList, Connection, type Endpoint } from './tcp-connection.js';
import type { TcpObserver } from './tcp-observer.js';

export { FLOW_DEFAULTS, flowOptionsFromConfig, type FlowConfig, type FlowTableOptions } from './flow-options.js';

const { SYN, ACK, FIN, RST } = TcpFlag;
const ES = EndpointState;

// History letters (Zeek): bit positions per side, in the order of Connection's letter table
// (S H A D F R T W I Q: bit 1 << n is letter n).
const H_SYN = 1, H_SYNACK = 2, H_ACK = 4, H_DATA = 8, H_FIN = 16, H_RST = 32, H_RETX = 64, H_ZWIN = 128, H_INCONS = 256, H_MULTI = 512;

// How a connection left the table (for the counters).
const Exit = { CLOSED: 0, EXPIRED: 1, EVICTED: 2, FLUSHED: 3 } as const;
type Exit = (typeof Exit)[keyof typeof Exit];

export class FlowTable {
  readonly #sink: EventSink;
  readonly #events: EventFactory;
  readonly #observer: TcpObserver | undefined;
  readonly #local: LocalAddresses;
  readonly #max: number;
  readonly #idle: number;
  readonly #synTimeout: number;
  readonly #linger: number;
  readonly #failedLinger: number;
  readonly #sample: number;
  readonly #maxUdpPorts: number;
  readonly #counters = new FlowCounters();
  /** Connection events beyond the per-second limit become one summary per type, reason and second. */
  readonly #limiter: EventLimiter;

  /** Hash buckets: index + 1 of the chain's first connection (0 = empty). */
  readonly #buckets: Int32Array;
  readonly #mask: number;
  readonly #store = new ConnStore();
  /** Connection indexes made so far (the store's high-water mark). */
  #made = 0;
  /** Indexes free for reuse, chained through their hash links (-1 = none). */
  #free = -1;
  #size = 0;
  readonly #handshake = new ConnQueue(ConnList.HANDSHAKE, this.#store);
  readonly #active = new ConnQueue(ConnList.ACTIVE, this.#store);
  readonly #closing = new ConnQueue(ConnList.CLOSING, this.#store);
  /** Unanswered or abandoned handshakes, already reported. */
  readonly #failed = new ConnQueue(ConnList.FAILED, this.#store);
  /** The connection of the packet being analysed. */
  readonly #cur = new Connection(this.#store);
  /** A connection leaving the table or timing out (never the packet's, so #cur stays valid). */
  readonly #aux = new Connection(this.#store);
  #now = 0;
  #limiterTicked = 0;
  /**
   * No time-out is due before this (µs): the earliest of the four lists' oldest connection's
   * deadline and the limiter's next tick, computed when #expire last looked. Deadlines only
   * move later, except when a connection joins a list: every push sets it to 0 (look again).
   */
  #nextDue = 0;

  constructor(opts: FlowTableOptions) {
    this.#sink = opts.sink;
    this.#events = opts.events;
    this.#observer = opts.observer;
    this.#local = opts.localAddresses ?? NO_LOCAL_ADDRESSES;
    this.#max = positiveInt('maxConnections', opts.maxConnections ?? FLOW_DEFAULTS.maxConnections);
    this.#idle = seconds('idleTimeoutSec', opts.idleTimeoutSec ?? FLOW_DEFAULTS.idleTimeoutSec);
    this.#synTimeout = seconds('synTimeoutSec', opts.synTimeoutSec ?? FLOW_DEFAULTS.synTimeoutSec);
    this.#linger = seconds('closedLingerSec', opts.closedLingerSec ?? FLOW_DEFAULTS.closedLingerSec);
    this.#failedLinger = seconds('failedLingerSec', opts.failedLingerSec ?? FLOW_DEFAULTS.failedLingerSec);
    this.#sample = positiveInt('sample', opts.sample ?? 1);
    this.#maxUdpPorts = positiveInt('maxUdpPorts', opts.maxUdpPorts ?? FLOW_DEFAULTS.maxUdpPorts);
    this.#limiter = new EventLimiter({
      sink: opts.sink,
      events: opts.events,
      perWindow: positiveInt('eventsPerSecond', opts.eventsPerSecond ?? FLOW_DEFAULTS.eventsPerSecond),
      windowMicros: 1_000_000,
    });
    // At least as many buckets as connections (load factor <= 1 when full): a chain then
    // averages under 1.5 lookups for a hit. Twice as many cost 4 bytes more per connection
    // of the bound (issue 6: RSS with 100k connections) for chains shorter only near the bound.
    let n = 16;
    while (n < this.#max) n *= 2;
    this.#buckets = new Int32Array(n);
    this.#mask = n - 1;
  }

  /** Connections in the table now. */
  get size(): number {
    return this.#size;
  }

  /** Analyse one decoded packet (TCP or UDP; anything else is ignored). */
  onPacket(v: PacketView): void {
    if (v.proto === IpProto.TCP) {
      if (v.tcpHeaderLen === 0) return; // a non-first fragment: no TCP header to follow
      this.#tcp(v);
    } else if (v.proto === IpProto.UDP) {
      if (!v.fragment || v.l4Offset !== 0) this.#counters.countUdp(v.dstPort, this.#maxUdpPorts);
    }
  }

  /** Advance time without packets (live capture): expires idle connections, fires SYN timeouts. */
  tick(nowMicros: number): void {
    if (nowMicros > this.#now) this.#now = nowMicros;
    this.#expire();
  }

  /** End of input or shutdown: time-outs due by `nowMicros` fire, every other connection leaves as it is. */
  flush(nowMicros: number = this.#now): void {
    this.tick(nowMicros);
    for (const q of [this.#handshake, this.#active, this.#closing, this.#failed]) {
      while (q.head !== -1) this.#finish(q.head, Exit.FLUSHED);
    }
    this.#limiter.flush();
  }

  snapshot(): FlowSnapshot {
    return this.#counters.snapshot(this.#sample, this.#size);
  }

  /** Visit every connection in the table (tests, debugging): a view of its own for each. */
  forEach(fn: (c: Readonly<Connection>) => void): void {
    for (const q of [this.#handshake, this.#active, this.#closing, this.#failed]) {
      for (let i = q.head; i !== -1; i = this.#store.next(i)) fn(new Connection(this.#store).point(i));
    }
  }

  // ---------------------------------------------------------------- lookup

  #tcp(v: PacketView): void {
    // Time is read where it is used, never passed as an argument: a double argument to a call
    // that is not inlined is a heap number, one allocation per packet (allocation sampling).
    if (v.tsMicros > this.#now) this.#now = v.tsMicros;
    this.#expire();
    this.#counters.tcpPackets++;

    const v4 = v.ipVersion === IpVersion.V4;
    const hash = (v4
      ? tableHash4(v.src4, v.dst4, v.srcPort, v.dstPort)
      : tableHash6(v.buf, v.src6Offset, v.dst6Offset, v.srcPort, v.dstPort)) | 0;
    const c = this.#cur;
    const store = this.#store;
    let i = (this.#buckets[hash & this.#mask] as number) - 1;
    let fromOrig = true;
    for (; i !== -1; i = store.hashNext(i)) {
      c.point(i);
      const dir = v4 ? match4(c, v) : match6(c, v);
      if (dir !== 0) { fromOrig = dir === 1; break; }
    }
    const flags = v.tcpFlags;
    if (i !== -1 && (flags & (SYN | ACK | RST)) === SYN && this.#isNewIncarnation(c, fromOrig, v)) {
      // The 5-tuple is reused by a new connection: the old one ends here.
      this.#finish(i, Exit.CLOSED);
      i = -1;
    }
    if (i === -1) {
      this.#create(c, v, hash);
      fromOrig = c.origPort === v.srcPort && (v4 ? c.origIp4 === v.src4 : c.eq6(v.buf, v.src6Offset, 0));
    }
    this.#update(c, fromOrig, v);
  }

  /**
   * A SYN opens a new connection on the same 5-tuple when it is not a retry of
   * the sender's earlier SYN (retries keep the ISN), or when the old connection is
   * finished and the sender never sent a SYN in it.
   */
  #isNewIncarnation(c: Connection, fromOrig: boolean, v: PacketView): boolean {
    const s = fromOrig ? c.orig : c.resp;
    if (s.syns > 0) return v.seq !== s.isn;
    return c.list === ConnList.CLOSING || c.orig.state === ES.RESET || c.resp.state === ES.RESET;
  }

  /** A new connection for the packet in `v`, with `c` (the packet's view) pointed at it. */
  #create(c: Connection, v: PacketView, hash: number): void {
    if (this.#size >= this.#max) this.#evictOne();
    let index = this.#free;
    if (index !== -1) this.#free = this.#store.hashNext(index);
    else index = this.#made++;
    c.point(index);
    // A fresh slot is zero; a reused one was cleared when its connection left, but for its
    // free-list link, set again here. Every column's empty value is 0.
    this.#store.setHashNext(index, -1);
    const flags = v.tcpFlags;
    // The originator sent the SYN; a SYN-ACK's receiver is the originator; otherwise guess by ports.
    let senderIsOrig: boolean;
    if ((flags & SYN) !== 0) {
      senderIsOrig = (flags & ACK) === 0;
      c.synSeen = true;
    } else {
      senderIsOrig = looksLikeClientPort(v.srcPort, v.dstPort);
      c.synSeen = false;
    }
    c.ipVersion = v.ipVersion;
    if (v.ipVersion === IpVersion.V4) {
      // Written in place: an address above 2^31 passed to a setter would be a heap number.
      const cu = c.chunk.cu32;
      cu[c.slot * CU.STRIDE + CU.ORIG_IP4] = senderIsOrig ? v.src4 : v.dst4;
      cu[c.slot * CU.STRIDE + CU.RESP_IP4] = senderIsOrig ? v.dst4 : v.src4;
      c.sampled = sampleHash4(v.src4, v.dst4, v.srcPort, v.dstPort) % this.#sample === 0;
    } else {
      c.setIp6(v.buf, senderIsOrig ? v.src6Offset : v.dst6Offset, senderIsOrig ? v.dst6Offset : v.src6Offset);
      c.sampled = sampleHash6(v.buf, v.src6Offset, v.dst6Offset, v.srcPort, v.dstPort) % this.#sample === 0;
    }
    c.setPorts(senderIsOrig ? v.srcPort : v.dstPort, senderIsOrig ? v.dstPort : v.srcPort);
    c.localIsOriginator = this.#originatorIsLocal(c);
    const cf = c.chunk.cf64;
    cf[c.slot * CF.STRIDE + CF.FIRST_SEEN] = v.tsMicros;
    cf[c.slot * CF.STRIDE + CF.LAST_SEEN] = v.tsMicros;

    const b = hash & this.#mask;
    this.#store.setHashNext(index, (this.#buckets[b] as number) - 1);
    this.#buckets[b] = index + 1;
    this.#size++;
    this.#counters.opened++;
    if (this.#size > this.#counters.trackedPeak) this.#counters.trackedPeak = this.#size;
    if ((flags & SYN) !== 0 && (flags & RST) === 0) this.#handshake.push(index); else this.#active.push(index);
    this.#nextDue = 0;
  }

  /** This instance is the originator only when its address is known and only the originator has it. */
  #originatorIsLocal(c: Connection): boolean {
    const l = this.#local;
    if (!l.known) return false;
    const o = c.ipVersion === IpVersion.V4 ? l.has4(c.origIp4) : l.has6(...c.ip6Ref(0));
    const r = c.ipVersion === IpVersion.V4 ? l.has4(c.respIp4) : l.has6(...c.ip6Ref(16));
    return o && !r;
  }

  // ---------------------------------------------------------------- per packet

  #update(c: Connection, fromOrig: boolean, v: PacketView): void {
    const now = v.tsMicros;
    // The connection's times, read and written in place (see #tcp on heap numbers).
    const cf = c.chunk.cf64;
    const cfAt = c.slot * CF.STRIDE;
    const cu = c.chunk.cu32;
    const cuAt = c.slot * CU.STRIDE;
    const firstSeen = cf[cfAt + CF.FIRST_SEEN] as number;
    const s = fromOrig ? c.orig : c.resp;
    const r = fromOrig ? c.resp : c.orig;
    const flags = v.tcpFlags;
    const syn = (flags & SYN) !== 0;
    const ack = (flags & ACK) !== 0;
    const fin = (flags & FIN) !== 0;
    const rst = (flags & RST) !== 0;
    const len = v.payloadLen;
    // No TCP window exceeds 1 GiB (65535 << 14): data that far from where its sender is was
    // forged or belongs to another incarnation. It is counted and left out (sequence space,
    // bytes, classifiers, and it does not keep the connection alive), unless the sender
    // continues exactly from it (a real jump).
    if (s.seqInit && !syn && !rst && (len > 0 || fin)) {
      const dist = (v.seq - s.nextSeq) | 0;
      if (dist >= 0x40000000 || dist <= -0x40000000) {
        if (s.lastKind === SegmentKind.OUT_OF_WINDOW && v.seq === s.lastSeq) s.nextSeq = v.seq;
        else {
          this.#counters.outOfWindow++;
          s.lastSeq = (v.seq + len + (fin ? 1 : 0)) >>> 0;
          s.lastKind = SegmentKind.OUT_OF_WINDOW;
          return;
        }
      }
    }

    if (now > (cf[cfAt + CF.LAST_SEEN] as number)) cf[cfAt + CF.LAST_SEEN] = now;

    // tshark's initial RTT (its out-of-order threshold): latest SYN to the first ACK without SYN.
    // Handshake times are µs after first-seen + 1 (0: none); see conn-columns.ts.
    const sinceFirst = now - firstSeen + 1;
    const timeFits = sinceFirst >= 1 && sinceFirst <= 0xffffffff;
    if (syn && !ack) cu[cuAt + CU.MRU_SYN_AT] = timeFits ? sinceFirst : 0;
    else if (ack && !syn && cu[cuAt + CU.FIRST_RTT] === 0 && (cu[cuAt + CU.MRU_SYN_AT] as number) > 0) {
      cu[cuAt + CU.FIRST_RTT] = Math.min(Math.max(0, sinceFirst - (cu[cuAt + CU.MRU_SYN_AT] as number)), 0xffffffff);
    }

    // The packet's time after the base of the endpoint times (conn-columns.ts, TB). Stored
    // only when it fits; passed on clamped to 32 bits, which keeps its sign and every
    // distance the analysis compares (under ~18 minutes).
    let at = now - (firstSeen - TB.SLACK + c.timeEpoch * TB.STEP);
    if (at > TB.MAX) at = c.rebaseTimes(at);
    const stamp = at >= 1 && at <= TB.MAX ? at : 0;
    const at32 = at > TB.MAX ? TB.MAX : at < -TB.MAX ? -TB.MAX : at;

    // Per-segment analysis (sampled flows only): before the sender's state moves.
    let kind: SegmentKind = SegmentKind.NORMAL;
    if (c.sampled && s.seqInit && !rst) {
      kind = analyseSegment(s, r, v, this.#counters, at32, c.firstRttMicros > 0 ? c.firstRttMicros : OUT_OF_ORDER_THRESHOLD_MICROS);
    }

    // Sequence space and bytes (every flow: cheap, and robust to filtered segments).
    if (!rst && kind !== SegmentKind.ZERO_WINDOW_PROBE) {
      const end = (v.seq + len + (syn ? 1 : 0) + (fin ? 1 : 0)) >>> 0;
      if (!s.seqInit) {
        s.seqInit = true;
        s.isn = v.seq;
        s.nextSeq = end;
        s.nextSeqAt = stamp;
        s.addBytes(len);
      } else if (seqLt(s.nextSeq, end)) {
        const adv = (end - s.nextSeq) >>> 0;
        // A jump of over 1 GiB is a bogus or resynchronised sequence number, not data.
        if (adv < 0x40000000) s.addBytes(Math.max(0, adv - (syn ? 1 : 0) - (fin ? 1 : 0)));
        s.nextSeq = end;
        s.nextSeqAt = stamp;
      }
      s.lastSeq = v.seq;
    }
    if (ack && !rst) {
      // The run of duplicate ACKs ends (written only when there is one: a write is a read-modify-write of the packed word).
      if ((!s.ackInit || v.ack !== s.lastAck) && s.dupAcks !== 0) s.dupAcks = 0;
      s.lastAck = v.ack;
      s.ackInit = true;
      s.ackAt = stamp;
    }
    s.lastKind = kind;

    // Zero window advertisements: always counted (a stalled receiver is an error signal).
    if (v.window === 0 && !syn && !fin && !rst) {
      this.#counters.zeroWindows++;
      this.#letter(c, s, fromOrig, H_ZWIN);
    }
    if (!rst) s.window = v.window;
    if (isRetransmission(kind)) this.#letter(c, s, fromOrig, H_RETX);

    // Endpoint states, as Zeek's TCP analyzer moves them.
    const wasReset = s.state === ES.RESET;
    if (rst) {
      if (syn) this.#letter(c, s, fromOrig, H_INCONS);
      this.#letter(c, s, fromOrig, H_RST);
      s.state = ES.RESET;
    } else {
      if (syn) {
        if (fin) this.#letter(c, s, fromOrig, H_MULTI);
        s.syns++;
        if (s.syns === 1) s.isn = v.seq;
        if (ack) {
          this.#letter(c, s, fromOrig, H_SYNACK);
          if (!fromOrig) cu[cuAt + CU.SYNACK_AT] = timeFits ? sinceFirst : 0;
          if (s.state === ES.INACTIVE || s.state === ES.SYN_SENT) {
            if (r.state === ES.SYN_SENT) r.state = ES.ESTABLISHED;
            s.state = ES.ESTABLISHED;
          }
        } else {
          this.#letter(c, s, fromOrig, H_SYN);
          if (s.state === ES.INACTIVE) s.state = ES.SYN_SENT;
          else if (fromOrig && s.syns > 1) this.#counters.synRetries++;
        }
      } else if (len > 0) {
        this.#letter(c, s, fromOrig, H_DATA);
      } else if (ack && !fin && c.sampled) {
        // Pure ACKs of unsampled flows never pass the kernel filter at -s N: leaving out
        // their letter keeps the history the same with the filter and without it.
        this.#letter(c, s, fromOrig, H_ACK);
      }
      if (!syn && s.state === ES.INACTIVE) s.state = ES.PARTIAL;
      if (fin) {
        this.#letter(c, s, fromOrig, H_FIN);
        s.state = ES.CLOSED;
      }
      // Past the handshake once the responder talks or the originator ACKs or sends data: a
      // client in SYN-SENT does neither, so this holds when the SYN-ACK was not captured too.
      if (!syn && !c.handshakeDone && (!fromOrig || ack || len > 0)) {
        c.handshakeDone = true;
        // Handshake RTT: the responder's (last) SYN-ACK to the originator's ACK, as seen here.
        const synAck = cu[cuAt + CU.SYNACK_AT] as number;
        if (c.sampled && fromOrig && ack && synAck > 0) this.#counters.countHandshakeRtt(sinceFirst - synAck);
      }
    }

    if (len > 0 && this.#observer !== undefined) this.#observer.onSegment(c, fromOrig, v);

    if (rst && !wasReset) this.#onReset(c, fromOrig, now);
    this.#place(c);
  }

  /** Keep the connection on the list its state calls for, at the tail (most recent). */
  #place(c: Connection): void {
    const o = c.orig.state;
    const r = c.resp.state;
    let want: ConnList;
    if (o === ES.RESET || r === ES.RESET || (o === ES.CLOSED && r === ES.CLOSED)) want = ConnList.CLOSING;
    else if (!c.handshakeDone && (c.orig.syns > 0 || c.resp.syns > 0) && o !== ES.CLOSED && r !== ES.CLOSED) {
      want = c.reported ? ConnList.FAILED : ConnList.HANDSHAKE;
    }
    else want = ConnList.ACTIVE;
    const q = this.#queue(want);
    const now = c.list;
    if (now === want) q.touch(c.index);
    else {
      if (now !== ConnList.NONE) this.#queue(now).remove(c.index);
      q.push(c.index);
      this.#nextDue = 0;
    }
  }

  #queue(l: ConnList): ConnQueue {
    return l === ConnList.HANDSHAKE ? this.#handshake : l === ConnList.CLOSING ? this.#closing : l === ConnList.FAILED ? this.#failed : this.#active;
  }

  #letter(c: Connection, s: Endpoint, fromOrig: boolean, bit: number): void {
    if ((s.historyBits & bit) !== 0) return;
    s.historyBits |= bit;
    c.addHistory(bit, fromOrig);
  }

  // ---------------------------------------------------------------- events

  #onReset(c: Connection, fromOrig: boolean, now: number): void {
    if (c.reported) return;
    const o = c.orig.state;
    const r = c.resp.state;
    if (!fromOrig && (o === ES.SYN_SENT || o === ES.SYN_ACK_SENT)) {
      c.reported = true;
      this.#counters.refused++;
      this.#emit(EventType.CONNECTION_FAILED, 'refused', 'Connection refused', c, true, now, {
        syn_retries: Math.max(0, c.orig.syns - 1),
      });
      return;
    }
    // The originator giving up on its own unanswered SYN (RSTOS0) is not a reset of a connection.
    if (fromOrig && (r === ES.INACTIVE || r === ES.PARTIAL) && c.resp.syns === 0 && c.orig.syns > 0) return;
    // A RST after both FINs only drops a socket already closed: nothing was lost.
    if ((fromOrig ? r : o) === ES.CLOSED && (fromOrig ? c.orig.historyBits : c.resp.historyBits) & H_FIN) return;
    c.reported = true;
    const byLocal = fromOrig === c.localIsOriginator;
    if (byLocal) this.#counters.resetsByTarget++; else this.#counters.resetsByPeer++;
    this.#emit(EventType.TCP_ERROR, byLocal ? 'reset_by_target' : 'reset_by_peer', 'Connection reset', c, fromOrig, now, {
      // Only claimed when the connection's start was seen: midstream, earlier data may have gone by.
      before_data: c.orig.bytes === 0 && c.resp.bytes === 0 && (c.orig.syns > 0 || c.resp.syns > 0),
      midstream: c.orig.syns === 0 && c.resp.syns === 0,
    });
  }

  #onHandshakeTimeout(i: number, deadline: number): void {
    const c = this.#aux.point(i);
    this.#handshake.remove(i);
    if (!c.reported) {
      if (c.resp.syns === 0 && c.orig.syns > 0) {
        c.reported = true;
        this.#counters.unanswered++;
        this.#emit(EventType.CONNECTION_FAILED, 'unanswered', 'Connection unanswered', c, true, deadline, {
          syn_retries: Math.max(0, c.orig.syns - 1),
          syn_timeout_ms: this.#synTimeout / 1000,
        });
      } else if (c.resp.syns > (c.sampled ? 0 : 1)) {
        // The kernel filter drops an unsampled flow's final handshake ACK, so silence
        // after one SYN-ACK proves nothing there: only a retried SYN-ACK (the responder
        // got no ACK) makes it abandoned. Sampled flows keep every packet.
        c.reported = true;
        this.#counters.abandoned++;
        this.#emit(EventType.CONNECTION_FAILED, 'handshake_abandoned', 'Handshake abandoned', c, true, deadline, {
          syn_retries: Math.max(0, c.orig.syns - 1),
          syn_ack_retries: Math.max(0, c.resp.syns - 1),
          syn_timeout_ms: this.#synTimeout / 1000,
        });
      }
    }
    // Kept a while so that later retries count on the same connection, not as new ones.
    if (c.reported) this.#failed.push(i); else this.#active.push(i);
    this.#nextDue = 0;
  }

  #emit(type: EventType, reason: string, text: string, c: Connection, srcIsOrig: boolean, ts: number, extra: Record<string, unknown>): void {
    // Asked before the event is built: a flood's suppressed events cost a count, not an object.
    if (!this.#limiter.admit(type, reason, ts)) {
      this.#counters.eventsSuppressed++;
      return;
    }
    this.#sink.emit(connectionEvent(this.#events, type, reason, text, c, srcIsOrig, ts, extra));
  }

  // ---------------------------------------------------------------- expiry

  #expire(): void {
    // Per packet: one comparison unless something may be due.
    if (this.#now < this.#nextDue) return;
    this.#expireDue();
  }

  #expireDue(): void {
    const now = this.#now;
    for (let i = this.#handshake.head; this.#headDue(i, this.#synTimeout) <= now; i = this.#handshake.head) {
      this.#onHandshakeTimeout(i, this.#headDue(i, this.#synTimeout));
    }
    for (let i = this.#closing.head; this.#headDue(i, this.#linger) <= now; i = this.#closing.head) this.#finish(i, Exit.CLOSED);
    for (let i = this.#failed.head; this.#headDue(i, this.#failedLinger) <= now; i = this.#failed.head) this.#finish(i, Exit.EXPIRED);
    for (let i = this.#active.head; this.#headDue(i, this.#idle) <= now; i = this.#active.head) this.#finish(i, Exit.EXPIRED);
    // Summaries of suppressed events are due at most once per window: looked at every 100 ms.
    if (now - this.#limiterTicked >= 100_000) {
      this.#limiterTicked = now;
      this.#limiter.tick(now);
    }
    this.#nextDue = Math.min(this.#limiterTicked + 100_000, this.#headDue(this.#handshake.head, this.#synTimeout),
      this.#headDue(this.#closing.head, this.#linger), this.#headDue(this.#failed.head, this.#failedLinger),
      this.#headDue(this.#active.head, this.#idle));
  }

  /** When the connection at the head of a list times out (Infinity: the list is empty). */
  #headDue(i: number, timeout: number): number {
    if (i === -1) return Infinity;
    return this.#store.lastSeen(i) + timeout;
  }

  /**
   * Make room, least useful first: the oldest closed, then reported failed, then
   * pending handshake (a SYN flood), and only then the oldest live connection.
   */
  #evictOne(): void {
    const i = this.#closing.head !== -1 ? this.#closing.head
      : this.#failed.head !== -1 ? this.#failed.head
      : this.#handshake.head !== -1 ? this.#handshake.head
      : this.#active.head;
    if (i !== -1) this.#finish(i, Exit.EVICTED);
  }

  /** Connection `i` leaves the table: unlinked, counted, shown to the observer, cleared, its index freed. */
  #finish(i: number, how: Exit): void {
    const c = this.#aux.point(i);
    const st = this.#store;
    this.#queue(c.list).remove(i);
    const b = c.tableHash & this.#mask;
    const next = st.hashNext(i);
    let p = (this.#buckets[b] as number) - 1;
    if (p === i) this.#buckets[b] = next + 1;
    else {
      while (p !== -1 && st.hashNext(p) !== i) p = st.hashNext(p);
      if (p !== -1) st.setHashNext(p, next);
    }
    this.#size--;
    const k = this.#counters;
    k.countState(c.state);
    if (how === Exit.CLOSED) k.closed++;
    else if (how === Exit.EXPIRED) k.expired++;
    else if (how === Exit.EVICTED) k.evicted++;
    this.#observer?.onClose(c);
    c.clear();
    st.setHashNext(i, this.#free);
    this.#free = i;
  }
}

function match4(c: Connection, v: PacketView): 0 | 1 | 2 {
  if (c.ipVersion !== IpVersion.V4) return 0;
  // Addresses read in place: through a getter, one above 2^31 would be a heap number per packet.
  const cu = c.chunk.cu32;
  const k = c.slot * CU.STRIDE;
  const o = cu[k + CU.ORIG_IP4];
  const r = cu[k + CU.RESP_IP4];
  if (o === v.src4 && r === v.dst4 && c.origPort === v.srcPort && c.respPort === v.dstPort) return 1;
  if (o === v.dst4 && r === v.src4 && c.origPort === v.dstPort && c.respPort === v.srcPort) return 2;
  return 0;
}

function match6(c: Connection, v: PacketView): 0 | 1 | 2 {
  if (c.ipVersion !== IpVersion.V6) return 0;
  if (c.origPort === v.srcPort && c.respPort === v.dstPort && c.eq6(v.buf, v.src6Offset, 0) && c.eq6(v.buf, v.dst6Offset, 16)) return 1;
  if (c.origPort === v.dstPort && c.respPort === v.srcPort && c.eq6(v.buf, v.dst6Offset, 0) && c.eq6(v.buf, v.src6Offset, 16)) return 2;
  return 0;
}

/**
 * Without a SYN, guess which side opened the connection: the side on an
 * ephemeral-looking port (>= 1024 against a well-known one; otherwise the higher
 * port, as Linux picks ephemeral ports from 32768-60999).
 */
export function looksLikeClientPort(sport: number, dport: number): boolean {
  if (sport >= 1024 && dport < 1024) return true;
  if (sport < 1024 && dport >= 1024) return false;
  return sport >= dport;
}
