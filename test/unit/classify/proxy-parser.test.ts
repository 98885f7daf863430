import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectProxyHeader, parseProxyHeader, Pp2Type } from '../../../agent/classify/proxy-protocol/proxy-parser.js';
import { awsVpceTlv, proxyV2, randomBytes, tlv } from './bytes.js';

test('a v1 TCP4 header yields addresses and ports and its exact length', () => {
  // Prepare
  const line = 'PROXY TCP4 203.0.113.45 10.0.2.100 43210 80\r\n';
  const buf = Buffer.from(line + 'GET / HTTP/1.1\r\n', 'latin1');
  // Act
  const r = parseProxyHeader(buf, 0, buf.length);
  // Assess
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.length, line.length);
  assert.equal(r.value.version, 1);
  assert.equal(r.value.srcIp, '203.0.113.45');
  assert.equal(r.value.dstIp, '10.0.2.100');
  assert.equal(r.value.srcPort, 43210);
  assert.equal(r.value.dstPort, 80);
  assert.equal(r.value.local, false);
});

test('v1 TCP6 and UNKNOWN are accepted', () => {
  const six = Buffer.from('PROXY TCP6 2001:DB8::1 fd00:18:50::2 1234 443\r\n', 'latin1');
  const r6 = parseProxyHeader(six, 0, six.length);
  assert.equal(r6.status === 'ok' && r6.value.srcIp, '2001:db8::1');
  const unk = Buffer.from('PROXY UNKNOWN whatever\r\n', 'latin1');
  const ru = parseProxyHeader(unk, 0, unk.length);
  assert.equal(ru.status === 'ok' && ru.value.srcIp, undefined);
});

test('every truncation of a v1 header is incomplete', () => {
  const buf = Buffer.from('PROXY TCP4 203.0.113.45 10.0.2.100 43210 80\r\n', 'latin1');
  for (let n = 0; n < buf.length; n++) assert.equal(parseProxyHeader(buf, 0, n).status, 'incomplete', `n=${n}`);
});

test('malformed v1 headers are reported with a reason', () => {
  const cases: Array<[string, string]> = [
    ['PROXY TCP4 300.0.0.1 10.0.0.1 1 2\r\n', 'v1_bad_address'],
    ['PROXY TCP4 1.2.3.4 10.0.0.1 1 99999\r\n', 'v1_bad_port'],
    ['PROXY TCP4 1.2.3.4 10.0.0.1 1\r\n', 'v1_bad_field_count'],
    ['PROXY UDP4 1.2.3.4 10.0.0.1 1 2\r\n', 'v1_bad_family'],
    ['PROXY TCP4 1.2.3.4 10.0.0.1 1 \x012\r\n', 'v1_bad_character'],
    ['PROXY ' + 'A'.repeat(120) + '\r\n', 'v1_too_long'],
  ];
  for (const [text, reason] of cases) {
    const b = Buffer.from(text, 'latin1');
    const r = parseProxyHeader(b, 0, b.length);
    assert.equal(r.status === 'malformed' && r.reason, reason, JSON.stringify(text));
  }
});

test('a v2 PROXY header over IPv4 with the AWS VPC endpoint TLV', () => {
  const hdr = proxyV2({ tlvs: [awsVpceTlv('vpce-08d2bf15fac5001c9'), tlv(Pp2Type.AUTHORITY, Buffer.from('shop.example.com'))] });
  const buf = Buffer.concat([hdr, Buffer.from('GET / HTTP/1.1\r\n')]);
  const r = parseProxyHeader(buf, 0, buf.length);
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.length, hdr.length);
  assert.equal(r.value.version, 2);
  assert.equal(r.value.family, 'inet');
  assert.equal(r.value.srcIp, '203.0.113.45');
  assert.equal(r.value.dstIp, '10.0.2.100');
  assert.equal(r.value.srcPort, 43210);
  assert.equal(r.value.vpceId, 'vpce-08d2bf15fac5001c9');
  assert.equal(r.value.authority, 'shop.example.com');
  assert.deepEqual(r.value.tlvs.map((t) => t.type), [0xea, 0x02]);
});

