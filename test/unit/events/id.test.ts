import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UlidFactory } from '../../../agent/events/id.js';
import { formatMicros } from '../../../agent/events/schema.js';

test('ids are 26 Crockford base32 characters and sort in emission order within a millisecond', () => {
  // Prepare
  const ids = new UlidFactory();
  // Act
  const list = Array.from({ length: 1000 }, () => ids.next(1_700_000_000_000));
  // Assess
  for (const id of list) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.deepEqual([...list].sort(), list);
  assert.equal(new Set(list).size, list.length);
});

test('ids stay ordered when the clock goes backwards', () => {
  const ids = new UlidFactory();
  const a = ids.next(2_000_000);
  const b = ids.next(1_000_000);
  assert.ok(b > a);
});

test('event time keeps the microseconds of the packet timestamp', () => {
  assert.equal(formatMicros(1_771_147_815_123_456), '2026-02-15T09:30:15.123456Z');
  assert.equal(formatMicros(1_771_147_815_000_001), '2026-02-15T09:30:15.000001Z');
});

test('ids drawn from the random pool across many milliseconds stay unique, well formed and ordered', () => {
  // Prepare: 2,000 distinct milliseconds use up the 4 KB pool several times.
  const ids = new UlidFactory();
  // Act
  const list = Array.from({ length: 2000 }, (_, i) => ids.next(1_700_000_000_000 + i));
  // Assess
  for (const id of list) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(new Set(list.map((id) => id.slice(10))).size, list.length, 'random parts differ');
  assert.deepEqual([...list].sort(), list);
});

test('the random pool is filled from the kernel without loading node:crypto, and is not all zeros', async () => {
  // Prepare
  const { fillRandom } = await import('../../../agent/events/id.js');
  const a = new Uint8Array(4096);
  const b = new Uint8Array(4096);
  // Act
  fillRandom(a);
  fillRandom(b);
  // Assess: 4 KB of random bytes: both non-zero somewhere, and different from each other.
  assert.ok(a.some((x) => x !== 0) && b.some((x) => x !== 0));
  assert.notDeepEqual(a, b);
  // Every byte value shows up in 8 KB of random bytes (the chance one is missing is ~256·e^-32).
  assert.equal(new Set([...a, ...b]).size, 256);
});
