/**
 * Layer by layer: each header the decoder reads is shown valid, empty, invalid
 * (garbage in its fields) and truncated at every byte, with the reason counted.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, DecodeStats, DecodeStatus } from '../../../agent/decode/decode.js';
import { PacketView, IpVersion, dstIpString, srcIpString } from '../../../agent/decode/packet-view.js';
import { LinkType } from '../../../agent/capture/packet-source.js';
import { ipTcp, ipUdp, tcp, TcpOpt, udp } from '../../helpers/packet-builder.js';
import {
  authHeader, ethernet, fragmentHeader, ipv4WithOptions, ipv6WithExt, nullLoop, optionsHeader, sll, sll2, withTags,
} from './frames.js';

const T0 = 1_771_147_815_000_000;
const V4 = { src: '198.18.0.1', dst: '198.18.0.2' };
const V6 = { src: 'fd00:18::1', dst: 'fd00:18::2' };

function run(frame: Buffer, link: number = LinkType.ETHERNET, capLen = frame.length, wireLen = frame.length) {
  const view = new PacketView();
  const stats = new DecodeStats();
  const status = decode(view, link, frame, capLen, wireLen, T0, stats);
  const snap = stats.snapshot();
  const reasons = Object.keys(snap.malformed.by_reason);
  const kinds = Object.keys(snap.skipped.by_kind);
  return { view, stats, status, snap, reason: reasons.length === 1 ? reasons[0] : reasons.join(','), kind: kinds.join(',') };
}

function expectMalformed(frame: Buffer, reason: string, link: number = LinkType.ETHERNET): void {
  const r = run(frame, link);
  assert.equal(r.status, DecodeStatus.MALFORMED, `expected MALFORMED ${reason}`);
  assert.equal(r.reason, reason);
  assert.equal(r.snap.malformed.total, 1);
  assert.equal(r.snap.ok, 0);
}

function expectSkipped(frame: Buffer, kind: string, link: number = LinkType.ETHERNET): void {
  const r = run(frame, link);
  assert.equal(r.status, DecodeStatus.SKIPPED, `expected SKIPPED ${kind}`);
  assert.equal(r.kind, kind);
  assert.equal(r.snap.skipped.total, 1);
  assert.equal(r.snap.malformed.total, 0);
}

/**
 * Cut `frame` at every length 0..full. `bounds` lists [end, reason]: a cut below
 * `end` (and at or above the previous end) must be MALFORMED for `reason`; a cut
 * at or past the last end must decode OK with the wire payload length intact.
 */
function assertEveryTruncation(frame: Buffer, link: number, bounds: readonly (readonly [number, string])[]): void {
  const full = run(frame, link);
  assert.equal(full.status, DecodeStatus.OK, 'the whole frame decodes');
  const headersEnd = (bounds[bounds.length - 1] as readonly [number, string])[0];
  assert.equal(full.view.payloadOffset, headersEnd, 'the boundaries end where the payload starts');
  for (let cut = 0; cut <= frame.length; cut++) {
    // The capture holds `cut` bytes of a packet that was frame.length bytes on the wire.
    const r = run(frame.subarray(0, cut), link, cut, frame.length);
    const expected = bounds.find(([end]) => cut < end);
    if (expected) {
      assert.equal(r.status, DecodeStatus.MALFORMED, `cut at ${cut}`);
      assert.equal(r.reason, expected[1], `cut at ${cut}`);
    } else {
      assert.equal(r.status, DecodeStatus.OK, `cut at ${cut}`);
      assert.equal(r.view.payloadLen, full.view.payloadLen, `cut at ${cut}: wire payload length`);
      assert.equal(r.view.payloadCapLen, cut - headersEnd, `cut at ${cut}: captured payload`);
    }
  }
  // A capLen larger than the buffer is bounded by the buffer.
  const r = run(frame.subarray(0, headersEnd - 1), link, frame.length, frame.length);
  assert.equal(r.status, DecodeStatus.MALFORMED, 'capLen beyond the buffer is not trusted');
}

const SYN_OPTS = Buffer.concat([TcpOpt.mss(1460), TcpOpt.sackPermitted(), TcpOpt.timestamps(7, 0), TcpOpt.nop(), TcpOpt.wscale(7)]);

