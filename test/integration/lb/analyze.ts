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

export async function analyzePcap(path: string, opts: Readonly<{ localAddresses: string[]; knowledge: LbKnowledge }>): Promise<Analysis> {
  const events: AnalyzerEvent[] = [];
  const flowEvents: AnalyzerEvent[] = [];
  const factory = new EventFactory();
  const classify = createClassifiers({ sink: { emit: (e: AnalyzerEvent) => { events.push(e); } }, events: factory, knowledge: opts.knowledge });
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
