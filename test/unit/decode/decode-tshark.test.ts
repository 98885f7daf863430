/**
 * tshark as an independent oracle for the decoder: a few thousand generated
 * frames (IPv4/IPv6, TCP with random options, UDP, VLAN and QinQ tags, IPv4
 * options, IPv6 extension headers, snaplen cuts) on every link type are written
 * to pcaps, and every field the analysis relies on is compared with tshark's.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, DecodeStats, DecodeStatus } from '../../../agent/decode/decode.js';
import { IpProto, PacketView, dstIpString, srcIpString } from '../../../agent/decode/packet-view.js';
import { LinkType } from '../../../agent/capture/packet-source.js';
import { ipTcp, ipUdp, TcpOpt } from '../../helpers/packet-builder.js';
import { writePcap } from '../../helpers/pcap-writer.js';
import { ethernet, ipv4WithOptions, ipv6WithExt, nullLoop, optionsHeader, sll, sll2, withTags } from './frames.js';

const FIELDS = [
  'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', 'ip.ttl', 'ipv6.hlim', 'ip.id',
  'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.flags', 'tcp.window_size_value', 'tcp.hdr_len', 'tcp.len',
  'tcp.options.mss_val', 'tcp.options.wscale.shift', 'tcp.options.sack_perm', 'tcp.options.sack.count',
  'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr',
  'udp.srcport', 'udp.dstport', 'udp.length', 'vlan.id', 'ieee8021ad.id',
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

function hasTshark(): boolean {
  try { execFileSync('tshark', ['-v'], { stdio: 'ignore', timeout: 30_000 }); return true; } catch { return false; }
}

function tsharkRows(path: string): Row[] {
  const args = ['-n', '-r', path, '-o', 'tcp.analyze_sequence_numbers:FALSE', '-T', 'fields', '-E', 'occurrence=f'];
  for (const f of FIELDS) args.push('-e', f);
  const out = execFileSync('tshark', args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').filter((l) => l !== '').map((line) => {
    const cols = line.split('\t');
    const row = {} as Row;
    FIELDS.forEach((f, i) => { row[f] = cols[i] ?? ''; });
    return row;
  });
}

/** Seeded so a failure names a frame that can be rebuilt. */
function generator(seed: number) {
  let s = seed;
  const next = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s >>> 8; };
  return { int: (n: number) => next() % n, u32: () => ((next() << 8) ^ next()) >>> 0 };
}

type Built = { ip: Buffer; vlan: number[] };

function randomIp(r: ReturnType<typeof generator>, i: number): Built {
  const v6 = r.int(3) === 0;
  const addr = (side: number) => (v6 ? `fd00:18:${r.int(65536).toString(16)}::${(side + 1).toString(16)}` : `198.18.${r.int(256)}.${r.int(254) + 1}`);
  const ends = { src: addr(0), dst: addr(1), ttl: 1 + r.int(255), ipId: r.int(65536) };
  let ip: Buffer;
  if (r.int(4) === 0) {
    ip = ipUdp({ ...ends, sport: 1024 + r.int(60000), dport: 1024 + r.int(60000), payload: Buffer.alloc(r.int(300), 0x61) });
  } else {
    const opts: Buffer[] = [];
    if (r.int(2)) opts.push(TcpOpt.mss(536 + r.int(9000)));
    if (r.int(2)) opts.push(TcpOpt.sackPermitted());
    if (r.int(2)) opts.push(TcpOpt.timestamps(r.u32(), r.u32()));
    if (r.int(2)) opts.push(TcpOpt.wscale(r.int(15)));
    // SACK blocks in what is left of the 40 option bytes (2 NOPs + kind + length + 8 per block).
    const room = Math.floor((40 - opts.reduce((n, o) => n + o.length, 0) - 4) / 8);
    if (room >= 1 && r.int(3) === 0) {
      const b = Buffer.alloc(2 + 8 * (1 + r.int(Math.min(room, 3))));
      b[0] = 5; b[1] = b.length;
      opts.push(Buffer.concat([TcpOpt.nop(), TcpOpt.nop(), b]));
    }
    const flags = ['S', 'SA', 'A', 'PA', 'FA', 'R', 'RA', 'SEC'][r.int(8)] as string;
    ip = ipTcp({
      ...ends, sport: 1024 + r.int(60000), dport: 1024 + r.int(60000), flags, seq: r.u32(), ack: r.u32(), window: r.int(65536),
      options: Buffer.concat(opts), payload: Buffer.alloc(r.int(3) === 0 ? 0 : r.int(1400), 0x62),
    });
  }
  if (!v6 && i % 7 === 0) ip = ipv4WithOptions(ip, Buffer.from([1, 1, 1, 0]));
  if (v6 && i % 5 === 0) ip = ipv6WithExt(ip, [[0, optionsHeader(0)], [60, optionsHeader(1)]]);
  const vlan = i % 6 === 0 ? [1 + r.int(4094)] : i % 11 === 0 ? [1 + r.int(4094), 1 + r.int(4094)] : [];
  return { ip, vlan };
}