describe('decode: truncation at every header boundary gives the right reason', () => {
  test('Ethernet / IPv4 / TCP with 24 bytes of options', () => {
    const frame = tcp({ ...V4, sport: 1, dport: 2, flags: 'S', options: SYN_OPTS, payload: 'abcd' });
    assertEveryTruncation(frame, LinkType.ETHERNET, [[14, 'truncated_link'], [34, 'truncated_ipv4'], [78, 'truncated_tcp']]);
  });

  test('Ethernet / 802.1Q / IPv4 / UDP', () => {
    const frame = udp({ ...V4, sport: 1, dport: 53, payload: 'query', vlan: 100 });
    assertEveryTruncation(frame, LinkType.ETHERNET,
      [[14, 'truncated_link'], [18, 'truncated_vlan'], [38, 'truncated_ipv4'], [46, 'truncated_udp']]);
  });

  test('Ethernet / QinQ (0x88a8 + 0x8100) / IPv4 / TCP', () => {
    const frame = withTags(tcp({ ...V4, sport: 1, dport: 2, flags: 'PA', payload: 'x' }),
      [{ tpid: 0x88a8, vlan: 10 }, { tpid: 0x8100, vlan: 20 }]);
    assertEveryTruncation(frame, LinkType.ETHERNET,
      [[14, 'truncated_link'], [18, 'truncated_vlan'], [22, 'truncated_vlan'], [42, 'truncated_ipv4'], [62, 'truncated_tcp']]);
  });

  test('Ethernet / IPv4 with 8 bytes of options / TCP', () => {
    const ip = ipv4WithOptions(ipTcp({ ...V4, sport: 1, dport: 2, flags: 'A', payload: 'zz' }), Buffer.from([1, 1, 1, 1, 1, 1, 1, 0]));
    assertEveryTruncation(ethernet(ip), LinkType.ETHERNET, [[14, 'truncated_link'], [42, 'truncated_ipv4'], [62, 'truncated_tcp']]);
  });

  test('Ethernet / IPv6 / hop-by-hop / destination options (16 bytes) / UDP', () => {
    const ip = ipv6WithExt(ipUdp({ ...V6, sport: 1, dport: 2, payload: 'q' }), [[0, optionsHeader(0)], [60, optionsHeader(1)]]);
    assertEveryTruncation(ethernet(ip), LinkType.ETHERNET,
      [[14, 'truncated_link'], [54, 'truncated_ipv6'], [62, 'truncated_ipv6_ext'], [78, 'truncated_ipv6_ext'], [86, 'truncated_udp']]);
  });

  test('Ethernet / IPv6 / first fragment / AH / TCP', () => {
    const ip = ipv6WithExt(ipTcp({ ...V6, sport: 1, dport: 2, flags: 'PA', payload: 'frag' }), [[44, fragmentHeader(0, true)], [51, authHeader(2)]]);
    assertEveryTruncation(ethernet(ip), LinkType.ETHERNET,
      [[14, 'truncated_link'], [54, 'truncated_ipv6'], [62, 'truncated_ipv6_ext'], [78, 'truncated_ipv6_ext'], [98, 'truncated_tcp']]);
  });

  test('Linux cooked v1 / IPv4 / TCP', () => {
    assertEveryTruncation(sll(ipTcp({ ...V4, sport: 1, dport: 2, flags: 'S' })), LinkType.LINUX_SLL,
      [[16, 'truncated_link'], [36, 'truncated_ipv4'], [56, 'truncated_tcp']]);
  });

  test('Linux cooked v2 / IPv6 / UDP', () => {
    assertEveryTruncation(sll2(ipUdp({ ...V6, sport: 1, dport: 2, payload: 'abc' })), LinkType.LINUX_SLL2,
      [[20, 'truncated_link'], [60, 'truncated_ipv6'], [68, 'truncated_udp']]);
  });

  test('raw IPv4 / UDP and raw IPv6 / TCP (DLT_RAW)', () => {
    assertEveryTruncation(ipUdp({ ...V4, sport: 1, dport: 2, payload: 'r' }), LinkType.RAW,
      [[1, 'truncated_ip'], [20, 'truncated_ipv4'], [28, 'truncated_udp']]);
    assertEveryTruncation(ipTcp({ ...V6, sport: 1, dport: 2, flags: 'S' }), LinkType.RAW,
      [[1, 'truncated_ip'], [40, 'truncated_ipv6'], [60, 'truncated_tcp']]);
  });

  test('BSD loopback / IPv6 / TCP (DLT_NULL)', () => {
    assertEveryTruncation(nullLoop(ipTcp({ ...V6, sport: 1, dport: 2, flags: 'S' })), LinkType.NULL,
      [[4, 'truncated_link'], [44, 'truncated_ipv6'], [64, 'truncated_tcp']]);
  });
});

