/**
 * Hostile TCP through the flow table (issue 7): sequence numbers that wrap,
 * overlapping and out-of-window segments, and a table held at its bound by churn.
 * Nothing throws, figures stay right, and every bound holds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TcpConversation } from '../../helpers/packet-builder.js';
import { Harness } from './flow-harness.js';

const LB = '10.0.1.50';
const TARGET = '10.0.2.100';

describe('Sequence numbers that wrap and segments that overlap or fall outside the window', () => {
  it('a connection whose sequence numbers wrap past 2^32 counts its bytes exactly, with no retransmission', () => {
    // Prepare: both ISNs a few bytes below 2^32
    const h = new Harness();
    const c = new TcpConversation(LB, TARGET, 43210, 8080, { c: 0xffffff00, s: 0xfffffff0 });
    // Act: 3 x 200 bytes from the client (crossing 2^32), 2 x 100 back, then a clean close
    h.feed([...c.handshake(), c.seg(true, 'PA', 'a'.repeat(200)), c.seg(true, 'PA', 'b'.repeat(200)), c.seg(true, 'PA', 'c'.repeat(200)),
      c.seg(false, 'PA', 'd'.repeat(100)), c.seg(false, 'PA', 'e'.repeat(100)), c.seg(true, 'FA'), c.seg(false, 'FA'), c.seg(true, 'A')]);
    h.finish();
    // Assess
    const [closed] = h.closed;
    assert.equal(closed?.state, 'SF');
    assert.equal(closed?.bytesOrig, 600);
    assert.equal(closed?.bytesResp, 200);
    assert.equal(h.table.snapshot().retransmissions, 0);
  });

  it('overlapping segments count each byte of sequence space once and are retransmissions, not new data', () => {
    const h = new Harness();
    const c = new TcpConversation(LB, TARGET, 43211, 8080);
    h.feed(c.handshake());
    const base = c.cseq;
    // Act: [0,100), then [50,150) overlapping, then [0,150) again with other bytes, then [150,200)
    h.feed(c.seg(true, 'PA', 'x'.repeat(100)), 10);
    h.feed(c.seg(true, 'PA', 'y'.repeat(100), { seq: (base + 50) >>> 0 }), 10);
    h.feed(c.seg(true, 'PA', 'z'.repeat(150), { seq: base }), 10);
    c.cseq = (base + 150) >>> 0;
    h.feed(c.seg(true, 'PA', 'w'.repeat(50)), 10);
    h.finish();
    // Assess
    assert.equal(h.closed[0]?.bytesOrig, 200, 'sequence space [0, 200)');
    assert.ok(h.table.snapshot().retransmissions >= 1, 'the repeated [0,150) is a retransmission');
  });

  it('a segment 2^31 away (out of any window) is counted as such, not as data, and the connection goes on', () => {
    const h = new Harness();
    const c = new TcpConversation(LB, TARGET, 43212, 8080);
    h.feed([...c.handshake(), c.seg(true, 'PA', 'a'.repeat(100))]);
    // Act: a forged segment far outside the window, then normal traffic
    h.feed(c.seg(true, 'PA', 'evil', { seq: (c.cseq + 0x80000000) >>> 0 }));
    c.cseq = (c.cseq - 4) >>> 0; // the builder advanced past the forged bytes: the sender did not
    h.feed(c.seg(true, 'PA', 'b'.repeat(100)));
    h.feed([c.seg(false, 'A'), c.seg(true, 'FA'), c.seg(false, 'FA'), c.seg(true, 'A')]);
    h.finish();
    // Assess: the forged segment is neither data nor a gap
    assert.equal(h.closed[0]?.bytesOrig, 200);
    assert.equal(h.closed[0]?.state, 'SF');
    assert.equal(h.table.snapshot().out_of_window_segments, 1);
    assert.equal(h.table.snapshot().retransmissions, 0);
  });

  it('out-of-window data is not shown to the classifiers; a sender that really jumps and goes on from there is followed', () => {
    // Prepare: a hook that records what reaches classifiers
    const seen: string[] = [];
    const h = new Harness({ observer: { onSegment: (_c, _o, v) => { seen.push(Buffer.from(v.buf.subarray(v.payloadOffset, v.payloadOffset + v.payloadLen)).toString()); }, onClose: () => undefined } });
    const c = new TcpConversation(LB, TARGET, 43214, 8080);
    h.feed([...c.handshake(), c.seg(true, 'PA', 'one')]);
    // Act: a forged segment, then a real jump continued by the sender
    h.feed(c.seg(true, 'PA', 'forged', { seq: (c.cseq + 0x50000000) >>> 0 }));
    const jump = (c.cseq + 0x60000000) >>> 0;
    h.feed(c.seg(true, 'PA', 'jump1', { seq: jump }));
    h.feed(c.seg(true, 'PA', 'jump2', { seq: (jump + 5) >>> 0 }));
    h.finish();
    // Assess
    assert.deepEqual(seen, ['one', 'jump2']);
    assert.equal(h.table.snapshot().out_of_window_segments, 2);
  });

  it('an out-of-window RST still ends the connection once, as one reset', () => {
    const h = new Harness();
    const c = new TcpConversation(LB, TARGET, 43213, 8080);
    h.feed([...c.handshake(), c.seg(true, 'PA', 'GET'), c.seg(false, 'RA', '', { seq: (c.sseq + 0x40000000) >>> 0 }), c.seg(false, 'RA')]);
    h.finish();
    assert.equal(h.sink.events.length, 1);
    assert.equal(h.table.snapshot().resets_by_target, 1);
  });
});

describe('A table held at its bound by churn', () => {
  it('5,000 interleaved connections through a 50-slot table: never more than 50, every one counted once', () => {
    // Prepare
    const max = 50;
    const h = new Harness({ maxConnections: max });
    let peak = 0;
    // Act: 100 at a time open, send, then close, in waves that overlap the previous wave
    const convs: TcpConversation[] = [];
    for (let i = 0; i < 5_000; i++) convs.push(new TcpConversation(`198.18.${(i >> 8) & 255}.${i & 255}`, TARGET, 30000 + (i % 30000), 8080));
    for (let w = 0; w < 50; w++) {
      const wave = convs.slice(w * 100, w * 100 + 100);
      for (const c of wave) { h.feed(c.seg(true, 'S'), 0.01); peak = Math.max(peak, h.table.size); }
      for (const c of wave) { h.feed([c.seg(false, 'SA'), c.seg(true, 'A'), c.seg(true, 'PA', 'GET')], 0.01); peak = Math.max(peak, h.table.size); }
      for (const c of wave) { h.feed([c.seg(true, 'FA'), c.seg(false, 'FA')], 0.01); peak = Math.max(peak, h.table.size); }
    }
    h.finish();
    // Assess
    const s = h.table.snapshot();
    assert.ok(peak <= max, `peak size ${peak}`);
    assert.equal(s.connections_tracked_peak, max);
    assert.ok(s.connections_evicted > 0);
    const left = Object.values(s.by_state).reduce((a, b) => a + b, 0);
    assert.equal(left, s.connections_opened, 'every connection that entered the table left it once, with a final state');
    assert.equal(s.connections_tracked, 0);
  });
});

describe('Connection slots are reused clean', () => {
  it('a connection that takes a freed slot starts with no history, no classifier state and no links to the old one', () => {
    // Prepare: a 1-slot table; the first connection gets classifier state and a long history
    const apps: unknown[] = [];
    const h = new Harness({
      maxConnections: 1,
      observer: { onSegment: (c) => { apps.push(c.app); c.app ??= { mark: c.origPort }; }, onClose: () => undefined },
    });
    const a = new TcpConversation(LB, TARGET, 43300, 8080);
    h.feed([...a.handshake(), a.seg(true, 'PA', 'x'), a.seg(false, 'PA', 'y'), a.seg(true, 'FA')]);
    // Act: a second connection evicts it and takes its slot
    const b = new TcpConversation(LB, TARGET, 43301, 8080);
    h.feed([b.seg(true, 'S'), b.seg(false, 'SA'), b.seg(true, 'A'), b.seg(true, 'PA', 'z')]);
    let history = '';
    let port = 0;
    h.table.forEach((c) => { history = c.history; port = c.origPort; });
    // Assess
    assert.equal(h.table.size, 1);
    assert.equal(port, 43301);
    assert.equal(history, 'ShAD');
    assert.deepEqual(apps, [undefined, { mark: 43300 }, undefined], 'the new connection saw no state of the old one');
    assert.equal(h.table.snapshot().connections_evicted, 1);
  });
});
