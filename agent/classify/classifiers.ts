/**
 * The classify stage's entry point for the pipeline: one TcpObserver to hand to
 * the flow table, a per-packet hook (loops by TTL, GENEVE), a periodic tick
 * (health-check timeouts) and the counters snapshot for the summary.
 *
 *   const classify = createClassifiers({ sink, events, knowledge });
 *   new TcpTable({ ..., observer: classify.observer });
 *   // per decoded packet: const g = classify.onPacket(view);
 *   //   if (g && decodeGeneveInner(innerView, view, g, stats) === OK)
 *   //     classify.insideGeneve(() => table.onPacket(innerView));
 *   // every second: classify.tick(nowMicros); summary: classify.snapshot()
 */
import type { PacketView } from '../decode/packet-view.js';
import { ConnState } from '../flows/conn-state.js';
import { keptIpText, origIpText, type ConnectionReader, type TcpConnection, type TcpObserver } from '../flows/tcp-observer.js';
import type { LbType } from '../events/schema.js';
import type { ClassifySnapshot } from './classify-stats.js';
import { ConnEnd, ConnectionState, IndicatorBit, ProxyFacts, type FactsSource, type OpenedFacts } from './connection-state.js';
import type { GeneveHeader } from './geneve/geneve-parser.js';
import { TrafficClassifier, type ClassifierOptions } from './traffic-classifier.js';

export type ClassifiersOptions = ClassifierOptions & Readonly<{
  /**
   * Classify connections this instance opened too (it is then the client). Off by
   * default: the analyzer reports what the load balancer sees of this target.
   */
  includeOutgoing?: boolean;
  /**
   * Restable states kept awake, a power of two (AWAKE_MAX by default). Tests give 1 to put
   * every state to rest at its first chance and check that nothing changes.
   */
  awakeStates?: number;
}>;

export type Classifiers = Readonly<{
  observer: TcpObserver;
  onPacket(view: PacketView): GeneveHeader | undefined;
  /** Mark a connection as carried inside GENEVE (a GWLB flow) before its first segment. */
  markGeneve(conn: TcpConnection): void;
  /**
   * Run `fn` (the flow table's handling of a GENEVE inner packet): connections the
   * observer first meets meanwhile are attributed to the GWLB.
   */
  insideGeneve(fn: () => void): void;
  tick(nowMicros: number): void;
  snapshot(topN?: number): ClassifySnapshot;
  /** The most likely LB type of a connection the classifiers follow (undefined: not followed). */
  lbTypeOf(conn: TcpConnection): LbType | undefined;
  classifier: TrafficClassifier;
}>;

/** Marker kept in `app` for connections the classifiers deliberately ignore. */
const IGNORED = Symbol('classify.ignored');
const GENEVE = Symbol('classify.geneve');
/**
 * Marker kept in `app` while a connection's state rests in its app words (ConnectionState
 * restable); one that began with a proxy protocol header keeps its ProxyFacts' restValue()
 * instead (a number or the ProxyFacts).
 */
const RESTING = Symbol('classify.resting');
/** ConnectionState records kept for reuse (a connection's state rests without one). */
const STATE_POOL_MAX = 256;
/**
 * Restable states kept awake (a power of two): a state rests once this many segments have left
 * a state restable since its own last did. The bench file's 2,152 connections at once all stay
 * awake, so busy ones are not put to rest and woken at every segment (~5 % of the offline CPU).
 */
const AWAKE_MAX = 4096;

export type ConnEndResult = Readonly<{ how: ConnEnd; established: boolean }>;

/** The results connEnd() hands out: shared, so a closing connection allocates none. */
const END_RESULTS = new Map<ConnEnd, readonly [ConnEndResult, ConnEndResult]>(
  Object.values(ConnEnd).map((how) => [how, [Object.freeze({ how, established: false }), Object.freeze({ how, established: true })]]));

function endResult(how: ConnEnd, established: boolean): ConnEndResult {
  return (END_RESULTS.get(how) as readonly [ConnEndResult, ConnEndResult])[established ? 1 : 0];
}