describe('decode: link layer', () => {
  test('every link type decodes the same packet', () => {
    // Prepare
    const ip4 = ipTcp({ ...V4, sport: 40000, dport: 443, flags: 'S' });
    const cases: [string, number, Buffer][] = [
      ['EN10MB', LinkType.ETHERNET, ethernet(ip4)],
      ['RAW 101', LinkType.RAW, ip4],
      ['RAW 12', LinkType.RAW_ALT, ip4],
      ['RAW 14', 14, ip4],
      ['LINUX_SLL', LinkType.LINUX_SLL, sll(ip4)],
      ['LINUX_SLL2', LinkType.LINUX_SLL2, sll2(ip4)],
      ['NULL little-endian', LinkType.NULL, nullLoop(ip4)],
      ['NULL big-endian', LinkType.NULL, nullLoop(ip4, true)],
      ['LOOP (OpenBSD)', LinkType.LOOP, nullLoop(ip4, true)],
      ['IPV4 228', LinkType.IPV4, ip4],
    ];
    for (const [name, link, frame] of cases) {
      // Act
      const { view, status } = run(frame, link);
      // Assess
      assert.equal(status, DecodeStatus.OK, name);
      assert.equal(srcIpString(view), '198.18.0.1', name);
      assert.equal(view.dstPort, 443, name);
      assert.equal(view.ipOffset, frame.length - ip4.length, name);
    }
  });

  test('raw IPv6 (LINKTYPE_IPV6, 229) decodes as raw IP does', () => {
    const frame = ipTcp({ ...V6, sport: 40000, dport: 443, flags: 'S' });
    const { view, status } = run(frame, LinkType.IPV6);
    assert.equal(status, DecodeStatus.OK);
    assert.equal(srcIpString(view), 'fd00:18::1');
    assert.deepEqual([view.dstPort, view.ipOffset], [443, 0]);
  });

  test('empty input is malformed for every link type', () => {
    for (const [link, reason] of [
      [LinkType.ETHERNET, 'truncated_link'], [LinkType.LINUX_SLL, 'truncated_link'], [LinkType.LINUX_SLL2, 'truncated_link'],
      [LinkType.NULL, 'truncated_link'], [LinkType.LOOP, 'truncated_link'], [LinkType.RAW, 'truncated_ip'], [12, 'truncated_ip'], [14, 'truncated_ip'],
      [LinkType.IPV4, 'truncated_ip'], [LinkType.IPV6, 'truncated_ip'],
    ] as const) {
      expectMalformed(Buffer.alloc(0), reason, link);
    }
  });

  test('an unknown link type is malformed and counted as such', () => {
    const r = run(ethernet(ipTcp({ ...V4, sport: 1, dport: 2, flags: 'S' })), 147);
    assert.equal(r.status, DecodeStatus.MALFORMED);
    assert.equal(r.reason, 'unknown_link_type');
    assert.equal(r.stats.unknownLinkType, 1);
  });

  test('non-IP ethertypes are skipped by kind', () => {
    const frame = (type: number) => { const f = Buffer.alloc(60); f.writeUInt16BE(type, 12); return f; };
    expectSkipped(frame(0x0806), 'arp');
    expectSkipped(frame(0x88cc), 'other_ethertype'); // LLDP
    expectSkipped(frame(0x0026), 'non_ethernet_ii'); // 802.3 length (STP)
    const loop = Buffer.alloc(24); loop.writeUInt32LE(7, 0);
    expectSkipped(loop, 'other_ethertype', LinkType.NULL);
    const sllArp = sll(Buffer.alloc(28)); sllArp.writeUInt16BE(0x0806, 14);
    expectSkipped(sllArp, 'arp', LinkType.LINUX_SLL);
  });

  test('VLAN: the outermost id is kept, 0x9100 is a tag, and a stack of five tags is malformed', () => {
    const base = tcp({ ...V4, sport: 1, dport: 2, flags: 'S' });
    const old = run(withTags(base, [{ tpid: 0x9100, vlan: 4094 }, { tpid: 0x8100, vlan: 5 }]));
    assert.equal(old.status, DecodeStatus.OK);
    assert.equal(old.view.vlan, 4094);
    assert.equal(old.snap.vlan_tagged, 1);
    const five = Array.from({ length: 5 }, (_, i) => ({ tpid: 0x8100, vlan: i + 1 }));
    expectMalformed(withTags(base, five), 'too_many_vlan_tags');
  });

  test('garbage is never OK: random bytes as an Ethernet frame give a status and a count', () => {
    let seed = 7;
    const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed >> 8; };
    for (let i = 0; i < 2000; i++) {
      const g = Buffer.alloc(rnd() % 80);
      for (let j = 0; j < g.length; j++) g[j] = rnd() & 255;
      const r = run(g);
      assert.ok(r.status === 0 || r.status === 1 || r.status === 2);
      assert.equal(r.snap.ok + r.snap.skipped.total + r.snap.malformed.total, 1);
    }
  });
});

