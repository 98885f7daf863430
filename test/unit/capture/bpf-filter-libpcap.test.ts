/**
 * The generated kernel filter compiled and run by libpcap itself (tcpdump uses the
 * same pcap_compile() and BPF interpreter as a live capture): it compiles for each
 * link type, with and without a user filter, and passes exactly the crafted frames
 * the analysis needs, with the same per-flow sampling decision as flow-hash.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBpfFilter } from '../../../agent/capture/bpf-filter.js';
import { LinkType } from '../../../agent/capture/packet-source.js';
import { sampleHash4, sampleHash6 } from '../../../agent/flows/flow-hash.js';
import { ethernet, ipTcp, ipUdp, parseIp, TcpOpt, type TcpSpec } from '../../helpers/packet-builder.js';
import { PcapWriter } from '../../helpers/pcap-writer.js';

const HAVE_TCPDUMP = spawnSync('tcpdump', ['--version']).status === 0;
const NO_TCPDUMP = 'tcpdump (libpcap) is not installed: scripts/setup.sh --test installs it';

let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'lbta-bpf-')); });
after(() => { if (dir !== '') rmSync(dir, { recursive: true, force: true }); });

type Link = 'eth' | 'vlan' | 'raw' | 'sll';
const DLT: Record<Link, number> = { eth: LinkType.ETHERNET, vlan: LinkType.ETHERNET, raw: LinkType.RAW, sll: LinkType.LINUX_SLL };

/** An IP packet framed for the link type. */
function frame(ip: Buffer, link: Link): Buffer {
  if (link === 'eth') return ethernet(ip);
  if (link === 'vlan') return ethernet(ip, { vlan: 42 });
  if (link === 'raw') return ip;
  // Linux cooked header: packet type, ARPHRD_ETHER, address length, address (8), protocol.
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); h.writeUInt16BE(1, 2); h.writeUInt16BE(6, 4);
  h.writeUInt16BE((ip[0] ?? 0) >> 4 === 6 ? 0x86dd : 0x0800, 14);
  return Buffer.concat([h, ip]);
}

