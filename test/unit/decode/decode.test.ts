import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, decodeIpAt, DecodeStats, DecodeStatus } from '../../../agent/decode/decode.js';
import { PacketView, IpVersion, TcpFlag, dstIpString, srcIpString } from '../../../agent/decode/packet-view.js';
import { LinkType } from '../../../agent/capture/packet-source.js';
import { ethernet, ipTcp, ipUdp, tcp, TcpOpt, udp } from '../../helpers/packet-builder.js';
import { sll, sll2 } from './frames.js';

const T0 = 1_771_147_815_123_456;

function run(frame: Buffer, link: number = LinkType.ETHERNET, capLen = frame.length, wireLen = frame.length) {
  const view = new PacketView();
  const stats = new DecodeStats();
  const status = decode(view, link, frame, capLen, wireLen, T0, stats);
  return { view, stats, status, snap: stats.snapshot() };
}

const SYN = tcp({
  src: '198.18.0.1', dst: '198.18.0.2', sport: 43210, dport: 8080, flags: 'S', seq: 0xfffffff0, window: 26883,
  options: Buffer.concat([TcpOpt.mss(8961), TcpOpt.sackPermitted(), TcpOpt.timestamps(111, 0), TcpOpt.nop(), TcpOpt.wscale(7)]),
});