describe('decode: IPv4', () => {
  const ip = () => ipTcp({ ...V4, sport: 1, dport: 2, flags: 'PA', payload: 'hello', ttl: 33, ipId: 0xbeef });

  test('fields: addresses as unsigned 32-bit numbers, TTL, id, lengths', () => {
    const hi = ipTcp({ src: '255.1.2.3', dst: '198.18.0.2', sport: 1, dport: 2, flags: 'A' });
    const { view, status } = run(ethernet(hi));
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.src4, 0xff010203);
    assert.ok(view.src4 > 0, 'unsigned');
    const r = run(ethernet(ip()));
    assert.equal(r.view.ttl, 33);
    assert.equal(r.view.ipId, 0xbeef);
    assert.equal(r.view.ipTotalLen, 45);
    assert.equal(r.view.ipHeaderLen, 20);
    assert.equal(r.view.src6Offset, -1);
    assert.equal(r.snap.ipv4, 1);
  });

  test('invalid header fields are malformed by reason', () => {
    const mutate = (f: (b: Buffer) => void) => { const b = ethernet(ip()); f(b.subarray(14)); return b; };
    expectMalformed(mutate((b) => { b[0] = 0x65; }), 'bad_ipv4_version');
    expectMalformed(mutate((b) => { b[0] = 0x44; }), 'bad_ipv4_ihl');
    expectMalformed(mutate((b) => { b[0] = 0x4f; }), 'truncated_ipv4'); // IHL 60 > captured
    expectMalformed(mutate((b) => { b.writeUInt16BE(19, 2); }), 'bad_ipv4_total_length');
    expectMalformed(mutate((b) => { b.writeUInt16BE(30, 2); }), 'bad_ip_total_length'); // TCP header past the IP end
    expectMalformed(Buffer.from([0x50, 0, 0, 0]), 'bad_ip_version', LinkType.RAW);
  });

  test('fragments: first with MF decoded and flagged, later ones skipped, both counted', () => {
    const u = ipUdp({ ...V4, sport: 5, dport: 6, payload: 'abc' });
    const first = Buffer.from(u); first.writeUInt16BE(0x2000, 6);
    const later = Buffer.from(u); later.writeUInt16BE(0x2001, 6);
    const a = run(ethernet(first));
    assert.equal(a.status, DecodeStatus.OK);
    assert.equal(a.view.fragment, true);
    assert.equal(a.snap.fragments.first, 1);
    const b = run(ethernet(later));
    assert.equal(b.status, DecodeStatus.SKIPPED);
    assert.equal(b.kind, 'non_first_fragment');
    assert.equal(b.view.fragment, true);
    assert.equal(b.snap.fragments.non_first, 1);
    // DF alone (what the builder sets) is not a fragment.
    assert.equal(run(ethernet(u)).view.fragment, false);
  });

  test('a zero total length (GSO/TSO super-packet) is sized by the wire length and counted', () => {
    // Prepare: a 1000-byte response segment whose length field Linux left at 0, cut by a 200-byte snaplen.
    const frame = tcp({ ...V4, sport: 80, dport: 40000, flags: 'PA', payload: Buffer.alloc(1000, 0x41) });
    frame.writeUInt16BE(0, 14 + 2);
    // Act
    const r = run(frame.subarray(0, 200), LinkType.ETHERNET, 200, frame.length);
    // Assess
    assert.equal(r.status, DecodeStatus.OK);
    assert.equal(r.view.payloadLen, 1000);
    assert.equal(r.view.payloadCapLen, 200 - 54);
    assert.equal(r.snap.length_from_wire, 1);
    // A wire length too short for the header is still malformed, not a negative length.
    assert.equal(run(frame.subarray(0, 60), LinkType.ETHERNET, 60, 20).reason, 'bad_ipv4_total_length');
  });

  test('ICMP and other protocols are skipped by kind', () => {
    const icmp = Buffer.from(ip()); icmp[9] = 1;
    expectSkipped(ethernet(icmp), 'icmp');
    const gre = Buffer.from(ip()); gre[9] = 47;
    expectSkipped(ethernet(gre), 'other_ip_protocol');
  });
});

