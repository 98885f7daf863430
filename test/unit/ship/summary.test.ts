import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AnalyzerEvent } from '../../../agent/events/schema.js';
import { EventFactory } from '../../../agent/events/event-factory.js';
import { Pipeline } from '../../../agent/pipeline.js';
import { buildSummary, summaryJson, summaryTable, type SummaryInput } from '../../../agent/ship/summary.js';
import { tcp } from '../../helpers/packet-builder.js';

/** A pipeline that has seen one refused connection (SYN answered by RST-ACK). */
function refusedOnce(sample: number): Pipeline {
  const events: AnalyzerEvent[] = [];
  const p = new Pipeline({
    linkType: () => 1, sink: { emit: (e) => events.push(e) }, events: new EventFactory(),
    sample, maxConnections: 1000, synTimeoutSec: 3, idleTimeoutSec: 300,
  });
  const syn = tcp({ src: '198.18.20.2', dst: '198.18.20.1', sport: 40000, dport: 81, flags: 'S', seq: 1 });
  const rst = tcp({ src: '198.18.20.1', dst: '198.18.20.2', sport: 81, dport: 40000, flags: 'RA', seq: 0, ack: 2 });
  p.onPacket(syn, syn.length, syn.length, 1_700_000_000, 0, 0);
  p.onPacket(rst, rst.length, rst.length, 1_700_000_000, 100, 0);
  return p;
}

function input(p: Pipeline, final: boolean): SummaryInput {
  return {
    nowMs: Date.UTC(2026, 0, 2, 3, 4, 5), startedMs: Date.UTC(2026, 0, 2, 3, 3, 35),
    source: { engine: 'pcap', name: 'eth0' }, pipeline: p.snapshot(10),
    capture: { received: 10, dropped: 7, ifDropped: 1 }, previousCapture: { received: 4, dropped: 3, ifDropped: 0 },
    events: p.eventsByType(), localLog: undefined, stdoutDropped: 3, shipping: { mode: 'local', reason: '--cloudwatch off' }, final,
  } as SummaryInput;
}

