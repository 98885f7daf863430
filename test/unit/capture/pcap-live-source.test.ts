import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_WAKEUP_INTERVAL_MS, MAX_WAKEUP_INTERVAL_MS, nextReadDelay, PcapLiveSource, wakeupInterval,
} from '../../../agent/capture/pcap-live-source.js';

const RING = 64 * 1024 * 1024;

describe('pcap engine: when the ring is read', () => {
  it('reads every wake-up interval while the ring fills slowly (20k pkt/s of ~700-byte packets: 14 MB/s)', () => {
    assert.equal(nextReadDelay(14_000, 200, RING), 200);
    assert.equal(nextReadDelay(0, 200, RING), 200, 'an idle interface');
  });

  it('reads sooner when at the last rate the ring would be a quarter full by the next read', () => {
    // 300 MB/s would put 60 MB (nearly the whole 64 MiB ring) in 200 ms.
    const delay = nextReadDelay(300_000, 200, RING);
    assert.ok(delay < 200, `delay ${delay}`);
    // At that rate the ring is an eighth full when the read comes.
    assert.equal(delay, Math.floor(RING / 8 / 300_000));
    assert.ok(300_000 * delay <= RING / 8);
    // Just at the quarter the interval is already shortened; the delay never drops below 1 ms.
    assert.ok(nextReadDelay(RING / 4 / 200, 200, RING) < 200);
    assert.equal(nextReadDelay(1e12, 200, RING), 1);
  });

  it('takes 0 to 500 ms as the wake-up interval and names the range otherwise', () => {
    assert.equal(wakeupInterval(undefined), DEFAULT_WAKEUP_INTERVAL_MS);
    assert.equal(wakeupInterval(0), 0);
    assert.equal(wakeupInterval(MAX_WAKEUP_INTERVAL_MS), MAX_WAKEUP_INTERVAL_MS);
    for (const bad of [-1, 501, 1.5, Number.NaN]) {
      assert.throws(() => new PcapLiveSource({ interfaceName: 'lo', filter: '', wakeupIntervalMs: bad }), /wake-up interval must be 0 to 500 ms/);
    }
  });
});