describe('decode: IPv6', () => {
  test('fields: address offsets, hop limit, payload length from the header', () => {
    const ip = ipUdp({ ...V6, sport: 1, dport: 2, payload: 'abcdef', ttl: 9 });
    const { view, status } = run(ethernet(ip));
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.ipVersion, IpVersion.V6);
    assert.equal(view.src6Offset, 22);
    assert.equal(view.dst6Offset, 38);
    assert.equal(dstIpString(view), 'fd00:18::2');
    assert.equal(view.ttl, 9);
    assert.equal(view.ipTotalLen, 54);
    assert.equal(view.src4, 0);
  });

  test('a zero payload length (BIG TCP super-packet) is sized by the wire length and counted', () => {
    const frame = tcp({ ...V6, sport: 80, dport: 40000, flags: 'PA', payload: Buffer.alloc(3000, 0x41) });
    frame.writeUInt16BE(0, 14 + 4);
    const r = run(frame.subarray(0, 300), LinkType.ETHERNET, 300, frame.length);
    assert.equal(r.status, DecodeStatus.OK);
    assert.equal(r.view.payloadLen, 3000);
    assert.equal(r.view.ipTotalLen, frame.length - 14);
    assert.equal(r.snap.length_from_wire, 1);
    // No-next-header with an empty payload is an ordinary packet, not a super-packet.
    const none = ethernet(ipUdp({ ...V6, sport: 1, dport: 2 }).subarray(0, 40)); none[14 + 6] = 59; none.writeUInt16BE(0, 14 + 4);
    const n = run(none);
    assert.equal(n.kind, 'no_next_header');
    assert.equal(n.snap.length_from_wire, 0);
  });

  test('routing and AH headers are walked to the upper layer', () => {
    const ip = ipv6WithExt(ipTcp({ ...V6, sport: 1, dport: 80, flags: 'S' }), [[43, optionsHeader(2)], [51, authHeader(3)]]);
    const { view, status } = run(ethernet(ip));
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.ipHeaderLen, 40 + 24 + 20);
    assert.equal(view.proto, 6);
    assert.equal(view.dstPort, 80);
  });

  test('ESP, no-next-header, ICMPv6 and non-first fragments are skipped by kind', () => {
    const base = ipUdp({ ...V6, sport: 1, dport: 2, payload: 'abcdefgh' });
    const esp = Buffer.from(base); esp[6] = 50;
    expectSkipped(ethernet(esp), 'esp');
    const none = Buffer.from(base); none[6] = 59;
    expectSkipped(ethernet(none), 'no_next_header');
    const icmp = Buffer.from(base); icmp[6] = 58;
    expectSkipped(ethernet(icmp), 'icmp');
    const r = run(ethernet(ipv6WithExt(base, [[44, fragmentHeader(3, false)]])));
    assert.equal(r.status, DecodeStatus.SKIPPED);
    assert.equal(r.kind, 'non_first_fragment');
    assert.equal(r.view.proto, 17);
    assert.equal(r.snap.fragments.non_first, 1);
  });

  test('invalid headers are malformed by reason', () => {
    const base = ipUdp({ ...V6, sport: 1, dport: 2, payload: 'abcdefgh' });
    const v4 = ethernet(base); v4[14] = 0x40; // version 4 under ethertype 0x86dd
    expectMalformed(v4, 'bad_ipv6_version');
    // An extension header longer than the payload length says.
    const long = ipv6WithExt(base, [[0, optionsHeader(0)]]); long[40 + 1] = 200;
    expectMalformed(ethernet(long), 'bad_ipv6_ext');
    // A chain of 20 destination-options headers is refused, not walked forever.
    const chain = ipv6WithExt(base, Array.from({ length: 20 }, () => [60, optionsHeader(0)] as const));
    expectMalformed(ethernet(chain), 'bad_ipv6_ext');
    // A payload length too short for the UDP header.
    const short = Buffer.from(base); short.writeUInt16BE(4, 4);
    expectMalformed(ethernet(short), 'bad_udp_length');
  });
});

