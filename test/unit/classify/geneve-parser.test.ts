import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGeneve } from '../../../agent/classify/geneve/geneve-parser.js';
import { ipTcp } from '../../helpers/packet-builder.js';
import { geneve, gwlbOptions, randomBytes } from './bytes.js';

const INNER = ipTcp({ src: '198.18.50.10', dst: '198.18.51.20', sport: 40000, dport: 443, flags: 'S' });

test('a GWLB GENEVE header yields the AWS options and the inner packet offset', () => {
  // Prepare
  const pkt = geneve(gwlbOptions(), INNER);
  // Act
  const r = parseGeneve(pkt, 0, pkt.length);
  // Assess
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.value.vni, 0x1234);
  assert.equal(r.value.protocol, 0x0800);
  assert.equal(r.value.awsEndpointId, '0123456789abcdef');
  assert.equal(r.value.awsAttachmentId, 'fedcba9876543210');
  assert.equal(r.value.awsFlowCookie, 'deadbeef');
  assert.equal(r.value.options.length, 3);
  assert.equal(r.value.innerOffset, 8 + 32);
  assert.equal(r.value.innerLength, INNER.length);
  assert.deepEqual(pkt.subarray(r.value.innerOffset), INNER);
});

test('the inner offset is absolute when the header starts inside a larger buffer', () => {
  const pkt = Buffer.concat([Buffer.alloc(42), geneve(gwlbOptions(), INNER)]);
  const r = parseGeneve(pkt, 42, pkt.length - 42);
  assert.equal(r.status === 'ok' && r.value.innerOffset, 42 + 40);
});

test('a header without options, and unknown option classes, are accepted', () => {
  const a = geneve([], INNER);
  assert.equal(parseGeneve(a, 0, a.length).status, 'ok');
  const b = geneve([{ cls: 0x0101, type: 0x80 | 5, data: Buffer.alloc(8) }], INNER);
  const r = parseGeneve(b, 0, b.length);
  assert.equal(r.status === 'ok' && r.value.options[0]?.critical, true);
  assert.equal(r.status === 'ok' && r.value.awsEndpointId, undefined);
});

test('truncated options and headers are malformed, at every cut inside the options', () => {
  const pkt = geneve(gwlbOptions(), Buffer.alloc(0));
  for (let n = 1; n < pkt.length; n++) {
    const r = parseGeneve(pkt, 0, n);
    assert.equal(r.status, 'malformed', `n=${n}`);
  }
  assert.equal(parseGeneve(pkt, 0, 0).status, 'incomplete');
  // An option whose own length runs past the option block.
  const bad = geneve(gwlbOptions(), INNER);
  bad[8 + 3] = 31;
  const r = parseGeneve(bad, 0, bad.length);
  assert.equal(r.status === 'malformed' && r.reason, 'truncated_option');
});

test('a non-zero version is malformed', () => {
  const pkt = geneve([], INNER);
  pkt[0] = 0x40;
  assert.equal(parseGeneve(pkt, 0, pkt.length).status, 'malformed');
});

test('random garbage never throws', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const b = randomBytes(seed % 100, seed);
    const r = parseGeneve(b, 0, b.length);
    if (r.status === 'ok') assert.ok(r.value.innerOffset <= b.length);
  }
});

test('the inner packet of a GWLB GENEVE datagram decodes as its own TCP flow', async () => {
  // Prepare: a real outer Ethernet/IPv4/UDP frame carrying GENEVE around a TCP SYN.
  const { udp } = await import('../../helpers/packet-builder.js');
  const { decode, DecodeStats, DecodeStatus } = await import('../../../agent/decode/decode.js');
  const { PacketView } = await import('../../../agent/decode/packet-view.js');
  const { decodeGeneveInner } = await import('../../../agent/classify/geneve/geneve-inner.js');
  const frame = udp({ src: '198.18.52.1', dst: '198.18.52.2', sport: 50000, dport: 6081, payload: geneve(gwlbOptions(), INNER) });
  const outer = new PacketView();
  const inner = new PacketView();
  const stats = new DecodeStats();
  assert.equal(decode(outer, 1, frame, frame.length, frame.length, 1, stats), DecodeStatus.OK);
  const g = parseGeneve(outer.buf, outer.payloadOffset, outer.payloadCapLen);
  assert.equal(g.status, 'ok');
  if (g.status !== 'ok') return;
  // Act
  const st = decodeGeneveInner(inner, outer, g.value, stats);
  // Assess
  assert.equal(st, DecodeStatus.OK);
  assert.equal(inner.proto, 6);
  assert.equal(inner.srcPort, 40000);
  assert.equal(inner.dstPort, 443);
  assert.equal(inner.tcpFlags & 0x02, 0x02);
});
