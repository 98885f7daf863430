import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIp4, ip4Text } from '../../../agent/decode/packet-view.js';

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
