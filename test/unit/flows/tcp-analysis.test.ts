import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TcpConversation } from '../../helpers/packet-builder.js';
import { seqLt } from '../../../agent/flows/tcp-analysis.js';
import { Harness } from './flow-harness.js';

const conv = (isn: { c?: number; s?: number } = {}): TcpConversation => new TcpConversation('10.0.1.50', '10.0.2.100', 43210, 8080, isn);
const block = (n: number, ch = 'x'): string => ch.repeat(n);

/** Only the per-segment figures, for compact comparisons. */
function figures(h: Harness): Record<string, number> {
  const s = h.table.snapshot();
  return {
    retx: s.retransmissions, fast: s.fast_retransmissions, spurious: s.spurious_retransmissions,
    dupack: s.duplicate_acks, ooo: s.out_of_order, zw: s.zero_windows, zwp: s.zero_window_probes, ka: s.keep_alives,
  };
}
const NONE = { retx: 0, fast: 0, spurious: 0, dupack: 0, ooo: 0, zw: 0, zwp: 0, ka: 0 };

describe('Per-segment TCP analysis with tshark definitions', () => {
  it('a normal exchange has no findings', () => {
    const h = new Harness();
    const c = conv();
    h.feed([...c.handshake(), c.seg(true, 'PA', block(100)), c.seg(false, 'A'), c.seg(false, 'PA', block(300)), c.seg(true, 'A')]);
    assert.deepEqual(figures(h), NONE);
  });

  it('the same unacknowledged segment sent again later is a retransmission (history T)', () => {
    const h = new Harness();
    const c = conv();
    h.feed(c.handshake());
    const d1 = c.seg(true, 'PA', block(100));
    h.feed(d1, 300).feed(d1);
    assert.deepEqual(figures(h), { ...NONE, retx: 1 });
    assert.match(h.finish().closed[0]?.history ?? '', /T/);
  });

  it('a retransmission within 20 ms of two duplicate ACKs is a fast retransmission; the dup ACKs are counted', () => {
    const h = new Harness();
    const c = conv();
    h.feed(c.handshake());
    const d1 = c.seg(true, 'PA', block(100)); // 1001..1101
    const d2 = c.seg(true, 'PA', block(100)); // 1101..1201, lost before the capture point
    const d3 = c.seg(true, 'PA', block(100)); // 1201..1301
    void d2;
    const ack1101 = (): Buffer => c.seg(false, 'A', '', { ack: 1101 });
    h.feed([d1, d3, ack1101(), ack1101(), ack1101(), d2]);
    assert.deepEqual(figures(h), { ...NONE, retx: 1, fast: 1, dupack: 2 });
  });

  it('resending data the receiver already acknowledged is a spurious retransmission', () => {
    const h = new Harness();
    const c = conv();
    h.feed(c.handshake());
    const d1 = c.seg(true, 'PA', block(100));
    h.feed([d1, c.seg(false, 'A')], 200).feed(d1);
    assert.deepEqual(figures(h), { ...NONE, retx: 1, spurious: 1 });
  });

  it('a segment that fills a hole within 3 ms is out-of-order, not a retransmission', () => {
    const h = new Harness();
    const c = conv();
    h.feed(c.handshake());
    const d1 = c.seg(true, 'PA', block(100));
    const d2 = c.seg(true, 'PA', block(100));
    const d3 = c.seg(true, 'PA', block(100));
    h.feed([d1, d3, d2]);
    assert.deepEqual(figures(h), { ...NONE, ooo: 1 });
    assert.equal(h.finish().closed[0]?.bytesOrig, 300);
  });

  it('zero-window advertisements and zero-window probes are counted, the probe is not a retransmission', () => {
    const h = new Harness();
    const c = conv();
    h.feed([...c.handshake(), c.seg(true, 'PA', block(100))]);
    h.feed(c.seg(false, 'A', '', { window: 0 }), 200);
    const probe = c.seg(true, 'PA', 'y'); // one byte into the closed window
    h.feed(probe, 1).feed(c.seg(false, 'A', '', { window: 0, ack: c.cseq - 1 }), 400);
    h.feed(probe, 1).feed(c.seg(false, 'A', '', { window: 0, ack: c.cseq - 1 }), 400);
    h.feed(c.seg(false, 'A', '', { window: 65535, ack: c.cseq - 1 }));
    c.cseq -= 1; // the probed byte is sent for real once the window opens
    h.feed(c.seg(true, 'PA', block(50)));
    assert.deepEqual(figures(h), { ...NONE, zw: 3, zwp: 2 });
    assert.match(h.finish().closed[0]?.history ?? '', /w/);
  });

  it('keep-alives and their ACKs are neither retransmissions nor duplicate ACKs', () => {
    const h = new Harness();
    const c = conv();
    h.feed([...c.handshake(), c.seg(true, 'PA', block(10)), c.seg(false, 'A')], 100);
    for (let i = 0; i < 3; i++) {
      h.feed(c.seg(true, 'A', '', { seq: c.cseq - 1 }), 5).feed(c.seg(false, 'A'), 10_000);
    }
    assert.deepEqual(figures(h), { ...NONE, ka: 3 });
  });

  it('sequence numbers wrapping at 2^32 do not confuse the analysis', () => {
    // Prepare: the client's ISN is 256 bytes below 2^32.
    const h = new Harness();
    const c = conv({ c: 0xffffff00 });
    h.feed(c.handshake());
    const d1 = c.seg(true, 'PA', block(200)); // crosses nothing
    const d2 = c.seg(true, 'PA', block(200)); // crosses 2^32
    const d3 = c.seg(true, 'PA', block(200)); // after the wrap
    // Act
    h.feed([d1, c.seg(false, 'A', '', { ack: 0xffffff01 + 200 }), d2, d3], 50).feed(d2);
    // Assess
    assert.deepEqual(figures(h), { ...NONE, retx: 1 });
    assert.equal(h.finish().closed[0]?.bytesOrig, 600);
    assert.ok(seqLt(0xfffffff0, 5), 'serial comparison across the wrap');
  });
});