describe('decode: Ethernet, IPv4, TCP', () => {
  test('a SYN with options fills the view', () => {
    // Act
    const { view, status, snap } = run(SYN);
    // Assess
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.ipVersion, IpVersion.V4);
    assert.equal(srcIpString(view), '198.18.0.1');
    assert.equal(dstIpString(view), '198.18.0.2');
    assert.equal(view.srcPort, 43210);
    assert.equal(view.dstPort, 8080);
    assert.equal(view.tcpFlags, TcpFlag.SYN);
    assert.equal(view.seq, 0xfffffff0);
    assert.equal(view.window, 26883);
    assert.equal(view.optMss, 8961);
    assert.equal(view.optWscale, 7);
    assert.equal(view.optSackPermitted, true);
    assert.equal(view.optTsVal, 111);
    assert.equal(view.optTsEcr, 0);
    assert.equal(view.payloadLen, 0);
    assert.equal(view.tsMicros, T0);
    assert.equal(view.vlan, -1);
    assert.equal(snap.tcp, 1);
    assert.equal(snap.malformed.total, 0);
  });

  test('the payload length comes from the IP header, not from Ethernet padding', () => {
    // Prepare: a bare ACK (54 bytes) padded to the 60-byte Ethernet minimum.
    const ack = tcp({ src: '198.18.0.1', dst: '198.18.0.2', sport: 1, dport: 2, flags: 'A' });
    const padded = Buffer.concat([ack, Buffer.alloc(6, 0xee)]);
    // Act
    const { view, status } = run(padded);
    // Assess
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.payloadLen, 0);
    assert.equal(view.payloadCapLen, 0);
  });

  test('a frame cut by the snaplen keeps the wire payload length', () => {
    const frame = tcp({ src: '198.18.0.1', dst: '198.18.0.2', sport: 1, dport: 80, flags: 'PA', payload: 'x'.repeat(1000) });
    const { view, status } = run(frame, LinkType.ETHERNET, 100, frame.length);
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.payloadLen, 1000);
    assert.equal(view.payloadCapLen, 100 - 54);
    assert.equal(view.payloadOffset, 54);
  });

  test('an 802.1Q tag and a QinQ pair are unwrapped and the outer VLAN kept', () => {
    const tagged = tcp({ src: '198.18.0.1', dst: '198.18.0.2', sport: 1, dport: 2, flags: 'S', vlan: 42 });
    const one = run(tagged);
    assert.equal(one.status, DecodeStatus.OK);
    assert.equal(one.view.vlan, 42);
    assert.equal(one.snap.vlan_tagged, 1);
    // QinQ: insert an outer 0x88a8 tag with id 7.
    const qinq = Buffer.concat([tagged.subarray(0, 12), Buffer.from([0x88, 0xa8, 0x00, 0x07]), tagged.subarray(12)]);
    const two = run(qinq);
    assert.equal(two.status, DecodeStatus.OK);
    assert.equal(two.view.vlan, 7);
    assert.equal(two.view.dstPort, 2);
  });

  test('IPv4 options are skipped by the header length', () => {
    const ip = ipTcp({ src: '198.18.0.1', dst: '198.18.0.2', sport: 5, dport: 6, flags: 'A', payload: 'hi' });
    // Rebuild with IHL 6 (4 bytes of NOP options).
    const withOpts = Buffer.concat([ip.subarray(0, 20), Buffer.from([1, 1, 1, 0]), ip.subarray(20)]);
    withOpts[0] = 0x46;
    withOpts.writeUInt16BE(ip.length + 4, 2);
    const { view, status } = run(ethernet(withOpts));
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.ipHeaderLen, 24);
    assert.equal(view.payloadLen, 2);
    assert.equal(view.buf.toString('latin1', view.payloadOffset, view.payloadOffset + 2), 'hi');
  });

  test('fragments are counted: the first is decoded, the others skipped', () => {
    const ip = ipUdp({ src: '198.18.0.1', dst: '198.18.0.2', sport: 5, dport: 6, payload: 'abc' });
    const first = Buffer.from(ip); first.writeUInt16BE(0x2000, 6); // MF
    const later = Buffer.from(ip); later.writeUInt16BE(0x0010, 6); // offset 16*8
    const a = run(ethernet(first));
    const b = run(ethernet(later));
    assert.equal(a.status, DecodeStatus.OK);
    assert.equal(a.view.fragment, true);
    assert.equal(a.snap.fragments.first, 1);
    assert.equal(b.status, DecodeStatus.SKIPPED);
    assert.equal(b.snap.fragments.non_first, 1);
    assert.equal(b.snap.skipped.by_kind['non_first_fragment'], 1);
  });

  test('a TCP option running past the header is malformed', () => {
    const frame = tcp({ src: '198.18.0.1', dst: '198.18.0.2', sport: 1, dport: 2, flags: 'S', options: Buffer.from([2, 40, 0, 0]) });
    const { status, snap } = run(frame);
    assert.equal(status, DecodeStatus.MALFORMED);
    assert.equal(snap.malformed.by_reason['bad_tcp_option'], 1);
  });

  test('ARP and ICMP are skipped by kind, not malformed', () => {
    const arp = Buffer.alloc(42); arp.writeUInt16BE(0x0806, 12);
    assert.equal(run(arp).status, DecodeStatus.SKIPPED);
    const icmpIp = ipUdp({ src: '198.18.0.1', dst: '198.18.0.2', sport: 1, dport: 2 });
    icmpIp[9] = 1;
    const r = run(ethernet(icmpIp));
    assert.equal(r.status, DecodeStatus.SKIPPED);
    assert.equal(r.snap.skipped.by_kind['icmp'], 1);
  });
});

describe('decode: IPv6', () => {
  test('TCP over IPv6 with addresses formatted per RFC 5952', () => {
    const frame = tcp({ src: 'fd00:18::1', dst: 'fd00:18::2', sport: 40000, dport: 443, flags: 'PA', payload: 'hello' });
    const { view, status, snap } = run(frame);
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.ipVersion, IpVersion.V6);
    assert.equal(srcIpString(view), 'fd00:18::1');
    assert.equal(dstIpString(view), 'fd00:18::2');
    assert.equal(view.payloadLen, 5);
    assert.equal(snap.ipv6, 1);
  });

  test('hop-by-hop and destination-option headers are skipped', () => {
    const ip = ipUdp({ src: 'fd00:18::1', dst: 'fd00:18::2', sport: 53, dport: 5353, payload: 'q' });
    // Insert a hop-by-hop (8 bytes) then a destination-options header (8 bytes) before UDP.
    const hbh = Buffer.from([60, 0, 1, 4, 0, 0, 0, 0]);
    const dst = Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]);
    const out = Buffer.concat([ip.subarray(0, 40), hbh, dst, ip.subarray(40)]);
    out[6] = 0;
    out.writeUInt16BE(ip.readUInt16BE(4) + 16, 4);
    const { view, status } = run(ethernet(out));
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.proto, 17);
    assert.equal(view.dstPort, 5353);
    assert.equal(view.ipHeaderLen, 56);
  });

  test('an extension header longer than the packet is malformed', () => {
    const ip = ipUdp({ src: 'fd00:18::1', dst: 'fd00:18::2', sport: 1, dport: 2 });
    const hbh = Buffer.from([17, 200, 0, 0, 0, 0, 0, 0]);
    const out = Buffer.concat([ip.subarray(0, 40), hbh, ip.subarray(40)]);
    out[6] = 0;
    out.writeUInt16BE(ip.readUInt16BE(4) + 8, 4);
    assert.equal(run(ethernet(out)).status, DecodeStatus.MALFORMED);
  });
});