/** How a connection ended, from its Zeek state and history (upper case = originator). */
export function connEnd(conn: TcpConnection): ConnEndResult {
  const established = conn.historyIndexOf('h') >= 0 || conn.historyIndexOf('D') >= 0 || conn.historyIndexOf('d') >= 0;
  switch (conn.state) {
    case ConnState.REJ: return endResult(ConnEnd.REFUSED, false);
    case ConnState.S0: return endResult(ConnEnd.UNANSWERED, false);
    case ConnState.RSTO: case ConnState.RSTOS0: return endResult(ConnEnd.RESET_BY_ORIGINATOR, established);
    case ConnState.RSTR: case ConnState.RSTRH: return endResult(ConnEnd.RESET_BY_RESPONDER, established);
    case ConnState.S2: return endResult(ConnEnd.FIN_BY_ORIGINATOR, established);
    case ConnState.S3: return endResult(ConnEnd.FIN_BY_RESPONDER, established);
    case ConnState.SF: {
      const o = conn.historyIndexOf('F');
      const r = conn.historyIndexOf('f');
      const responderFirst = r >= 0 && (o < 0 || r < o);
      return endResult(responderFirst ? ConnEnd.FIN_BY_RESPONDER : ConnEnd.FIN_BY_ORIGINATOR, established);
    }
    default: return endResult(ConnEnd.EXPIRED, established);
  }
}

/**
 * A connection's facts read from the flow table by connection index, through the table's
 * reader view: the classifier state keeps no copy of them. Address texts come from
 * keptIpText's caches. One per table; `at` answers with itself, pointed at the connection.
 */
class TableFacts implements FactsSource, OpenedFacts {
  readonly reader: ConnectionReader;
  #c: TcpConnection;

  constructor(reader: ConnectionReader) {
    this.reader = reader;
    this.#c = reader.point(0);
  }

  at(index: number): OpenedFacts {
    this.#c = this.reader.point(index);
    return this;
  }

