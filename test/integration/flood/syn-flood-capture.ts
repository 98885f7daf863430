/**
 * Writes a SYN-flood capture for the flood tests and the 1M-source script: `syns`
 * SYNs from as many distinct sources (100.64.0.0/10, carrier-grade NAT space: never
 * a real client here) to one target, some answered by the target with a SYN-ACK
 * (SYN cookies) that is never acknowledged, interleaved with legitimate clients
 * whose connections are refused (SYN → RST/ACK) or reset by the target after a
 * request. Two phases: a slow flood (every half-open entry times out: a storm of
 * "unanswered" and "handshake_abandoned" events), then a fast one (the table hits
 * its bound: evictions). Frames are patched from templates, so a million SYNs take
 * about a second to write.
 *
 * Returns what any correct analysis must count, exactly.
 */
import { tcp, TcpConversation } from '../../helpers/packet-builder.js';
import { PcapWriter } from '../../helpers/pcap-writer.js';

export const FLOOD_TARGET = '198.18.46.10';
export const FLOOD_PORT = 8080;
/** A closed port of the target: legitimate connections to it are refused. */
export const CLOSED_PORT = 8081;

export type SynFloodOptions = Readonly<{
  /** Flood SYNs, one per distinct source address. */
  syns: number;
  /** Share of the flood sent slowly (20k SYN/s), the rest fast (200k SYN/s). */
  slowShare?: number;
  /** One flood SYN in `cookieEvery` is answered with a SYN-ACK. */
  cookieEvery?: number;
  /** Packet-time interval between two legitimate connections (alternately refused and reset). */
  legitEveryMicros?: number;
}>;

export type SynFloodExpect = Readonly<{
  packets: number;
  floodSyns: number;
  cookies: number;
  refused: number;
  resets: number;
  /** Distinct connections (every flood source, every legitimate client port). */
  connections: number;
  /** Packet time from the first to the last frame, µs. */
  durationMicros: number;
  /** 5-tuples of the legitimate refusals and resets, as "ip:port" of the client. */
  refusedClients: readonly string[];
  resetClients: readonly string[];
}>;

const T0 = Date.UTC(2026, 1, 15, 9, 30, 0) * 1000;
const FLOOD_BASE = 0x64400000; // 100.64.0.0

// Offsets in an untagged Ethernet + IPv4 (20) + TCP (20) frame.
const IP = 14;
const IP_SUM = IP + 10;
const IP_SRC = IP + 12;
const IP_DST = IP + 16;
const TCP = IP + 20;
const TCP_SPORT = TCP;
const TCP_DPORT = TCP + 2;
const TCP_SEQ = TCP + 4;
const TCP_ACK = TCP + 8;
const TCP_SUM = TCP + 16;

function sum16(b: Buffer, from: number, to: number, start: number): number {
  let s = start;
  for (let i = from; i < to; i += 2) s += ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
  return s;
}
function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Recompute the IPv4 header and TCP checksums of a 54-byte template frame after patching it. */
function fixChecksums(f: Buffer): void {
  f.writeUInt16BE(0, IP_SUM);
  f.writeUInt16BE(fold(sum16(f, IP, IP + 20, 0)), IP_SUM);
  f.writeUInt16BE(0, TCP_SUM);
  const pseudo = sum16(f, IP_SRC, IP_DST + 4, 6 + 20);
  f.writeUInt16BE(fold(sum16(f, TCP, TCP + 20, pseudo)), TCP_SUM);
}

function floodPort(i: number): number {
  return 1024 + ((i * 7919) % 64000);
}

export function writeSynFlood(path: string, opts: SynFloodOptions): SynFloodExpect {
  const n = opts.syns;
  const slow = Math.round(n * (opts.slowShare ?? 0.5));
  const cookieEvery = opts.cookieEvery ?? 10;
  const legitEvery = opts.legitEveryMicros ?? 100_000;
  const w = new PcapWriter(path);
  const syn = tcp({ src: '100.64.0.1', dst: FLOOD_TARGET, sport: 1024, dport: FLOOD_PORT, flags: 'S', seq: 1, window: 29200 });
  const synAck = tcp({ src: FLOOD_TARGET, dst: '100.64.0.1', sport: FLOOD_PORT, dport: 1024, flags: 'SA', seq: 1, ack: 2, window: 29200 });
  let t = T0;
  let nextLegit = T0 + legitEvery / 2;
  let legit = 0;
  let cookies = 0;
  const refusedClients: string[] = [];
  const resetClients: string[] = [];

  const writeLegit = (): void => {
    const client = `198.18.46.${100 + (legit % 100)}`;
    const port = 20000 + legit;
    if (legit % 2 === 0) {
      const c = new TcpConversation(client, FLOOD_TARGET, port, CLOSED_PORT);
      for (const f of [c.seg(true, 'S'), c.seg(false, 'RA')]) w.write(t++, f);
      refusedClients.push(`${client}:${port}`);
    } else {
      const c = new TcpConversation(client, FLOOD_TARGET, port, FLOOD_PORT);
      for (const f of [...c.handshake(), c.seg(true, 'PA', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), c.seg(false, 'RA')]) w.write(t++, f);
      resetClients.push(`${client}:${port}`);
    }
    legit++;
  };

  for (let i = 0; i < n; i++) {
    const src = (FLOOD_BASE + i) >>> 0;
    const sport = floodPort(i);
    const seq = Math.imul(i + 1, 2654435761) >>> 0;
    t = Math.max(t, T0 + (i < slow ? i * 50 : slow * 50 + (i - slow) * 5));
    while (nextLegit <= t) {
      writeLegit();
      nextLegit += legitEvery;
    }
    syn.writeUInt32BE(src, IP_SRC);
    syn.writeUInt16BE(sport, TCP_SPORT);
    syn.writeUInt32BE(seq, TCP_SEQ);
    fixChecksums(syn);
    w.write(t++, syn);
    if (i % cookieEvery === 0) {
      synAck.writeUInt32BE(src, IP_DST);
      synAck.writeUInt16BE(sport, TCP_DPORT);
      synAck.writeUInt32BE(Math.imul(i + 7, 40503) >>> 0, TCP_SEQ);
      synAck.writeUInt32BE((seq + 1) >>> 0, TCP_ACK);
      fixChecksums(synAck);
      w.write(t++, synAck);
      cookies++;
    }
  }
  const packets = w.count;
  w.close();
  return {
    packets,
    floodSyns: n,
    cookies,
    refused: refusedClients.length,
    resets: resetClients.length,
    connections: n + legit,
    durationMicros: t - 1 - T0,
    refusedClients,
    resetClients,
  };
}
