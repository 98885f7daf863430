/**
 * Test harness for the flow table: turns packet-builder frames into a PacketView
 * (a small Ethernet/IPv4/IPv6/TCP/UDP reader, enough for frames this project
 * builds itself) and drives a FlowTable with explicit timestamps.
 */
import { PacketView, IpVersion } from '../../../agent/decode/packet-view.js';
import type { AnalyzerEvent, EventSink } from '../../../agent/events/schema.js';
import { EventFactory } from '../../../agent/events/event-factory.js';
import { FlowTable, type FlowTableOptions } from '../../../agent/flows/tcp-table.js';
import type { TcpConnection, TcpObserver } from '../../../agent/flows/tcp-observer.js';

/** Fill `v` from an Ethernet frame made by test/helpers/packet-builder.ts. */
export function viewFromFrame(v: PacketView, frame: Buffer, tsMicros: number): PacketView {
  v.reset(frame, frame.length, frame.length, tsMicros);
  let off = 12;
  let ethType = frame.readUInt16BE(off);
  if (ethType === 0x8100) { v.vlan = frame.readUInt16BE(14) & 0xfff; off = 16; ethType = frame.readUInt16BE(off); }
  off += 2;
  v.ipOffset = off;
  if (ethType === 0x0800) {
    v.ipVersion = IpVersion.V4;
    v.ipHeaderLen = ((frame[off] ?? 0) & 15) * 4;
    v.ipTotalLen = frame.readUInt16BE(off + 2);
    v.ipId = frame.readUInt16BE(off + 4);
    v.ttl = frame[off + 8] ?? 0;
    v.proto = frame[off + 9] ?? 0;
    v.src4 = frame.readUInt32BE(off + 12);
    v.dst4 = frame.readUInt32BE(off + 16);
  } else if (ethType === 0x86dd) {
    v.ipVersion = IpVersion.V6;
    v.ipHeaderLen = 40;
    v.ipTotalLen = 40 + frame.readUInt16BE(off + 4);
    v.proto = frame[off + 6] ?? 0;
    v.ttl = frame[off + 7] ?? 0;
    v.src6Offset = off + 8;
    v.dst6Offset = off + 24;
  } else throw new Error(`harness: unsupported ethertype ${ethType}`);
  const l4 = off + v.ipHeaderLen;
  const ipEnd = off + v.ipTotalLen;
  v.l4Offset = l4;
  v.srcPort = frame.readUInt16BE(l4);
  v.dstPort = frame.readUInt16BE(l4 + 2);
  if (v.proto === 6) {
    v.seq = frame.readUInt32BE(l4 + 4);
    v.ack = frame.readUInt32BE(l4 + 8);
    v.tcpHeaderLen = ((frame[l4 + 12] ?? 0) >> 4) * 4;
    v.tcpFlags = frame[l4 + 13] ?? 0;
    v.window = frame.readUInt16BE(l4 + 14);
    v.payloadOffset = l4 + v.tcpHeaderLen;
  } else {
    v.payloadOffset = l4 + 8;
  }
  v.payloadLen = ipEnd - v.payloadOffset;
  v.payloadCapLen = Math.min(v.payloadLen, frame.length - v.payloadOffset);
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
  nowMs = 0;

  constructor(opts: Partial<Omit<FlowTableOptions, 'sink' | 'events'>> = {}) {
    const inner = opts.observer;
    const observer: TcpObserver = {
      onSegment: (c: TcpConnection, o: boolean, v: PacketView) => inner?.onSegment(c, o, v),
      onClose: (c: TcpConnection) => {
        this.closed.push({ state: c.state, history: c.history, bytesOrig: c.bytesOrig, bytesResp: c.bytesResp });
        inner?.onClose(c);
      },
    };
    this.table = new FlowTable({ sink: this.sink, events: new EventFactory(), ...opts, observer });
  }

  /** Feed frames at the current time, then advance the clock by `stepMs` after each. */
  feed(frames: Buffer | readonly Buffer[], stepMs = 1): this {
    for (const f of Array.isArray(frames) ? frames : [frames]) {
      this.table.onPacket(viewFromFrame(this.view, f as Buffer, T0 + Math.round(this.nowMs * 1000)));
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