  get originatorIp(): string { return keptIpText(this.#c, true); }
  get originatorPort(): number { return this.#c.origPort; }
  get responderIp(): string { return keptIpText(this.#c, false); }
  get responderPort(): number { return this.#c.respPort; }
  get openedTs(): number { return this.#c.firstSeenMicros; }
  get midstream(): boolean { return !this.#c.synSeen; }
}

export function createClassifiers(opts: ClassifiersOptions): Classifiers {
  const classifier = new TrafficClassifier(opts);
  const includeOutgoing = opts.includeOutgoing === true;
  let inGeneve = false;
  let tableFacts: TableFacts | undefined;

  const pool: ConnectionState[] = [];

  /** The facts of the table `reader` belongs to. */
  const factsOf = (reader: ConnectionReader): TableFacts => {
    if (tableFacts?.reader !== reader) tableFacts = new TableFacts(reader);
    return tableFacts;
  };

  /** A state record for a connection of a table (a pooled one when there is one). */
  const take = (conn: TcpConnection, reader: ConnectionReader, w0: number, w1: number, w2: number, proxy: ProxyFacts | undefined): ConnectionState => {
    const src = factsOf(reader);
    const cs = pool.pop() ?? new ConnectionState(src, conn.index, false);
    cs.wake(src, conn.index, w0, w1, w2, proxy);
    return cs;
  };

  /**
   * A connection's state between segments: with 100k open connections a state record each was
   * 120 bytes (issue 6). One that holds nothing but its words and a proxy header (restable) and
   * fell out of the awake ring (settle) rests in the connection's app words, `app` keeps the
   * header's restValue() (an NLB's header as the client's IPv4 address) or RESTING, and the
   * record goes back to the pool; the next segment
   * takes it up again (wake). Outside a table (no app words) it stays as it is.
   */
  const rest = (conn: TcpConnection, cs: ConnectionState): void => {
    if (!cs.restable || conn.setAppWords === undefined) return;
    conn.setAppWords(cs.restWord(0), cs.restWord(1), cs.restWord(2));
    conn.app = cs.restProxy?.restValue() ?? RESTING;
    if (pool.length < STATE_POOL_MAX) pool.push(cs);
  };

  /** The latest restable states, oldest first from awakeHead: each state's own latest entry is cs.awakePos. */
  const awakeMax = opts.awakeStates ?? AWAKE_MAX;
  if (!(awakeMax >= 1 && (awakeMax & (awakeMax - 1)) === 0)) throw new RangeError(`awakeStates must be a power of two, got ${awakeMax}`);
  const awake: Array<ConnectionState | undefined> = new Array<ConnectionState | undefined>(awakeMax).fill(undefined);
  const awakeIndex = new Int32Array(awakeMax);
  let awakeHead = 0;

  /**
   * A segment left the state restable: it joins the awake ring, and the state whose latest
   * entry it replaces, if still its connection's and restable, rests now. A connection that
   * left the table or was put to rest since is not touched: its `app` is no longer that state.
   */
  const settle = (conn: TcpConnection, cs: ConnectionState): void => {
    if (!cs.restable || conn.setAppWords === undefined) return;
    const pos = awakeHead;
    awakeHead = (pos + 1) & (awakeMax - 1);
    const old = awake[pos];
    const oldIndex = awakeIndex[pos] as number;
    awake[pos] = cs;
    awakeIndex[pos] = conn.index;
    cs.awakePos = pos;
    if (old === undefined || old === cs || old.awakePos !== pos) return;
    const other = conn.reader?.().point(oldIndex);
    if (other !== undefined && other.app === old) rest(other, old);
  };

  const stateOf = (conn: TcpConnection): ConnectionState | undefined => {
    const app = conn.app;
    if (app instanceof ConnectionState) return app;
    if (app === RESTING || app instanceof ProxyFacts || typeof app === 'number') {
      const reader = conn.reader?.();
      if (reader === undefined || conn.appWord === undefined) return undefined; // set only by rest(), inside a table
      const proxy = app === RESTING ? undefined : typeof app === 'number' ? ProxyFacts.fromRest(app) : app;
      const cs = take(conn, reader, conn.appWord(0), conn.appWord(1), conn.appWord(2), proxy);
      conn.app = cs;
      return cs;
    }
    if (app === IGNORED) return undefined;
    if (!includeOutgoing && conn.localIsOriginator) { conn.app = IGNORED; return undefined; }
    const geneve = app === GENEVE || inGeneve;
    const reader = conn.reader?.();
    let cs: ConnectionState;
    if (reader === undefined) {
      cs = classifier.open(
        { originatorIp: keptIpText(conn, true), originatorPort: conn.origPort, responderIp: keptIpText(conn, false), responderPort: conn.respPort, geneve, midstream: !conn.synSeen },
        conn.firstSeenMicros);
    } else {
      cs = take(conn, reader, 0, 0, 0, undefined);
      if (geneve) cs.indicators = IndicatorBit.GENEVE;
    }
    conn.app = cs;
    return cs;
  };

  const observer: TcpObserver = {
    onSegment(conn, fromOriginator, view) {
      const cs = stateOf(conn);
      if (cs === undefined) return;
      classifier.onPayload(cs, fromOriginator, view);
      settle(conn, cs);
    },
    onClose(conn) {
      // Connections without payload reach us only here (TCP health checks, refusals). Most of
      // them count for nothing here (flows reports refusals and resets): they get no state,
      // which a SYN flood would otherwise make and drop once per source.
      const app = conn.app;
      if (app === undefined || app === GENEVE) {
        if (conn.bytesOrig + conn.bytesResp !== 0 || !classifier.silentCloseCounts(origIpText(conn))) return;
      }
      const cs = stateOf(conn);
      if (cs === undefined) return;
      const end = connEnd(conn);
      classifier.onClose(cs, end.how, end.established, conn.lastSeenMicros, conn.bytesOrig + conn.bytesResp);
      // Closed, the state is no longer referenced (nothing waits on it): inside a table, where
      // records come from the pool (take), its record is reused.
      if (conn.setAppWords !== undefined && pool.length < STATE_POOL_MAX) pool.push(cs);
    },
  };

  return {
    observer,
    onPacket: (view) => classifier.onPacket(view),
    markGeneve: (conn) => { if (conn.app === undefined) conn.app = GENEVE; },
    insideGeneve: (fn) => {
      inGeneve = true;
      try { fn(); } finally { inGeneve = false; }
    },
    tick: (now) => classifier.tick(now),
    snapshot: (topN) => classifier.snapshot(topN),
    lbTypeOf: (conn) => {
      const app = conn.app;
      if (app instanceof ConnectionState) return classifier.lbTypeOf(app);
      if (app !== RESTING && !(app instanceof ProxyFacts) && typeof app !== 'number') return undefined;
      const cs = stateOf(conn);
      if (cs === undefined) return undefined;
      const type = classifier.lbTypeOf(cs);
      rest(conn, cs);
      return type;
    },
    classifier,
  };
}