describe('decode: other link types', () => {
  const ip = ipTcp({ src: '198.18.0.9', dst: '198.18.0.10', sport: 1234, dport: 80, flags: 'S' });
  for (const [name, link, frame] of [
    ['raw IP', LinkType.RAW, ip],
    ['Linux cooked (any)', LinkType.LINUX_SLL, sll(ip)],
    ['Linux cooked v2', LinkType.LINUX_SLL2, sll2(ip)],
    ['BSD loopback', LinkType.NULL, Buffer.concat([Buffer.from([2, 0, 0, 0]), ip])],
  ] as const) {
    test(`${name} carries the same TCP packet`, () => {
      const { view, status } = run(frame, link);
      assert.equal(status, DecodeStatus.OK);
      assert.equal(srcIpString(view), '198.18.0.9');
      assert.equal(view.dstPort, 80);
    });
  }

  test('an unknown link type is counted as malformed', () => {
    const { status, snap } = run(ip, 999);
    assert.equal(status, DecodeStatus.MALFORMED);
    assert.equal(snap.malformed.by_reason['unknown_link_type'], 1);
  });

  test('decodeIpAt decodes an inner packet at an offset (GENEVE)', () => {
    const outer = Buffer.concat([Buffer.alloc(30, 0xaa), ip]);
    const view = new PacketView();
    view.reset(outer, outer.length, outer.length, T0);
    const status = decodeIpAt(view, outer, 30, outer.length, new DecodeStats());
    assert.equal(status, DecodeStatus.OK);
    assert.equal(view.dstPort, 80);
  });
});

