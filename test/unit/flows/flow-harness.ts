/**
 * Test harness for the flow table: decodes packet-builder frames into a PacketView
 * with the real decoder and drives a FlowTable with explicit timestamps.
 */
import { PacketView } from '../../../agent/decode/packet-view.js';
import { decode, DecodeStats, DecodeStatus } from '../../../agent/decode/decode.js';
import { LinkType } from '../../../agent/capture/packet-source.js';
import type { AnalyzerEvent, EventSink } from '../../../agent/events/schema.js';
import { EventFactory } from '../../../agent/events/event-factory.js';
import { FlowTable, type FlowTableOptions } from '../../../agent/flows/tcp-table.js';
import type { TcpConnection, TcpObserver } from '../../../agent/flows/tcp-observer.js';

const stats = new DecodeStats();

/** Fill `v` from an Ethernet frame made by test/helpers/packet-builder.ts, with the real decoder. */
export function viewFromFrame(v: PacketView, frame: Buffer, tsMicros: number): PacketView {
  const status = decode(v, LinkType.ETHERNET, frame, frame.length, frame.length, tsMicros, stats);
  if (status !== DecodeStatus.OK) throw new Error(`harness: the decoder did not accept a test frame (status ${status})`);
  return v;
}

export class CollectingSink implements EventSink {
  readonly events: AnalyzerEvent[] = [];
  emit(e: AnalyzerEvent): void { this.events.push(e); }
  ofReason(reason: string): AnalyzerEvent[] { return this.events.filter((e) => e.reason === reason); }
}

/** Start of test time: 2026-02-15T09:30:00Z in microseconds. */
export const T0 = Date.UTC(2026, 1, 15, 9, 30, 0) * 1000;

/** A FlowTable with a collecting sink and a clock in milliseconds from T0. */
export class Harness {
  readonly sink = new CollectingSink();
  readonly table: FlowTable;
  readonly view = new PacketView();
  /** State and history of each connection as it left the table. */
  readonly closed: Array<{ state: string; history: string; bytesOrig: number; bytesResp: number }> = [];
  /** Every frame fed, with its timestamp (to write a pcap for an oracle). */
  readonly fed: Array<{ tsMicros: number; data: Buffer }> = [];
  nowMs = 0;

  constructor(opts: Partial<Omit<FlowTableOptions, 'sink' | 'events'>> = {}) {
    const inner = opts.observer;
    const observer: TcpObserver = {
      onSegment: (c: TcpConnection, o: boolean, v: PacketView) => inner?.onSegment(c, o, v),
      onClose: (c: TcpConnection) => {
        this.closed.push({ state: c.state, history: c.history, bytesOrig: c.bytesOrig, bytesResp: c.bytesResp });
        // historyIndexOf reads the history bytes as indexOf reads the string, for every letter.
        for (const letter of 'SHADFRTWIQshadfrtwiq') {
          if (c.historyIndexOf(letter) !== c.history.indexOf(letter)) {
            throw new Error(`historyIndexOf('${letter}') = ${c.historyIndexOf(letter)} in history "${c.history}"`);
          }
        }
        inner?.onClose(c);
      },
    };
    this.table = new FlowTable({ sink: this.sink, events: new EventFactory(), ...opts, observer });
  }

  /** Feed frames at the current time, then advance the clock by `stepMs` after each. */
  feed(frames: Buffer | readonly Buffer[], stepMs = 1): this {
    for (const f of Array.isArray(frames) ? frames : [frames]) {
      const ts = T0 + Math.round(this.nowMs * 1000);
      this.fed.push({ tsMicros: ts, data: f as Buffer });
      this.table.onPacket(viewFromFrame(this.view, f as Buffer, ts));
      this.nowMs += stepMs;
    }
    return this;
  }

  /** Advance the clock (and the table's) without packets. */
  wait(ms: number): this {
    this.nowMs += ms;
    this.table.tick(T0 + Math.round(this.nowMs * 1000));
    return this;
  }

  /** End of input: close everything, return the final states by count. */
  finish(): this {
    this.table.flush(T0 + Math.round(this.nowMs * 1000));
    return this;
  }

  /** The single final state counted (asserts exactly one connection left the table). */
  onlyState(): string {
    const by = this.table.snapshot().by_state as Record<string, number>;
    const hit = Object.entries(by).filter(([, n]) => n > 0);
    if (hit.length !== 1 || hit[0]?.[1] !== 1) throw new Error(`expected one final state, got ${JSON.stringify(hit)}`);
    return hit[0][0];
  }
}
