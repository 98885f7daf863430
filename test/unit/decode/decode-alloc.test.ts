/**
 * Issue 6: the decoder allocates nothing per packet. Measured by garbage
 * collections and heap growth over a long synchronous decode loop, next to a
 * control loop that allocates one Buffer view per packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measureAllocatingControl, measureDecode } from '../../bench/decode-alloc.js';

const N = 300_000;

test('decoding 300k packets of a mixed capture triggers no garbage collection and no heap growth', async () => {
  // Act
  const decodeOnly = await measureDecode(N);
  const control = await measureAllocatingControl(N);
  // Assess: the method sees allocation (the control collects garbage several times)...
  assert.ok(control.gcCount >= 2, `control loop: ${JSON.stringify(control)}`);
  // ...and the decoder makes none: at most one stray collection from the timer after the loop, and
  // under 1 MiB of growth (one 80-byte object per packet would be 24 MB).
  assert.ok(decodeOnly.gcCount <= 1, `decode loop: ${JSON.stringify(decodeOnly)}`);
  assert.ok(decodeOnly.heapGrowthBytes < 1024 * 1024, `decode loop: ${JSON.stringify(decodeOnly)}`);
  // The mix exercised all three outcomes.
  const [ok, skipped, malformed] = decodeOnly.statuses;
  assert.ok(ok > 0 && skipped > 0 && malformed > 0, `statuses ${decodeOnly.statuses.join('/')}`);
  assert.equal(ok + skipped + malformed, N);
});