describe('decode: hostile input never throws', () => {
  const frames: [string, number, Buffer][] = [
    ['Ethernet IPv4 TCP with options', LinkType.ETHERNET, SYN],
    ['Ethernet VLAN IPv4 UDP', LinkType.ETHERNET, udp({ src: '198.18.0.1', dst: '198.18.0.2', sport: 1, dport: 6081, payload: 'abcdefgh', vlan: 3 })],
    ['Ethernet IPv6 TCP', LinkType.ETHERNET, tcp({ src: 'fd00::1', dst: 'fd00::2', sport: 1, dport: 2, flags: 'PA', payload: 'abc' })],
    ['SLL IPv4 TCP', LinkType.LINUX_SLL, sll(ipTcp({ src: '198.18.0.1', dst: '198.18.0.2', sport: 1, dport: 2, flags: 'S' }))],
    ['SLL2 IPv6 UDP', LinkType.LINUX_SLL2, sll2(ipUdp({ src: 'fd00::1', dst: 'fd00::2', sport: 1, dport: 2, payload: 'x' }))],
  ];

  for (const [name, link, frame] of frames) {
    test(`${name}: every truncation is MALFORMED or OK, never a throw`, () => {
      const full = run(frame, link);
      assert.equal(full.status, DecodeStatus.OK);
      const headersEnd = full.view.payloadOffset;
      for (let cut = 0; cut < frame.length; cut++) {
        // Truncated capture (snaplen) of the same wire packet.
        const r = run(frame.subarray(0, cut), link, cut, frame.length);
        if (cut < headersEnd) assert.equal(r.status, DecodeStatus.MALFORMED, `cut at ${cut}`);
        else assert.equal(r.status, DecodeStatus.OK, `cut at ${cut}`);
        assert.equal(r.snap.malformed.total, r.status === DecodeStatus.MALFORMED ? 1 : 0);
      }
    });
  }

  for (const [name, link, frame] of frames) {
    test(`${name}: decoded in place at an offset inside a larger buffer, the same view shifted, at every cut`, () => {
      // Prepare: the frame after 37 bytes of another packet, with more packets' bytes after it
      // (a batch engine hands over one buffer and each packet's offset).
      const at = 37;
      const filler = (n: number): Buffer => Buffer.alloc(n, 0x45);
      const fields = (v: PacketView, shift: number) => ({
        ipVersion: v.ipVersion, ipOffset: v.ipOffset - shift, ipTotalLen: v.ipTotalLen, proto: v.proto, vlan: v.vlan,
        src4: v.src4, dst4: v.dst4, src6Offset: v.src6Offset < 0 ? -1 : v.src6Offset - shift, srcPort: v.srcPort, dstPort: v.dstPort,
        l4Offset: v.l4Offset - shift, tcpFlags: v.tcpFlags, seq: v.seq, optMss: v.optMss, payloadOffset: v.payloadOffset - shift,
        payloadCapLen: v.payloadCapLen, payloadLen: v.payloadLen, capLen: v.capLen,
      });
      for (let cut = 0; cut <= frame.length; cut++) {
        const alone = run(frame.subarray(0, cut), link, cut, frame.length);
        const batch = Buffer.concat([filler(at), frame.subarray(0, cut), filler(200)]);
        const view = new PacketView();
        const stats = new DecodeStats();
        // Act
        const status = decode(view, link, batch, cut, frame.length, T0, stats, at);
        // Assess
        assert.equal(status, alone.status, `cut at ${cut}`);
        assert.equal(view.frameOffset, at);
        if (status === DecodeStatus.OK) assert.deepEqual(fields(view, at), fields(alone.view, 0), `cut at ${cut}`);
        assert.deepEqual(stats.snapshot(), alone.snap, `cut at ${cut}`);
      }
    });
  }

  test('empty input is malformed for every link type', () => {
    for (const link of [LinkType.ETHERNET, LinkType.RAW, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL]) {
      assert.equal(run(Buffer.alloc(0), link).status, DecodeStatus.MALFORMED);
    }
  });

  test('100k random and mutated frames return a status and never throw', () => {
    // Prepare: a deterministic generator so a failure reproduces.
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
    const view = new PacketView();
    const stats = new DecodeStats();
    const counts = [0, 0, 0];
    const links = [LinkType.ETHERNET, LinkType.RAW, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL];
    // Act
    for (let i = 0; i < 100_000; i++) {
      let frame: Buffer;
      let link: number;
      if (i % 2 === 0) {
        frame = Buffer.alloc(rnd() % 120);
        for (let j = 0; j < frame.length; j++) frame[j] = rnd() & 255;
        link = links[rnd() % links.length] as number;
      } else {
        const base = frames[rnd() % frames.length] as [string, number, Buffer];
        frame = Buffer.from(base[2]);
        link = base[1];
        for (let k = 0; k < 1 + (rnd() % 4); k++) frame[rnd() % frame.length] = rnd() & 255;
      }
      const s = decode(view, link, frame, frame.length, frame.length, T0, stats);
      counts[s] = (counts[s] ?? 0) + 1;
    }
    // Assess: every packet accounted for, and each outcome occurs.
    assert.equal((counts[0] ?? 0) + (counts[1] ?? 0) + (counts[2] ?? 0), 100_000);
    assert.equal(stats.packets, 100_000);
    assert.ok((counts[0] ?? 0) > 0 && (counts[2] ?? 0) > 0);
    assert.equal(stats.malformedTotal, counts[2]);
  });
});
