import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdleClock } from '../../../agent/flows/idle-clock.js';

function rig(): { clock: IdleClock; mono: { ms: number }; wall: { us: number } } {
  const mono = { ms: 5_000 };
  const wall = { us: 1_800_000_000_000_000 };
  return { clock: new IdleClock({ monoMs: () => mono.ms, wallMicros: () => wall.us }), mono, wall };
}

test('while packets arrive, timers run on the newest packet time', () => {
  // Prepare
  const { clock, mono } = rig();
  // Act
  const a = clock.now(1_000_000);
  mono.ms += 1000;
  const b = clock.now(2_000_000);
  // Assess
  assert.equal(a, 1_000_000);
  assert.equal(b, 2_000_000);
});

test('while idle, packet time advances by the monotonic time elapsed, whatever the wall clock does', () => {
  // Prepare
  const { clock, mono, wall } = rig();
  clock.now(1_000_000);
  // Act: 30 s pass; the wall clock is stepped 3 days forward, then 2 days back.
  mono.ms += 10_000;
  wall.us += 3 * 86_400e6;
  const a = clock.now(1_000_000);
  mono.ms += 20_000;
  wall.us -= 5 * 86_400e6;
  const b = clock.now(1_000_000);
  // Assess
  assert.equal(a, 1_000_000 + 10_000_000);
  assert.equal(b, 1_000_000 + 30_000_000);
});

test('before the first packet the wall clock is used (there is nothing to expire yet)', () => {
  const { clock, wall } = rig();
  assert.equal(clock.now(0), wall.us);
});