describe('summary', () => {
  test('the JSON form is one line with totals, TCP errors, kernel drops since the last summary and the shipping mode', () => {
    // Prepare
    const p = refusedOnce(1);
    // Act
    const line = summaryJson(buildSummary(input(p, true)));
    // Assess
    assert.ok(!line.includes('\n'));
    const s = JSON.parse(line) as Record<string, Record<string, unknown>>;
    assert.equal(s['summary'] as unknown, 'final');
    assert.equal(s['uptime_s'] as unknown, 30);
    assert.equal(s['totals']?.['packets'], 2);
    assert.equal(s['totals']?.['tcp'], 2);
    assert.equal(s['tcp_errors']?.['refused'], 1);
    assert.equal(s['capture']?.['dropped_since_last'], 5);
    assert.deepEqual(s['events'], { CONNECTION_FAILED: 1 });
    assert.deepEqual(s['shipping'], { mode: 'local', reason: '--cloudwatch off' });
    assert.deepEqual(s['top_clients'], []);
    assert.equal(s['stdout_lines_dropped'] as unknown, 3, 'log lines and summaries stdout could not take');
  });

  test('the table has a titled header, aligned sections and says sampling is off', () => {
    // Prepare
    const p = refusedOnce(1);
    // Act
    const lines = summaryTable(buildSummary(input(p, false))).split('\n');
    // Assess
    assert.equal(lines[0], '=== lb-traffic-analyzer summary 2026-01-02T03:04:05.000Z (pcap on eth0, up 30 s) ===');
    for (const t of ['  Traffic', '  Load balancers', '  Health checks', '  TCP errors', '  HTTP errors', '  Top client IPs', '  Capture health', '  Events']) {
      assert.ok(lines.includes(t), `section ${t}`);
    }
    assert.ok(lines.some((l) => /^ {4}sampling +off: every figure exact$/.test(l)));
    const tcpRows = lines.slice(lines.indexOf('  TCP errors'), lines.indexOf('  HTTP errors'));
    assert.equal(tcpRows.join('\n'), [
      '  TCP errors',
      '    resets by target     0',
      '    resets by peer       0',
      '    refused              1',
      '    unanswered           0',
      '    handshake abandoned  0',
      '    zero windows         0',
      '    retransmissions      0',
      '    duplicate ACKs       0',
      '    out of order         0',
    ].join('\n'));
    assert.ok(lines.includes('    kernel drops            7'));
    assert.ok(lines.includes('    CloudWatch    off (--cloudwatch off)'));
    assert.ok(lines.includes('    stdout lost   3'));
  });

  test("a live capture's gaps, the rate limit and a degraded CloudWatch are in the table and the JSON", () => {
    // Prepare: two gaps of the capture, CloudWatch Logs failing.
    const p = refusedOnce(1);
    const i = {
      ...input(p, false),
      captureHealth: { state: 'capturing', reason: null, sinceMs: null, gaps: 2, gapMsTotal: 1750 },
      shipping: { mode: 'aws', health: 'degraded', degraded: 'CloudWatch Logs failing since 2026-01-02T03:00:00.000Z (http_502 x3)', logs: { eventsSent: 1234 }, metrics: {} },
    } as SummaryInput;
    // Act
    const s = buildSummary(i) as Record<string, Record<string, unknown>>;
    const lines = summaryTable(s).split('\n');
    // Assess
    assert.equal(s['capture']?.['gaps'], 2);
    assert.equal(s['capture']?.['gap_ms_total'], 1750);
    assert.equal(s['events_suppressed'] as unknown, 0);
    assert.equal(s['tcp_errors']?.['out_of_window_segments'], 0);
    assert.ok(lines.includes('    capture gaps            2 (1,750 ms), now capturing'), lines.join('\n'));
    assert.ok(lines.includes('    CloudWatch    DEGRADED: CloudWatch Logs failing since 2026-01-02T03:00:00.000Z (http_502 x3); 1,234 events sent'), lines.join('\n'));
  });

  test('with sampling, per-segment figures are marked (sampled) in the table and listed in the JSON', () => {
    // Prepare
    const p = refusedOnce(10);
    // Act
    const s = buildSummary(input(p, true));
    const table = summaryTable(s);
    // Assess
    const sampled = (JSON.parse(summaryJson(s)) as Record<string, { sample: number; figures: string[] }>)['sampled'];
    assert.equal(sampled?.sample, 10);
    assert.ok((sampled?.figures.length ?? 0) > 0);
    assert.match(table, /1 flow in 10: per-segment figures marked \(sampled\)/);
    assert.match(table, /retransmissions \(sampled\)/);
  });

  test('the table gives an exact top-client count as it is, and an estimated one as the range its true count lies in, with why', () => {
    // Prepare: the JSON's top_clients as the Space-Saving sketch gives them (count, error).
    const s = buildSummary(input(refusedOnce(1), true)) as Record<string, unknown>;
    const exact = { ...s, top_clients: [{ key: '203.0.113.7', count: 1234, error: 0 }, { key: '203.0.113.8', count: 2, error: 0 }] };
    const estimated = { ...s, top_clients: [{ key: '203.0.113.7', count: 5000, error: 0 }, { key: '198.51.100.9', count: 1300, error: 1250 }] };
    // Act
    const a = summaryTable(exact as typeof s).split('\n');
    const b = summaryTable(estimated as typeof s).split('\n');
    // Assess
    assert.ok(a.includes('    203.0.113.7  1,234'), a.join('\n'));
    assert.ok(a.includes('    203.0.113.8  2'), a.join('\n'));
    assert.ok(!a.some((l) => l.includes('estimated')), a.join('\n'));
    assert.ok(b.includes('    203.0.113.7   5,000'), b.join('\n'));
    assert.ok(b.includes('    198.51.100.9  50-1,300'), b.join('\n'));
    assert.ok(b.includes('                  a range: more clients than the 1,000 kept, the count is estimated'), b.join('\n'));
  });
});
