import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventFactory } from '../../agent/events/event-factory.js';
import type { AnalyzerEvent } from '../../agent/events/schema.js';
import { Pipeline } from '../../agent/pipeline.js';
import { secUsec } from '../../agent/capture/packet-source.js';
import { tcp } from '../helpers/packet-builder.js';

function pipeline(): { p: Pipeline; events: AnalyzerEvent[] } {
  const events: AnalyzerEvent[] = [];
  const p = new Pipeline({
    linkType: () => 1, sink: { emit: (e) => events.push(e) }, events: new EventFactory(),
    sample: 1, maxConnections: 1000, synTimeoutSec: 3, idleTimeoutSec: 300,
  });
  return { p, events };
}

const T0 = 1_700_000_000_000_000;

describe('pipeline', () => {
  test('a SYN answered by RST-ACK becomes one CONNECTION_FAILED/refused event, counted by type', () => {
    // Prepare
    const { p, events } = pipeline();
    const syn = tcp({ src: '198.18.20.2', dst: '198.18.20.1', sport: 40001, dport: 81, flags: 'S', seq: 1 });
    const rst = tcp({ src: '198.18.20.1', dst: '198.18.20.2', sport: 81, dport: 40001, flags: 'RA', seq: 0, ack: 2 });
    // Act
    p.onPacket(syn, syn.length, syn.length, ...secUsec(T0), 0);
    p.onPacket(rst, rst.length, rst.length, ...secUsec(T0 + 200), 0);
    // Assess
    assert.deepEqual(events.map((e) => [e.type, e.reason]), [['CONNECTION_FAILED', 'refused']]);
    assert.deepEqual(p.eventsByType(), { CONNECTION_FAILED: 1 });
    assert.equal(p.lastPacketMicros, T0 + 200);
    assert.equal(p.snapshot().decode.packets, 2);
  });

  test('a frame cut inside its IP header is counted as malformed, not thrown, and the view is reused', () => {
    // Prepare
    const { p, events } = pipeline();
    const view = p.view;
    const frame = tcp({ src: '198.18.20.2', dst: '198.18.20.1', sport: 40002, dport: 80, flags: 'S' });
    // Act
    p.onPacket(frame, 20, frame.length, ...secUsec(T0), 0);
    // Assess
    assert.equal(p.snapshot().decode.malformed.total, 1);
    assert.equal(events.length, 0);
    assert.equal(p.view, view);
  });

  test('kernel drops that grew since the last look become one CAPTURE_LOSS event with the delta', () => {
    // Prepare
    const { p, events } = pipeline();
    // Act
    p.noteCaptureStats({ received: 100, dropped: 0, ifDropped: 0 }, T0);
    p.noteCaptureStats({ received: 200, dropped: 5, ifDropped: 2 }, T0 + 1);
    p.noteCaptureStats({ received: 300, dropped: 5, ifDropped: 2 }, T0 + 2);
    // Assess
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'CAPTURE_LOSS');
    assert.equal((events[0] as unknown as Record<string, unknown>)['dropped'], 7);
  });
});
