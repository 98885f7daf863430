/**
 * The whole per-packet path, Pipeline.onPacket, over a sequence of fuzzed frames on
 * one flow: decode → TCP connection table → HTTP / TLS / proxy protocol / health
 * check / GENEVE classification → events.
 *
 * Input: byte 0 picks the flow (bits 0-1: TCP to 80, 443 or 8080, or GENEVE over UDP
 * 6081; bit 2: IPv6; bits 3-7: the client port). Then records [ctl][len][payload]:
 * ctl bit 0 the direction, bits 1-5 the TCP flags (SYN, ACK, FIN, RST, PSH), bit 6 a
 * sequence jump (overlap or out of window), bit 7 "raw": the payload is a whole
 * Ethernet frame instead. len < 0xc0 is the length, else (len - 0xbf)·256; a payload
 * cut by the end of the input is delivered as a snaplen cut (wireLen > capLen).
 *
 * A Pipeline costs ~10 ms to build (preallocated tables), so inputs share one that
 * is finished and replaced every RENEW inputs, each input on a flow of its own (the
 * client port counts inputs); a reproducer is re-run alone in a fresh Pipeline by
 * --repro. To show that memory stays bounded over a long run, every input also goes
 * through one long-lived Pipeline whose heap is reported (the worker's heap limit
 * turns unbounded growth into a crash).
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EventFactory } from '../../../agent/events/event-factory.js';
import type { AnalyzerEvent } from '../../../agent/events/schema.js';
import { Pipeline } from '../../../agent/pipeline.js';
import { secUsec } from '../../../agent/capture/packet-source.js';
import { within, type FuzzTarget } from '../target.js';

const FRAME_ROOM = 65536 + 128;
const frame = Buffer.alloc(FRAME_ROOM);
const CLIENT4 = [198, 18, 99, 2];
const SERVER4 = [198, 18, 99, 1];
const LB4 = [198, 18, 99, 3];
const CLIENT6 = Buffer.from('20010db8000000000000000000000002', 'hex');
const SERVER6 = Buffer.from('20010db8000000000000000000000001', 'hex');
const PORTS = [80, 443, 8080] as const;
const FLAG_BITS = [0x02, 0x10, 0x01, 0x04, 0x08] as const; // SYN ACK FIN RST PSH

let events = 0;
function sinkEmit(e: AnalyzerEvent): void {
  events++;
  assert.equal(typeof e.type, 'string');
  // What the local log and the shipper do with every event.
  JSON.stringify(e);
}

function newPipeline(maxConnections: number): Pipeline {
  return new Pipeline({
    linkType: () => 1, sink: { emit: sinkEmit }, events: new EventFactory(),
    sample: 1, maxConnections, synTimeoutSec: 3, idleTimeoutSec: 60,
  });
}

/** Ethernet + IPv4/IPv6 + TCP/UDP headers into `frame`; returns the payload offset. */
function headers(v6: boolean, udp: boolean, fromClient: boolean, sport: number, dport: number, payloadLen: number,
  seq: number, ack: number, flags: number): number {
  frame.fill(0, 0, 14);
  frame.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  let p = 14;
  const l4 = udp ? 8 : 20;
  if (v6) {
    frame.fill(0, p, p + 40);
    frame[p] = 0x60;
    frame.writeUInt16BE(l4 + payloadLen, p + 4);
    frame[p + 6] = udp ? 17 : 6;
    frame[p + 7] = 64;
    (fromClient ? CLIENT6 : SERVER6).copy(frame, p + 8);
    (fromClient ? SERVER6 : CLIENT6).copy(frame, p + 24);
    p += 40;
  } else {
    frame.fill(0, p, p + 20);
    frame[p] = 0x45;
    frame.writeUInt16BE(20 + l4 + payloadLen, p + 2);
    frame[p + 8] = 64;
    frame[p + 9] = udp ? 17 : 6;
    const src = udp ? LB4 : fromClient ? CLIENT4 : SERVER4;
    const dst = udp ? SERVER4 : fromClient ? SERVER4 : CLIENT4;
    for (let i = 0; i < 4; i++) { frame[p + 12 + i] = src[i] as number; frame[p + 16 + i] = dst[i] as number; }
    p += 20;
  }
  frame.writeUInt16BE(fromClient ? sport : dport, p);
  frame.writeUInt16BE(fromClient ? dport : sport, p + 2);
  if (udp) {
    frame.writeUInt16BE(8 + payloadLen, p + 4);
    frame.writeUInt16BE(0, p + 6);
    return p + 8;
  }
  frame.writeUInt32BE(seq >>> 0, p + 4);
  frame.writeUInt32BE(ack >>> 0, p + 8);
  frame[p + 12] = 0x50;
  frame[p + 13] = flags;
  frame.writeUInt16BE(65535, p + 14);
  frame.writeUInt32BE(0, p + 16);
  return p + 20;
}

