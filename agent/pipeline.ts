/**
 * The analysis pipeline for one packet source: decode → flows → classify → events.
 * Everything per packet goes through `onPacket`, bound once at construction, with
 * one reused PacketView: no closures or objects are made per packet here.
 */
import type { CaptureStats, PacketHandler } from './capture/packet-source.js';
import { createClassifiers, type Classifiers } from './classify/classifiers.js';
import type { ClassifySnapshot } from './classify/classify-stats.js';
import { EMPTY_LB_KNOWLEDGE, type LbKnowledge } from './classify/lb-knowledge.js';
import { decodeFrame, DecodeStats, DecodeStatus } from './decode/decode.js';
import { decodeGeneveInner } from './classify/geneve/geneve-inner.js';
import type { DecodeSnapshot } from './decode/decode-stats.js';
import { PacketView } from './decode/packet-view.js';
import type { EventFactory } from './events/event-factory.js';
import { EventType, type AnalyzerEvent, type EventSink } from './events/schema.js';
import type { FlowSnapshot } from './flows/flow-stats.js';
import { NO_LOCAL_ADDRESSES, type LocalAddresses } from './flows/local-addresses.js';
import { FlowTable } from './flows/tcp-table.js';

export type PipelineOptions = Readonly<{
  /** DLT of the source; read per packet because a source learns it when it opens. */
  linkType: () => number;
  sink: EventSink;
  events: EventFactory;
  sample: number;
  maxConnections: number;
  synTimeoutSec: number;
  idleTimeoutSec: number;
  localAddresses?: LocalAddresses;
  knowledge?: LbKnowledge;
  trustedProxies?: readonly string[];
  logQueryStrings?: boolean;
}>;

export type PipelineSnapshot = Readonly<{
  decode: DecodeSnapshot;
  flows: FlowSnapshot;
  classify: ClassifySnapshot;
  /** Timestamp (µs) of the newest packet seen, 0 before the first. */
  last_packet_micros: number;
}>;

/** Counts events by type on their way to the real sink (for the summary and metrics). */
class CountingSink implements EventSink {
  readonly byType = new Map<string, number>();
  constructor(readonly inner: EventSink) {}
  emit(event: AnalyzerEvent): void {
    this.byType.set(event.type, (this.byType.get(event.type) ?? 0) + 1);
    this.inner.emit(event);
  }
}

export class Pipeline {
  readonly view = new PacketView();
  /** The packet inside a GENEVE header (offsets into the outer packet's buffer). */
  readonly #inner = new PacketView();
  /** Bound once: no closure per GENEVE packet. */
  readonly #feedInner = (): void => this.flows.onPacket(this.#inner);
  readonly decodeStats = new DecodeStats();
  readonly flows: FlowTable;
  readonly classify: Classifiers;
  readonly #sink: CountingSink;
  readonly #events: EventFactory;
  readonly #linkType: () => number;
  #lastMicros = 0;
  #lastDrops = 0;

  /** The per-packet entry point, handed to PacketSource.start(). */
  readonly onPacket: PacketHandler;

  constructor(opts: PipelineOptions) {
    this.#sink = new CountingSink(opts.sink);
    this.#events = opts.events;
    this.#linkType = opts.linkType;
    this.classify = createClassifiers({
      sink: this.#sink,
      events: opts.events,
      knowledge: opts.knowledge ?? EMPTY_LB_KNOWLEDGE,
      trustedProxies: opts.trustedProxies ?? [],
      keepQuery: opts.logQueryStrings === true,
    });
    this.flows = new FlowTable({
      sink: this.#sink,
      events: opts.events,
      maxConnections: opts.maxConnections,
      synTimeoutSec: opts.synTimeoutSec,
      idleTimeoutSec: opts.idleTimeoutSec,
      sample: opts.sample,
      localAddresses: opts.localAddresses ?? NO_LOCAL_ADDRESSES,
      observer: this.classify.observer,
    });
    this.onPacket = this.#onPacket.bind(this);
  }

  #onPacket(buf: Buffer, capLen: number, wireLen: number, tsSec: number, tsUsec: number, offset: number): void {
    const view = this.view;
    const tsMicros = tsSec * 1_000_000 + tsUsec;
    view.tsMicros = tsMicros;
    const status = decodeFrame(view, this.#linkType(), buf, capLen, wireLen, this.decodeStats, offset);
    if (tsMicros > this.#lastMicros) this.#lastMicros = tsMicros;
    if (status !== DecodeStatus.OK) return;
    this.flows.onPacket(view);
    const geneve = this.classify.onPacket(view);
    // GWLB: the inner packet is traffic of its own flow, attributed to the GWLB.
    if (geneve !== undefined && decodeGeneveInner(this.#inner, view, geneve, this.decodeStats) === DecodeStatus.OK) {
      this.classify.insideGeneve(this.#feedInner);
      this.classify.onPacket(this.#inner);
    }
  }

  /** Expire connections and health checks by time when no packets drive the clock (live idle). */
  tick(nowMicros: number): void {
    const now = Math.max(nowMicros, this.#lastMicros);
    this.flows.tick(now);
    this.classify.tick(now);
  }

  /** End of input: every open connection is closed out (final states, unanswered SYNs). */
  finish(): void {
    this.flows.flush(this.#lastMicros);
    this.classify.tick(this.#lastMicros + 3_600_000_000);
  }

  /**
   * Report kernel drops as a CAPTURE_LOSS event when they grew since the last call.
   * Drops are never silent: the summary and the CaptureDrops metric show them too.
   */
  noteCaptureStats(stats: CaptureStats | undefined, nowMicros: number): void {
    if (stats === undefined) return;
    const drops = stats.dropped + stats.ifDropped;
    if (drops > this.#lastDrops) {
      const lost = drops - this.#lastDrops;
      this.#sink.emit(
        this.#events.create(EventType.CAPTURE_LOSS, 'kernel_drop', `Capture dropped ${lost} packets (buffer full or interface drops); figures since the last summary are incomplete`, nowMicros, {
          dropped: lost,
          ps_drop: stats.dropped,
          ps_ifdrop: stats.ifDropped,
          ps_recv: stats.received,
        }),
      );
    }
    this.#lastDrops = drops;
  }

  eventsByType(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.#sink.byType);
  }

  get lastPacketMicros(): number {
    return this.#lastMicros;
  }

  snapshot(topN = 10): PipelineSnapshot {
    return {
      decode: this.decodeStats.snapshot(),
      flows: this.flows.snapshot(),
      classify: this.classify.snapshot(topN),
      last_packet_micros: this.#lastMicros,
    };
  }
}
