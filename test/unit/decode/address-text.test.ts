import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIp4, formatIp6, ip4Text, ip6Text } from '../../../agent/decode/packet-view.js';

test('cached IPv4 texts are always the address\'s own, across slot collisions and 0.0.0.0', () => {
  // Prepare: 70,000 addresses over a 16,384-slot cache (every slot is shared), asked for twice in a shuffled order.
  const addrs: number[] = [0, 0xffffffff, 0x7f000001];
  for (let i = 0; i < 70_000; i++) addrs.push((Math.imul(i + 1, 0x9e3779b1) ^ (i << 7)) >>> 0);
  const order = [...addrs, ...addrs.slice().reverse(), ...addrs];
  // Act
  const wrong = order.filter((a) => ip4Text(a) !== formatIp4(a));
  // Assess
  assert.deepEqual(wrong, []);
  assert.equal(ip4Text(0), '0.0.0.0');
  assert.equal(ip4Text(0xc6123201), '198.18.50.1');
  assert.equal(ip4Text(0xc6123201), ip4Text(0xc6123201));
});

/** An address of 8 groups, each zero with probability 1/2 (long and tied zero runs), from a seed. */
function ip6Bytes(seed: number): Buffer {
  const b = Buffer.alloc(16);
  let x = seed;
  for (let i = 0; i < 8; i++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) | 0;
    if ((x & 1) === 0) b.writeUInt16BE((x >>> 8) & 0xffff, 2 * i);
  }
  return b;
}

/** The WHATWG URL serializer's IPv6 text: RFC 5952's rules (lower case, the first longest zero run). */
function urlText(b: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16)).join(':');
  return new URL(`http://[${groups}]/`).hostname.slice(1, -1);
}

test('IPv6 texts follow RFC 5952: lower case, no leading zeros, the first longest run of zero groups as "::"', () => {
  // Prepare
  const cases = Array.from({ length: 5000 }, (_, i) => ip6Bytes(i + 1));
  cases.push(Buffer.alloc(16), Buffer.from('20010db8000000000000000000000001', 'hex'), Buffer.from('20010db8000000010000000000000000', 'hex'),
    Buffer.from('000000000000000000000000000000ff', 'hex'), Buffer.from('fe800000000000000000000000000000', 'hex'),
    Buffer.from('20010db80000000100000000000a000b', 'hex'), Buffer.from('20010db8000a0000000b000000000000', 'hex'));
  // Act
  const wrong = cases.filter((b) => formatIp6(b, 0) !== urlText(b)).map((b) => [formatIp6(b, 0), urlText(b)]);
  // Assess
  assert.deepEqual(wrong, []);
  assert.equal(formatIp6(Buffer.from('00000000000000000000ffffc6123201', 'hex'), 0), '::ffff:198.18.50.1', 'IPv4-mapped, dotted (RFC 5952 5)');
  assert.equal(formatIp6(Buffer.alloc(16), 0), '::');
  assert.equal(formatIp6(Buffer.concat([Buffer.alloc(3), Buffer.from('20010db8000000000000000000000001', 'hex')]), 3), '2001:db8::1', 'at an offset');
});

test('cached IPv6 texts are always the address\'s own, across slot collisions', () => {
  // Prepare: 20,000 addresses over a 4,096-slot cache, asked for three times in different orders.
  const addrs = Array.from({ length: 20_000 }, (_, i) => ip6Bytes(i * 7 + 3));
  const order = [...addrs, ...addrs.slice().reverse(), ...addrs];
  // Act
  const wrong = order.filter((b) => ip6Text(b, 0) !== formatIp6(b, 0));
  // Assess
  assert.deepEqual(wrong, []);
});

test('IPv4 texts are the dotted quad of each byte, without leading zeros', () => {
  for (const [a, text] of [[0, '0.0.0.0'], [0xffffffff, '255.255.255.255'], [0x0a000105, '10.0.1.5'], [0xc0a86409, '192.168.100.9'], [0x64401e0a, '100.64.30.10']] as const) {
    assert.equal(formatIp4(a), text);
  }
});