let clock = 1_700_000_000_000_000;
let inputs = 0;

function play(data: Buffer, pipelines: readonly Pipeline[]): number {
  if (data.length === 0) return 0;
  const sel = data[0] as number;
  const geneve = (sel & 3) === 3;
  const v6 = (sel & 4) !== 0 && !geneve;
  const dport = geneve ? 6081 : (PORTS[sel & 3] as number);
  const sport = 1024 + ((sel >> 3) << 10) + (inputs & 0x3ff);
  let cNext = 1000;
  let sNext = 5000;
  let packets = 0;
  let p = 1;
  while (p + 2 <= data.length) {
    const ctl = data[p] as number;
    const lb = data[p + 1] as number;
    p += 2;
    const want = lb < 0xc0 ? lb : (lb - 0xbf) * 256;
    const have = Math.min(want, data.length - p);
    const payload = data.subarray(p, p + have);
    p += have;
    clock += 1000 * (1 + (ctl & 0x3f));
    packets++;
    if ((ctl & 0x80) !== 0) {
      for (const pl of pipelines) pl.onPacket(payload, payload.length, payload.length + want - have, ...secUsec(clock), 0);
      continue;
    }
    const fromClient = (ctl & 1) === 0;
    let flags = 0;
    for (let b = 0; b < 5; b++) if ((ctl & (2 << b)) !== 0) flags |= FLAG_BITS[b] as number;
    let seq = fromClient ? cNext : sNext;
    if ((ctl & 0x40) !== 0) seq += (ctl & 1) !== 0 ? -have : 100_000;
    const ack = fromClient ? sNext : cNext;
    const off = headers(v6, geneve, fromClient, sport, dport, want, seq, ack, flags);
    payload.copy(frame, off);
    const capLen = off + have;
    for (const pl of pipelines) pl.onPacket(frame, capLen, off + want, ...secUsec(clock), 0);
    const adv = want + ((flags & 0x03) !== 0 ? 1 : 0);
    if (fromClient) cNext = (cNext + adv) >>> 0;
    else sNext = (sNext + adv) >>> 0;
  }
  return packets;
}

// The long-lived pipeline and its heap figures.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const longLived = newPipeline(256);
const RENEW = 256;
let recent = newPipeline(64);
let longPackets = 0;
let execs = 0;
let heapAtWarm = 0;
let heapPeak = 0;
const WARM = 2000;

export const target: FuzzTarget = {
  name: 'pipeline',
  maxLen: 4096,
  dictionary: [
    'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'HTTP/1.1 502 Bad Gateway\r\n\r\n',
    'GET /health HTTP/1.1\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 5\r\n',
    'X-Forwarded-For: 10.0.0.1\r\n', 'X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\n', 'Connection: close\r\n',
    'PROXY TCP4 192.0.2.1 198.18.99.1 5555 80\r\n', Buffer.from('0d0a0d0a000d0a515549540a', 'hex'),
    Uint8Array.of(0x16, 0x03, 0x01), Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28), Uint8Array.of(0x17, 0x03, 0x03),
    Uint8Array.of(0x02), Uint8Array.of(0x12), Uint8Array.of(0x10), Uint8Array.of(0x11), Uint8Array.of(0x04), Uint8Array.of(0x14),
    Uint8Array.of(0x18), Uint8Array.of(0x40), Uint8Array.of(0x80), Uint8Array.of(0xc0), Uint8Array.of(0xff),
    Uint8Array.of(0x00, 0x00, 0x08, 0x00), Uint8Array.of(0x01, 0x08, 0x01, 0x02),
  ],
  fuzz(data: Buffer): void {
    const before = events;
    const decodedBefore = recent.decodeStats.packets;
    const packets = play(data, [recent, longLived]);
    inputs++;
    longPackets += packets;
    assert.equal(recent.decodeStats.packets - decodedBefore, packets);
    within('events', events - before, 0, 8 * packets + 64);
    if (inputs % RENEW === 0) {
      recent.tick(clock);
      recent.finish();
      JSON.stringify(recent.snapshot());
      recent = newPipeline(64);
    }
    execs++;
    if (execs % 512 === 0) longLived.tick(clock);
    if (execs === WARM || execs % 20000 === 0) {
      gc();
      const used = process.memoryUsage().heapUsed;
      if (execs === WARM) heapAtWarm = used;
      if (used > heapPeak) heapPeak = used;
    }
  },
  report() {
    gc();
    const used = process.memoryUsage().heapUsed;
    return {
      execs, longLivedPackets: longPackets,
      heapAfterWarmupMB: Math.round(heapAtWarm / 1e5) / 10,
      heapPeakMB: Math.round(Math.max(heapPeak, used) / 1e5) / 10,
      heapEndMB: Math.round(used / 1e5) / 10,
      longLivedConnections: longLived.snapshot().flows.connections_tracked,
    };
  },
};
