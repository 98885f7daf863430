/**
 * The analysis half of the LB integration tests: a capture file through
 * decode → flows → classify (GENEVE inner packets as flows of their own), as the
 * agent's pipeline does, collecting events and the classify snapshot.
 */
import { createClassifiers } from '../../../agent/classify/classifiers.js';
import type { ClassifySnapshot } from '../../../agent/classify/classify-stats.js';
import { decodeGeneveInner } from '../../../agent/classify/geneve/geneve-inner.js';
import type { LbKnowledge } from '../../../agent/classify/lb-knowledge.js';
import { FileSource } from '../../../agent/capture/file-source.js';
import { decode, DecodeStats, DecodeStatus } from '../../../agent/decode/decode.js';
import { PacketView } from '../../../agent/decode/packet-view.js';
import { EventFactory } from '../../../agent/events/event-factory.js';
import type { AnalyzerEvent } from '../../../agent/events/schema.js';
import { StaticLocalAddresses } from '../../../agent/flows/local-addresses.js';
import { FlowTable } from '../../../agent/flows/tcp-table.js';

export type Analysis = Readonly<{
  events: AnalyzerEvent[];
  flowEvents: AnalyzerEvent[];
  snapshot: ClassifySnapshot;
  decode: DecodeStats;
}>;

/**
 * Each capture is analysed twice: as the agent does, and with every connection's classifier
 * state put to rest at its first chance (awakeStates 1, classifiers.ts), which must change
 * nothing: the same events (but their random ids) and the same snapshot, or this throws.
 */
export async function analyzePcap(path: string, opts: Readonly<{ localAddresses: string[]; knowledge: LbKnowledge }>): Promise<Analysis> {
  const a = await analyzeOnce(path, opts, undefined);
  const rested = await analyzeOnce(path, opts, 1);
  const same = (x: Analysis, y: Analysis): boolean => JSON.stringify(comparable(x)) === JSON.stringify(comparable(y));
  if (!same(a, rested)) {
    throw new Error(`analyzePcap(${path}): putting classifier state to rest changed the analysis:\n${JSON.stringify(comparable(a))}\n${JSON.stringify(comparable(rested))}`);
  }
  return a;
}

/** An analysis without what differs between runs of the same input (event ids). */
function comparable(x: Analysis): unknown {
  const strip = (e: AnalyzerEvent): Record<string, unknown> => ({ ...e, id: undefined });
  return { events: x.events.map(strip), flowEvents: x.flowEvents.map(strip), snapshot: x.snapshot };
}

async function analyzeOnce(path: string, opts: Readonly<{ localAddresses: string[]; knowledge: LbKnowledge }>, awakeStates: number | undefined): Promise<Analysis> {
  const events: AnalyzerEvent[] = [];
  const flowEvents: AnalyzerEvent[] = [];
  const factory = new EventFactory();
  const classify = createClassifiers({ sink: { emit: (e: AnalyzerEvent) => { events.push(e); } }, events: factory, knowledge: opts.knowledge, awakeStates });
  const table = new FlowTable({
    sink: { emit: (e: AnalyzerEvent) => { flowEvents.push(e); } },
    events: factory,
    localAddresses: new StaticLocalAddresses(opts.localAddresses),
    observer: classify.observer,
  });
  const view = new PacketView();
  const inner = new PacketView();
  const stats = new DecodeStats();
  const src = new FileSource({ path, filter: '' });
  let last = 0;
  let nextTick = 0;
  src.start((buf, capLen, wireLen, tsSec, tsUsec, offset) => {
    const ts = tsSec * 1_000_000 + tsUsec;
    if (decode(view, src.linkType, buf, capLen, wireLen, ts, stats, offset) !== DecodeStatus.OK) return;
    const g = classify.onPacket(view);
    table.onPacket(view);
    if (g !== undefined && decodeGeneveInner(inner, view, g, stats) === DecodeStatus.OK) {
      classify.insideGeneve(() => table.onPacket(inner));
    }
    last = ts;
    if (ts >= nextTick) { table.tick(ts); classify.tick(ts); nextTick = ts + 200_000; }
  });
  await src.done;
  table.flush(last);
  return { events, flowEvents, snapshot: classify.snapshot(), decode: stats };
}