test('a v2 header over IPv6', () => {
  const hdr = proxyV2({ family: 'inet6' });
  const r = parseProxyHeader(hdr, 0, hdr.length);
  assert.equal(r.status === 'ok' && r.value.srcIp, '2001:db8::1');
  assert.equal(r.status === 'ok' && r.value.dstIp, 'fd00:18:50::2');
});

test('a v2 LOCAL header (health check) carries no client identity', () => {
  const hdr = proxyV2({ local: true });
  const r = parseProxyHeader(hdr, 0, hdr.length);
  assert.equal(r.status, 'ok');
  assert.equal(r.status === 'ok' && r.value.local, true);
  assert.equal(r.status === 'ok' && r.value.srcIp, undefined);
  const unspec = proxyV2({ local: true, family: 'unspec' });
  assert.equal(parseProxyHeader(unspec, 0, unspec.length).status, 'ok');
});

test('every truncation of a v2 header with TLVs is incomplete', () => {
  const hdr = proxyV2({ tlvs: [awsVpceTlv('vpce-1234')] });
  for (let n = 0; n < hdr.length; n++) assert.equal(parseProxyHeader(hdr, 0, n).status, 'incomplete', `n=${n}`);
});

test('a truncated TLV inside a complete header is malformed', () => {
  const good = proxyV2({ tlvs: [awsVpceTlv('vpce-1234')] });
  // Claim one byte fewer for the whole block: the TLV now runs past the end.
  const bad = Buffer.from(good.subarray(0, good.length - 1));
  bad.writeUInt16BE(good.readUInt16BE(14) - 1, 14);
  const r = parseProxyHeader(bad, 0, bad.length);
  assert.equal(r.status === 'malformed' && r.reason, 'v2_truncated_tlv');
  // Two stray bytes after the address block: not even a TLV header.
  const stray = Buffer.concat([good.subarray(0, 16 + 12), Buffer.from([0xea, 0x00])]);
  stray.writeUInt16BE(14, 14);
  const r2 = parseProxyHeader(stray, 0, stray.length);
  assert.equal(r2.status === 'malformed' && r2.reason, 'v2_truncated_tlv');
});

test('bad v2 version, command, family and short address blocks are malformed', () => {
  const base = proxyV2();
  const v = Buffer.from(base); v[12] = 0x11;
  assert.equal(parseProxyHeader(v, 0, v.length).status, 'malformed');
  const c = Buffer.from(base); c[12] = 0x2f;
  assert.equal(parseProxyHeader(c, 0, c.length).status, 'malformed');
  const f = Buffer.from(base); f[13] = 0x51;
  assert.equal(parseProxyHeader(f, 0, f.length).status, 'malformed');
  const s = Buffer.from(base.subarray(0, 20)); s.writeUInt16BE(4, 14);
  assert.equal(parseProxyHeader(s, 0, s.length).status, 'malformed');
});

test('detection tells v1, v2, a possible prefix and plain data apart', () => {
  assert.equal(detectProxyHeader(Buffer.from('PROXY TCP4'), 0, 10), 'v1');
  assert.equal(detectProxyHeader(proxyV2(), 0, 28), 'v2');
  assert.equal(detectProxyHeader(Buffer.from('PRO'), 0, 3), 'maybe');
  assert.equal(detectProxyHeader(Buffer.from('GET / '), 0, 6), 'no');
});

test('random garbage never throws and is never ok', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const b = randomBytes(1 + (seed % 120), seed);
    assert.notEqual(parseProxyHeader(b, 0, b.length).status, 'ok');
    const v2 = Buffer.concat([proxyV2().subarray(0, 12), b]);
    parseProxyHeader(v2, 0, v2.length);
  }
});