const links = [
  { name: 'Ethernet (802.1Q, QinQ)', link: LinkType.ETHERNET, wrap: (b: Built) => withTags(ethernet(b.ip), b.vlan.map((v, i) => ({ tpid: i === 0 && b.vlan.length > 1 ? 0x88a8 : 0x8100, vlan: v }))) },
  { name: 'Linux cooked v1', link: LinkType.LINUX_SLL, wrap: (b: Built) => sll(b.ip) },
  { name: 'Linux cooked v2', link: LinkType.LINUX_SLL2, wrap: (b: Built) => sll2(b.ip) },
  { name: 'raw IP', link: LinkType.RAW, wrap: (b: Built) => b.ip },
  { name: 'BSD loopback', link: LinkType.NULL, wrap: (b: Built) => nullLoop(b.ip) },
] as const;

const dir = mkdtempSync(join(tmpdir(), 'lbta-decode-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const tshark = hasTshark();

describe('decode agrees with tshark field by field', () => {
  for (const [k, { name, link, wrap }] of links.entries()) {
    test(`${name}: 800 generated frames, a fifth cut by the snaplen`, (t) => {
      if (!tshark) { t.skip('tshark is not installed (apt-get install tshark): the oracle comparison did not run'); return; }
      // Prepare
      const r = generator(1000 + k);
      const frames: { data: Buffer; wireLen: number; tsMicros: number }[] = [];
      const probe = new PacketView();
      for (let i = 0; i < 800; i++) {
        const full = wrap(randomIp(r, i));
        let data = full;
        if (i % 5 === 4) {
          decode(probe, link, full, full.length, full.length, 0, new DecodeStats());
          data = full.subarray(0, probe.payloadOffset + r.int(full.length - probe.payloadOffset + 1));
        }
        frames.push({ data, wireLen: full.length, tsMicros: 1_771_147_815_000_000 + i });
      }
      const path = join(dir, `frames-${link}.pcap`);
      writePcap(path, frames, link);
      // Act
      const rows = tsharkRows(path);
      const view = new PacketView();
      const stats = new DecodeStats();
      // Assess
      assert.equal(rows.length, frames.length);
      frames.forEach((f, i) => {
        const row = rows[i] as Row;
        const at = `frame ${i + 1}`;
        const status = decode(view, link, f.data, f.data.length, f.wireLen, f.tsMicros, stats);
        assert.equal(status, DecodeStatus.OK, at);
        assert.equal(srcIpString(view), row['ip.src'] || row['ipv6.src'], at);
        assert.equal(dstIpString(view), row['ip.dst'] || row['ipv6.dst'], at);
        assert.equal(view.ttl, Number(row['ip.ttl'] || row['ipv6.hlim']), at);
        if (row['ip.id']) assert.equal(view.ipId, parseInt(row['ip.id'], 16), at);
        // The outermost tag: tshark names an 0x88a8 S-tag ieee8021ad and only the inner one vlan.
        const outer = row['ieee8021ad.id'] || row['vlan.id'];
        assert.equal(view.vlan, outer ? Number(outer) : -1, at);
        if (view.proto === IpProto.TCP) {
          assert.equal(view.srcPort, Number(row['tcp.srcport']), at);
          assert.equal(view.dstPort, Number(row['tcp.dstport']), at);
          assert.equal(view.seq, Number(row['tcp.seq_raw']), at);
          assert.equal(view.ack, Number(row['tcp.ack_raw']), at);
          assert.equal(view.tcpFlags, parseInt(row['tcp.flags'], 16), at);
          assert.equal(view.window, Number(row['tcp.window_size_value']), at);
          assert.equal(view.tcpHeaderLen, Number(row['tcp.hdr_len']), at);
          assert.equal(view.payloadLen, Number(row['tcp.len']), `${at}: payload length from the headers`);
          assert.equal(view.optMss, row['tcp.options.mss_val'] ? Number(row['tcp.options.mss_val']) : -1, at);
          assert.equal(view.optWscale, row['tcp.options.wscale.shift'] ? Number(row['tcp.options.wscale.shift']) : -1, at);
          assert.equal(view.optSackPermitted, row['tcp.options.sack_perm'] !== '', at);
          assert.equal(view.optSackBlocks, Number(row['tcp.options.sack.count'] || 0), at);
          assert.equal(view.optTsVal, row['tcp.options.timestamp.tsval'] ? Number(row['tcp.options.timestamp.tsval']) : -1, at);
          assert.equal(view.optTsEcr, row['tcp.options.timestamp.tsecr'] ? Number(row['tcp.options.timestamp.tsecr']) : -1, at);
        } else {
          assert.equal(view.proto, IpProto.UDP, at);
          assert.equal(view.srcPort, Number(row['udp.srcport']), at);
          assert.equal(view.dstPort, Number(row['udp.dstport']), at);
          assert.equal(view.payloadLen + 8, Number(row['udp.length']), at);
        }
        assert.equal(view.payloadCapLen, Math.max(0, Math.min(f.data.length, view.payloadOffset + view.payloadLen) - view.payloadOffset), at);
      });
      assert.equal(stats.ok, frames.length);
    });
  }
});