describe('decode: TCP', () => {
  test('options: MSS, window scale, SACK-permitted, timestamps, SACK blocks, unknown kinds', () => {
    const sack = Buffer.alloc(18); sack[0] = 5; sack[1] = 18; // two blocks
    const unknown = Buffer.from([30, 4, 0, 0]); // MPTCP, skipped by length
    const frame = tcp({ ...V4, sport: 1, dport: 2, flags: 'A', seq: 0xffffffff, ack: 0x80000000, options: Buffer.concat([TcpOpt.nop(), TcpOpt.nop(), sack, unknown]) });
    const { view, status } = run(frame);
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.optSackBlocks, 2);
    assert.equal(view.optMss, -1);
    assert.equal(view.seq, 0xffffffff);
    assert.equal(view.ack, 0x80000000);
    const syn = run(tcp({ ...V4, sport: 1, dport: 2, flags: 'S', options: SYN_OPTS }));
    assert.equal(syn.view.optMss, 1460);
    assert.equal(syn.view.optWscale, 7);
    assert.equal(syn.view.optSackPermitted, true);
    assert.equal(syn.view.optTsVal, 7);
    assert.equal(syn.view.optTsEcr, 0);
    assert.equal(syn.view.tcpHeaderLen, 44);
  });

  test('bytes after an end-of-list option are ignored', () => {
    const frame = tcp({ ...V4, sport: 1, dport: 2, flags: 'S', options: Buffer.from([0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) });
    const { view, status } = run(frame);
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.optMss, -1);
  });

  test('bad option lengths and bad data offsets are malformed by reason', () => {
    for (const opts of [
      [2, 5, 1], // MSS of length 5 running past the 4-byte option area
      [2, 3, 0, 0], // MSS of length 3
      [3, 4, 0, 0], // window scale of length 4
      [4, 3, 0, 0], // SACK-permitted of length 3
      [5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // SACK not a multiple of 8
      [8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // timestamps of length 9
      [30, 0, 0, 0], // length 0 would loop forever
      [30, 1, 0, 0], // length 1 is shorter than kind + length
      [30, 9, 0, 0], // past the header
    ]) {
      expectMalformed(tcp({ ...V4, sport: 1, dport: 2, flags: 'S', options: Buffer.from(opts) }), 'bad_tcp_option');
    }
    const lowOff = tcp({ ...V4, sport: 1, dport: 2, flags: 'S' }); lowOff[14 + 20 + 12] = 0x40;
    expectMalformed(lowOff, 'bad_tcp_offset');
    const highOff = tcp({ ...V4, sport: 1, dport: 2, flags: 'S', payload: Buffer.alloc(40, 1) }); highOff[14 + 20 + 12] = 0xf0;
    assert.equal(run(highOff).status, DecodeStatus.OK, 'an offset of 60 inside the packet is legal (40 bytes of NOPs)');
    const pastEnd = tcp({ ...V4, sport: 1, dport: 2, flags: 'S' }); pastEnd[14 + 20 + 12] = 0xf0;
    expectMalformed(pastEnd, 'bad_tcp_offset');
  });
});

describe('decode: UDP', () => {
  test('payload bounded by the UDP length, not by trailing bytes', () => {
    const ip = ipUdp({ ...V4, sport: 6081, dport: 6081, payload: 'geneve!!' });
    const { view, status, snap } = run(Buffer.concat([ethernet(ip), Buffer.alloc(10)]));
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.payloadOffset, 42);
    assert.equal(view.payloadLen, 8);
    assert.equal(view.payloadCapLen, 8);
    assert.equal(view.tcpFlags, 0);
    assert.equal(snap.udp, 1);
    assert.equal(snap.ok, 1);
  });

  test('bad UDP lengths are malformed', () => {
    const mk = (len: number) => { const f = udp({ ...V4, sport: 1, dport: 2, payload: 'abc' }); f.writeUInt16BE(len, 14 + 20 + 4); return f; };
    expectMalformed(mk(7), 'bad_udp_length');
    expectMalformed(mk(0), 'bad_udp_length');
    expectMalformed(mk(12), 'bad_udp_length'); // past the IP total length (31 - 20 = 11)
    assert.equal(run(mk(9)).view.payloadLen, 1, 'a UDP length shorter than the IP payload wins');
  });
});

