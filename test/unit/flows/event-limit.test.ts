import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventFactory } from '../../../agent/events/event-factory.js';
import { EventLimiter } from '../../../agent/events/event-limiter.js';
import { EventType } from '../../../agent/events/schema.js';
import { TcpConversation } from '../../helpers/packet-builder.js';
import { CollectingSink, Harness, T0 } from './flow-harness.js';

/** Events a log stands for: one per line, a summary's `suppressed` for a summary. */
function represented(events: readonly { reason: string; [k: string]: unknown }[], reason: string): number {
  return events.filter((e) => e.reason === reason).reduce((n, e) => n + (typeof e['suppressed'] === 'number' ? e['suppressed'] : 1), 0);
}

describe('The event limiter writes at most K events per type, reason and second, and summarises the rest exactly', () => {
  it('admits K in a window, suppresses the rest, and writes one summary when the window has passed', () => {
    // Prepare
    const sink = new CollectingSink();
    const limiter = new EventLimiter({ sink, events: new EventFactory(), perWindow: 3 });
    // Act: 10 refusals within one second, then time moves on
    const admitted = Array.from({ length: 10 }, (_, i) => limiter.admit(EventType.CONNECTION_FAILED, 'refused', T0 + i * 1000)).filter(Boolean).length;
    const beforeTick = sink.events.length;
    limiter.tick(T0 + 1_000_000);
    // Assess
    assert.equal(admitted, 3);
    assert.equal(beforeTick, 0, 'no summary while the window is open');
    assert.equal(sink.events.length, 1);
    const s = sink.events[0];
    assert.equal(s?.type, 'CONNECTION_FAILED');
    assert.equal(s?.reason, 'refused');
    assert.equal(s?.['suppressed'], 7);
    assert.equal(s?.['limit'], 3);
    assert.equal(s?.time, '2026-02-15T09:30:00.009000Z', 'stamped with the last suppressed event');
    assert.equal(s?.['window_start'], '2026-02-15T09:30:00.000000Z');
    assert.deepEqual(limiter.suppressedByKind(), { 'CONNECTION_FAILED/refused': 7 });
  });

  it('keeps separate budgets per type and reason, and a new window starts a new budget', () => {
    const sink = new CollectingSink();
    const limiter = new EventLimiter({ sink, events: new EventFactory(), perWindow: 2 });
    const a = [0, 1, 2].map((i) => limiter.admit(EventType.TCP_ERROR, 'reset_by_peer', T0 + i));
    const b = [0, 1, 2].map((i) => limiter.admit(EventType.TCP_ERROR, 'reset_by_target', T0 + i));
    const c = limiter.admit(EventType.TCP_ERROR, 'reset_by_peer', T0 + 1_500_000);
    limiter.flush();
    assert.deepEqual(a, [true, true, false]);
    assert.deepEqual(b, [true, true, false]);
    assert.equal(c, true, 'the next second has its own budget');
    assert.deepEqual(sink.events.map((e) => [e.reason, e['suppressed']]).sort(), [['reset_by_peer', 1], ['reset_by_target', 1]]);
  });

  it('flush writes pending summaries at once, and nothing when nothing was suppressed', () => {
    const sink = new CollectingSink();
    const limiter = new EventLimiter({ sink, events: new EventFactory(), perWindow: 1 });
    limiter.admit(EventType.CONNECTION_FAILED, 'unanswered', T0);
    limiter.flush();
    assert.equal(sink.events.length, 0);
    limiter.admit(EventType.CONNECTION_FAILED, 'unanswered', T0 + 10);
    limiter.flush();
    limiter.flush();
    assert.equal(sink.events.length, 1, 'one summary, written once');
    assert.equal(limiter.summaries, 1);
  });

  it('refuses a limit that is not a positive integer', () => {
    assert.throws(() => new EventLimiter({ sink: new CollectingSink(), events: new EventFactory(), perWindow: 0 }), /perWindow must be a positive integer, got 0/);
  });
});

describe('The flow table rate-limits its connection events and keeps its counters exact', () => {
  it('120 refused connections in one second: 50 events, one summary of 70, refused = 120', () => {
    // Prepare
    const h = new Harness();
    // Act: 120 SYN → RST/ACK, 5 ms apart (0.6 s)
    for (let i = 0; i < 120; i++) {
      const c = new TcpConversation(`10.0.${1 + (i >> 8)}.${i & 255}`, '10.0.2.100', 40000 + i, 8080);
      h.feed([c.seg(true, 'S'), c.seg(false, 'RA')], 2.5);
    }
    h.finish();
    // Assess
    const snap = h.table.snapshot();
    assert.equal(snap.refused, 120);
    assert.equal(snap.events_suppressed, 70);
    const lines = h.sink.ofReason('refused');
    assert.equal(lines.length, 51);
    assert.equal(lines.filter((e) => e['suppressed'] === undefined).length, 50);
    assert.equal(represented(h.sink.events, 'refused'), 120, 'lines plus summaries add up to the counter');
  });

  it('refusals spread below the limit each get their own event', () => {
    const h = new Harness({ eventsPerSecond: 5 });
    for (let i = 0; i < 20; i++) {
      const c = new TcpConversation('10.0.1.50', '10.0.2.100', 40000 + i, 8080);
      h.feed([c.seg(true, 'S'), c.seg(false, 'RA')], 250); // 4 per second
    }
    h.finish();
    assert.equal(h.table.snapshot().refused, 20);
    assert.equal(h.sink.ofReason('refused').filter((e) => e['suppressed'] === undefined).length, 20);
    assert.equal(h.table.snapshot().events_suppressed, 0);
  });
});