/** Run libpcap's filter over the frames; the indexes of the frames it passed. */
function passed(frames: readonly Buffer[], dlt: number, filter: string, snaplen?: number): number[] {
  const name = `f${Math.random().toString(36).slice(2)}`;
  const inFile = join(dir, `${name}-in.pcap`);
  const outFile = join(dir, `${name}-out.pcap`);
  const w = new PcapWriter(inFile, dlt, snaplen);
  frames.forEach((f, i) => w.write(1_700_000_000_000_000 + i, f));
  w.close();
  const r = spawnSync('tcpdump', ['-r', inFile, '-w', outFile, filter], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tcpdump refused the filter: ${r.stderr}`);
  // Records keep their order and their microsecond timestamp gives the input index back.
  const out = readFileSync(outFile);
  const idx: number[] = [];
  for (let p = 24; p + 16 <= out.length; p += 16 + out.readUInt32LE(p + 8)) idx.push(out.readUInt32LE(p + 4));
  return idx;
}

/** Compile only (tcpdump -d prints the BPF program); returns the instruction count. */
function compiles(dlt: number, filter: string): number {
  const f = join(dir, `empty-${dlt}.pcap`);
  new PcapWriter(f, dlt).close();
  const r = spawnSync('tcpdump', ['-d', '-r', f, filter], { encoding: 'utf8' });
  assert.equal(r.status, 0, `libpcap did not compile the filter for DLT ${dlt}: ${r.stderr}`);
  return r.stdout.trim().split('\n').length;
}

const N = 10;
const V4 = { a: '198.18.45.10', b: '198.18.45.20' };
const V6 = { a: '2001:db8:45::10', b: '2001:db8:45::20' };

/** A client port whose flow the sampler takes (want true) or leaves (want false). */
function portFor(a: string, b: string, want: boolean, n = N): number {
  const v6 = a.includes(':');
  for (let p = 40000; p < 65535; p++) {
    const h = v6 ? hash6(a, b, p, 8080) : sampleHash4(parseIp(a).readUInt32BE(0), parseIp(b).readUInt32BE(0), p, 8080);
    if ((h % n === 0) === want) return p;
  }
  throw new Error('no port');
}

function hash6(a: string, b: string, sport: number, dport: number): number {
  const buf = Buffer.concat([parseIp(a), parseIp(b)]);
  return sampleHash6(buf, 0, 16, sport, dport);
}

/** Crafted packets of one flow, each with whether the analysis needs it when the flow is not sampled. */
function flowCases(a: string, b: string, cport: number): Array<[string, Buffer, boolean]> {
  const c = (flags: string, payload: string | Buffer = '', extra: Partial<TcpSpec> = {}): Buffer =>
    ipTcp({ src: a, dst: b, sport: cport, dport: 8080, flags, seq: 1000, ack: 1, payload, ...extra });
  const s = (flags: string, payload: string | Buffer = '', extra: Partial<TcpSpec> = {}): Buffer =>
    ipTcp({ src: b, dst: a, sport: 8080, dport: cport, flags, seq: 5000, ack: 1001, payload, ...extra });
  const cases: Array<[string, Buffer, boolean]> = [
    ['SYN', c('S'), true],
    ['SYN-ACK', s('SA'), true],
    ['pure ACK', c('A'), false],
    ['FIN', c('FA'), true],
    ['RST', s('R'), true],
    ['RST-ACK', s('RA'), true],
    ['zero window ACK', s('A', '', { window: 0 }), true],
    ['body segment', s('A', 'x'.repeat(1000)), false],
    ['TLS application data', c('PA', Buffer.from([0x17, 0x03, 0x03, 0x00, 0x10, 1, 2, 3])), false],
    ['3-byte payload', c('PA', 'GET'), false],
    ['last segment of a request head (CRLF CRLF at its end)', c('PA', `${'k'.repeat(300)}\r\nUser-Agent: t\r\n\r\n`), true],
    ['middle segment of a request head', c('PA', 'k'.repeat(300)), false],
    ['response head', s('PA', 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'), true],
    ['request head after TCP options', c('PA', 'GET / HTTP/1.1\r\n\r\n', { options: Buffer.concat([TcpOpt.nop(), TcpOpt.nop(), TcpOpt.timestamps(1, 2)]) }), true],
    ['proxy protocol v1', c('PA', 'PROXY TCP4 203.0.113.5 198.18.45.20 5000 8080\r\n'), true],
    ['proxy protocol v2', c('PA', Buffer.from('0d0a0d0a000d0a515549540a2111000c', 'hex')), true],
    ['TLS ClientHello', c('PA', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0])), true],
    ['TLS alert', s('PA', Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 2, 40])), true],
    ['TLS change_cipher_spec', c('PA', Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 1])), true],
  ];
  for (const m of ['GET ', 'POST', 'PUT ', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'PRI * HTTP/2.0']) {
    cases.push([`request ${m.trim()}`, c('PA', `${m} /x HTTP/1.1\r\n\r\n`), true]);
  }
  return cases;
}

/** IPv6 with a hop-by-hop options header before TCP: libpcap's tcp[] cannot reach it. */
function ip6WithHopByHop(a: string, b: string, cport: number): Buffer {
  const plain = ipTcp({ src: a, dst: b, sport: cport, dport: 8080, flags: 'A', seq: 1, ack: 1 });
  const hbh = Buffer.from([6, 0, 1, 4, 0, 0, 0, 0]); // next header TCP, length 0, PadN
  const ip = Buffer.concat([plain.subarray(0, 40), hbh, plain.subarray(40)]);
  ip[6] = 0;
  ip.writeUInt16BE(plain.length - 40 + 8, 4);
  return ip;
}

/** The same IPv4 packet as a non-first fragment (offset 8 bytes). */
function nonFirstFragment(a: string, b: string, cport: number): Buffer {
  const ip = ipTcp({ src: a, dst: b, sport: cport, dport: 8080, flags: 'A', seq: 1, ack: 1, payload: 'y'.repeat(64) });
  ip.writeUInt16BE(0x0001, 6);
  return ip;
}

describe('The kernel filter under libpcap', () => {
  it('compiles for Ethernet, Linux cooked and raw IP links, with and without a user filter, at -s 1 and -s N', (t) => {
    if (!HAVE_TCPDUMP) { t.skip(NO_TCPDUMP); return; }
    for (const dlt of [LinkType.ETHERNET, LinkType.LINUX_SLL, LinkType.RAW]) {
      for (const userFilter of [undefined, 'port 8080 or port 443']) {
        for (const sample of [1, 10, 1_000_000]) {
          // Act
          const insns = compiles(dlt, buildBpfFilter({ linkType: dlt, userFilter, sample }));
          // Assess: the kernel accepts at most 4096 instructions.
          assert.ok(insns > 1 && insns < 4096, `DLT ${dlt} -s ${sample} user ${userFilter ?? '-'}: ${insns} instructions`);
        }
      }
    }
  });

  for (const link of ['eth', 'vlan', 'sll', 'raw'] as const) {
    for (const [family, addr] of [['IPv4', V4], ['IPv6', V6]] as const) {
      it(`at -s ${N} passes an unsampled ${family} flow's control, zero-window and head segments only, and a sampled flow whole (${link})`, (t) => {
        if (!HAVE_TCPDUMP) { t.skip(NO_TCPDUMP); return; }
        // Prepare
        const unsampled = flowCases(addr.a, addr.b, portFor(addr.a, addr.b, false));
        const sampled = flowCases(addr.a, addr.b, portFor(addr.a, addr.b, true));
        const extra: Array<[string, Buffer, boolean]> = [
          ['UDP', ipUdp({ src: addr.a, dst: addr.b, sport: 5353, dport: 6081, payload: 'geneve' }), true],
          family === 'IPv4'
            ? ['non-first fragment', nonFirstFragment(addr.a, addr.b, portFor(addr.a, addr.b, false)), true]
            : ['hop-by-hop header', ip6WithHopByHop(addr.a, addr.b, portFor(addr.a, addr.b, false)), true],
        ];
        const all = [...unsampled, ...sampled.map(([n, b]) => [`sampled ${n}`, b, true] as [string, Buffer, boolean]), ...extra];
        // Act
        const got = new Set(passed(all.map(([, b]) => frame(b, link)), DLT[link], buildBpfFilter({ linkType: DLT[link], sample: N })));
        // Assess
        const wrong = all.flatMap(([name, , want], i) => (got.has(i) === want ? [] : [`${name}: ${want ? 'dropped' : 'passed'}`]));
        assert.deepEqual(wrong, []);
      });
    }
  }

  it('at -s 1 passes every TCP and UDP packet and nothing else', (t) => {
    if (!HAVE_TCPDUMP) { t.skip(NO_TCPDUMP); return; }
    // Prepare
    const tcps = flowCases(V4.a, V4.b, portFor(V4.a, V4.b, false)).map(([, b]) => b);
    const icmp = Buffer.from(ipUdp({ src: V4.a, dst: V4.b, sport: 1, dport: 2 }));
    icmp[9] = 1; // protocol ICMP (checksum irrelevant to the filter)
    const frames = [...tcps, icmp].map((b) => ethernet(b));
    // Act
    const got = passed(frames, LinkType.ETHERNET, buildBpfFilter({ sample: 1 }));
    // Assess
    assert.deepEqual(got, tcps.map((_, i) => i));
  });

  it('takes the same flows as flow-hash.ts, in both directions, for IPv4 and IPv6 (hash values above 2^31 included)', (t) => {
    if (!HAVE_TCPDUMP) { t.skip(NO_TCPDUMP); return; }
    // Prepare: pure ACKs (dropped unless sampled) of 400 pseudo-random flows.
    let seed = 7;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const frames: Buffer[] = [];
    const want: number[] = [];
    let high = 0;
    for (let i = 0; i < 400; i++) {
      const v6 = i % 2 === 1;
      const a = v6 ? `2001:db8:${rnd(65536).toString(16)}::${rnd(65536).toString(16)}` : `${128 + rnd(127)}.${rnd(256)}.${rnd(256)}.${rnd(256)}`;
      const b = v6 ? `fd00:${rnd(65536).toString(16)}::1` : `10.${rnd(256)}.${rnd(256)}.${rnd(256)}`;
      const sport = 1024 + rnd(64000);
      const dport = [80, 443, 8080][rnd(3)] as number;
      const h = v6 ? hash6(a, b, sport, dport) : sampleHash4(parseIp(a).readUInt32BE(0), parseIp(b).readUInt32BE(0), sport, dport);
      if (h >= 2 ** 31) high++;
      const n = 7;
      const fromClient = rnd(2) === 0;
      frames.push(ethernet(ipTcp(fromClient
        ? { src: a, dst: b, sport, dport, flags: 'A', seq: 1, ack: 1 }
        : { src: b, dst: a, sport: dport, dport: sport, flags: 'A', seq: 1, ack: 1 })));
      if (h % n === 0) want.push(i);
    }
    // Act
    const got = passed(frames, LinkType.ETHERNET, buildBpfFilter({ sample: 7 }));
    // Assess
    assert.ok(high > 50, 'the sample includes hashes with the top bit set (unsigned MOD)');
    assert.ok(want.length > 20, 'some flows are sampled');
    assert.deepEqual(got, want);
  });

  it('ANDs the user filter: a flow the user excludes passes nothing, even its SYN', (t) => {
    if (!HAVE_TCPDUMP) { t.skip(NO_TCPDUMP); return; }
    // Prepare
    const mine = flowCases(V4.a, V4.b, portFor(V4.a, V4.b, false));
    const other = ipTcp({ src: V4.a, dst: V4.b, sport: 40001, dport: 9090, flags: 'S', seq: 1 });
    const frames = [...mine.map(([, b]) => b), other];
    // Act
    const got = new Set(passed(frames.map((b) => ethernet(b, { vlan: 7 })), LinkType.ETHERNET,
      buildBpfFilter({ sample: N, userFilter: 'port 8080' })));
    // Assess
    assert.deepEqual(mine.flatMap(([name, , want], i) => (got.has(i) === want ? [] : [name])), []);
    assert.equal(got.has(frames.length - 1), false);
  });

  it('decides on packets cut by the snaplen: payload loads past the capture never hide a SYN, a head or a sampled flow', (t) => {
    if (!HAVE_TCPDUMP) { t.skip(NO_TCPDUMP); return; }
    // Prepare: frames longer than the 120-byte snaplen.
    const u = portFor(V4.a, V4.b, false);
    const sp = portFor(V4.a, V4.b, true);
    const long = 'z'.repeat(1000);
    const frames: Array<[string, Buffer, boolean]> = [
      ['sampled body', ipTcp({ src: V4.b, dst: V4.a, sport: 8080, dport: sp, flags: 'A', seq: 1, ack: 1, payload: long }), true],
      ['unsampled head', ipTcp({ src: V4.a, dst: V4.b, sport: u, dport: 8080, flags: 'PA', seq: 1, ack: 1, payload: `GET /${long}` }), true],
      ['unsampled body', ipTcp({ src: V4.b, dst: V4.a, sport: 8080, dport: u, flags: 'A', seq: 1, ack: 1, payload: long }), false],
      ['unsampled FIN with data', ipTcp({ src: V4.b, dst: V4.a, sport: 8080, dport: u, flags: 'FA', seq: 1, ack: 1, payload: long }), true],
    ];
    // Act
    const got = new Set(passed(frames.map(([, b]) => ethernet(b)), LinkType.ETHERNET, buildBpfFilter({ sample: N }), 120));
    // Assess
    assert.deepEqual(frames.flatMap(([name, , want], i) => (got.has(i) === want ? [] : [name])), []);
  });
});