describe('decode: the reused view and the stats', () => {
  test('every field is reset between packets', () => {
    // Prepare: one view and one stats object, as in the pipeline.
    const view = new PacketView();
    const stats = new DecodeStats();
    const syn = withTags(tcp({ ...V4, sport: 1, dport: 2, flags: 'S', options: SYN_OPTS }), [{ tpid: 0x8100, vlan: 9 }]);
    const u = udp({ ...V6, sport: 3, dport: 4, payload: 'x' });
    // Act
    decode(view, LinkType.ETHERNET, syn, syn.length, syn.length, T0, stats);
    const status = decode(view, LinkType.ETHERNET, u, u.length, u.length, T0 + 1, stats);
    // Assess
    assert.equal(status, DecodeStatus.OK);
    const fresh = new PacketView();
    decode(fresh, LinkType.ETHERNET, u, u.length, u.length, T0 + 1, new DecodeStats());
    assert.deepEqual({ ...view }, { ...fresh });
    assert.equal(view.vlan, -1);
    assert.equal(view.optMss, -1);
    assert.equal(view.src4, 0);
  });

  test('snapshot is a plain, JSON-safe object with every packet accounted once', () => {
    const stats = new DecodeStats();
    const view = new PacketView();
    const frames = [
      tcp({ ...V4, sport: 1, dport: 2, flags: 'S' }), udp({ ...V6, sport: 1, dport: 2 }),
      Buffer.alloc(5), (() => { const f = Buffer.alloc(60); f.writeUInt16BE(0x0806, 12); return f; })(),
    ];
    let bytes = 0;
    for (const f of frames) { decode(view, LinkType.ETHERNET, f, f.length, f.length + 1, T0, stats); bytes += f.length + 1; }
    const snap = stats.snapshot();
    assert.deepEqual(JSON.parse(JSON.stringify(snap)), snap);
    assert.equal(snap.packets, 4);
    assert.equal(snap.bytes, bytes, 'bytes on the wire');
    assert.equal(snap.ok, 2);
    assert.equal(snap.tcp, 1);
    assert.equal(snap.udp, 1);
    assert.deepEqual(snap.malformed, { total: 1, by_reason: { truncated_link: 1 } });
    assert.deepEqual(snap.skipped, { total: 1, by_kind: { arp: 1 } });
    stats.countMalformed('bad_udp_length');
    assert.equal(stats.snapshot().malformed.total, 2);
  });
});
