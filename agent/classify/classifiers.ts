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
import { ConnEnd, ConnectionState, type FactsSource, type OpenedFacts } from './connection-state.js';
import type { GeneveHeader } from './geneve/geneve-parser.js';
import { TrafficClassifier, type ClassifierOptions } from './traffic-classifier.js';

export type ClassifiersOptions = ClassifierOptions & Readonly<{
  /**
   * Classify connections this instance opened too (it is then the client). Off by
   * default: the analyzer reports what the load balancer sees of this target.
   */
  includeOutgoing?: boolean;
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
}

export function createClassifiers(opts: ClassifiersOptions): Classifiers {
  const classifier = new TrafficClassifier(opts);
  const includeOutgoing = opts.includeOutgoing === true;
  let inGeneve = false;
  let tableFacts: TableFacts | undefined;

  const stateOf = (conn: TcpConnection): ConnectionState | undefined => {
    const app = conn.app;
    if (app instanceof ConnectionState) return app;
    if (app === IGNORED) return undefined;
    if (!includeOutgoing && conn.localIsOriginator) { conn.app = IGNORED; return undefined; }
    const geneve = app === GENEVE || inGeneve;
    const reader = conn.reader?.();
    let cs: ConnectionState;
    if (reader === undefined) {
      cs = classifier.open(
        { originatorIp: keptIpText(conn, true), originatorPort: conn.origPort, responderIp: keptIpText(conn, false), responderPort: conn.respPort, geneve },
        conn.firstSeenMicros);
    } else {
      if (tableFacts?.reader !== reader) tableFacts = new TableFacts(reader);
      cs = classifier.openAt(tableFacts, conn.index, geneve);
    }
    conn.app = cs;
    return cs;
  };

  const observer: TcpObserver = {
    onSegment(conn, fromOriginator, view) {
      const cs = stateOf(conn);
      if (cs !== undefined) classifier.onPayload(cs, fromOriginator, view);
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
    lbTypeOf: (conn) => (conn.app instanceof ConnectionState ? classifier.lbTypeOf(conn.app) : undefined),
    classifier,
  };
}
