/**
 * Decode-only benchmark and allocation check (issue 6: no per-packet allocation).
 *
 *   node --expose-gc dist/test/bench/decode-alloc.js [packets=1000000]
 *
 * Decodes a mix of realistic frames into one reused PacketView and reports the
 * rate, the heap growth and the number of garbage collections during the run. A
 * control loop that allocates one small Buffer view per packet (what a
 * `buf.subarray()` in the decoder would cost) is measured the same way, to show
 * the method does see allocation when there is some.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { decode, DecodeStats } from '../../agent/decode/decode.js';
import { PacketView } from '../../agent/decode/packet-view.js';
import { LinkType } from '../../agent/capture/packet-source.js';
import { ipTcp, ipUdp, tcp, TcpOpt, udp } from '../helpers/packet-builder.js';
import { ethernet, ipv6WithExt, optionsHeader, withTags } from '../unit/decode/frames.js';

export type AllocResult = Readonly<{
  packets: number;
  seconds: number;
  packetsPerSecond: number;
  heapGrowthBytes: number;
  gcCount: number;
  /** Status counts, so the mix is known to exercise OK, SKIPPED and MALFORMED. */
  statuses: readonly [number, number, number];
}>;

/** A traffic-like mix: handshakes, data, ACKs, VLAN, IPv6, UDP/GENEVE, ARP, a truncated frame. */
export function sampleFrames(): Buffer[] {
  const a = { src: '198.18.0.1', dst: '198.18.0.2' };
  const b6 = { src: 'fd00:18::1', dst: 'fd00:18::2' };
  const synOpts = Buffer.concat([TcpOpt.mss(8961), TcpOpt.sackPermitted(), TcpOpt.timestamps(1, 0), TcpOpt.nop(), TcpOpt.wscale(7)]);
  const ts = Buffer.concat([TcpOpt.nop(), TcpOpt.nop(), TcpOpt.timestamps(2, 1)]);
  const arp = Buffer.alloc(60); arp.writeUInt16BE(0x0806, 12);
  const data = tcp({ ...a, sport: 40000, dport: 80, flags: 'PA', options: ts, payload: 'x'.repeat(1400) });
  return [
    tcp({ ...a, sport: 40000, dport: 80, flags: 'S', options: synOpts }),
    tcp({ ...a, sport: 80, dport: 40000, flags: 'SA', options: synOpts }),
    tcp({ ...a, sport: 40000, dport: 80, flags: 'A', options: ts }),
    data,
    data.subarray(0, 128), // cut by a small snaplen: still OK
    tcp({ ...a, sport: 80, dport: 40000, flags: 'PA', options: ts, payload: 'HTTP/1.1 200 OK\r\n\r\n', vlan: 12 }),
    withTags(tcp({ ...a, sport: 1, dport: 2, flags: 'R' }), [{ tpid: 0x88a8, vlan: 3 }]),
    tcp({ ...b6, sport: 40000, dport: 443, flags: 'PA', options: ts, payload: 'y'.repeat(300) }),
    ethernet(ipv6WithExt(ipTcp({ ...b6, sport: 1, dport: 2, flags: 'A' }), [[0, optionsHeader(0)]])),
    udp({ ...a, sport: 50000, dport: 6081, payload: Buffer.alloc(120) }),
    ethernet(ipUdp({ ...b6, sport: 5353, dport: 5353, payload: 'mdns' })),
    arp,
    data.subarray(0, 30), // truncated inside the IPv4 header: MALFORMED
  ];
}

async function gcCount(run: () => void): Promise<number> {
  let count = 0;
  const obs = new PerformanceObserver((list) => { count += list.getEntries().length; });
  obs.observe({ entryTypes: ['gc'] });
  run();
  // GC entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return count;
}

function collect(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) { g(); g(); }
}

async function measure(n: number, frames: readonly Buffer[], body: (view: PacketView, stats: DecodeStats, f: Buffer, counts: number[]) => void): Promise<AllocResult> {
  const view = new PacketView();
  const stats = new DecodeStats();
  const counts = [0, 0, 0];
  const m = frames.length;
  // Warm up so the JIT has compiled the loop and its feedback is allocated before measuring.
  for (let i = 0; i < 200_000; i++) body(view, stats, frames[i % m] as Buffer, counts);
  counts[0] = counts[1] = counts[2] = 0;
  collect();
  const before = process.memoryUsage().heapUsed;
  let seconds = 0;
  const gcs = await gcCount(() => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) body(view, stats, frames[i % m] as Buffer, counts);
    seconds = (performance.now() - t0) / 1000;
  });
  const after = process.memoryUsage().heapUsed;
  return {
    packets: n,
    seconds,
    packetsPerSecond: Math.round(n / seconds),
    heapGrowthBytes: after - before,
    gcCount: gcs,
    statuses: [counts[0] ?? 0, counts[1] ?? 0, counts[2] ?? 0],
  };
}

/** Decode `n` packets of the sample mix with the real decoder. */
export function measureDecode(n: number, frames: readonly Buffer[] = sampleFrames()): Promise<AllocResult> {
  return measure(n, frames, (view, stats, f, counts) => {
    const s = decode(view, LinkType.ETHERNET, f, f.length, f.length + 4, 1_771_147_815_000_000, stats);
    counts[s] = (counts[s] as number) + 1;
  });
}

/** The same loop plus one Buffer view per packet: the allocation the decoder must not do. */
export function measureAllocatingControl(n: number, frames: readonly Buffer[] = sampleFrames()): Promise<AllocResult> {
  let sink = 0;
  return measure(n, frames, (view, stats, f, counts) => {
    const s = decode(view, LinkType.ETHERNET, f, f.length, f.length + 4, 1_771_147_815_000_000, stats);
    const payload = f.subarray(view.payloadOffset, view.payloadOffset + view.payloadCapLen);
    sink += payload.length;
    counts[s] = (counts[s] as number) + 1 + (sink & 0);
  });
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1_000_000);
  if (!(globalThis as { gc?: unknown }).gc) console.error('note: run with --expose-gc for a stable heap baseline');
  const decodeOnly = await measureDecode(n);
  const control = await measureAllocatingControl(n);
  console.log(JSON.stringify({ node: process.version, decode: decodeOnly, allocatingControl: control }, null, 2));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
