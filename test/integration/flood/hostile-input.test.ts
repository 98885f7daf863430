/**
 * Hostile traffic through the real binary (issue 7, "adversarial traffic"): a capture
 * with a 64 KB request header block, a 10,000-entry X-Forwarded-For, garbage pipelined
 * after a valid request, a request delivered in overlapping segments with a forged
 * out-of-window one among them, sequence numbers wrapping past 2^32, and a connection
 * table held at its bound by churn — plus refusals and resets whose counts must
 * survive all of it exactly. Read with --read (a generated file), so it runs anywhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANSWERED, MAX_CONNECTIONS, REFUSED, RESETS, writeHostileCapture } from './hostile-capture.js';
import { AGENT, readEvents, type Event } from './flood-run.js';

const GNU_TIME = '/usr/bin/time';

describe('Hostile input through the real binary: bounds hold and exact counts survive', { timeout: 120_000 }, () => {
  let dir = '';
  let status: number | null = null;
  let stderr = '';
  let summary: Record<string, Record<string, unknown>> = {};
  let events: Event[] = [];
  let rssMb: number | undefined;

  before(() => {
    // Prepare and Act: one capture, one run.
    dir = mkdtempSync(join(tmpdir(), 'lbfl-hostile-'));
    const file = join(dir, 'hostile.pcap');
    writeHostileCapture(file);
    const logs = join(dir, 'logs');
    const args = [...AGENT, '--read', file, '-l', logs, '--summary-format', 'json', '--cloudwatch', 'off', '--max-connections', String(MAX_CONNECTIONS)];
    const timed = existsSync(GNU_TIME);
    const r = timed
      ? spawnSync(GNU_TIME, ['-f', 'peak_rss_kb=%M', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 110_000 })
      : spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 110_000 });
    status = r.status;
    stderr = r.stderr;
    const line = r.stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
    summary = line ? JSON.parse(line) as Record<string, Record<string, unknown>> : {};
    events = readEvents(logs);
    const m = /peak_rss_kb=(\d+)/.exec(r.stderr);
    rssMb = m ? Number(m[1]) / 1024 : undefined;
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('nothing throws: exit 0, a final summary, no stack trace', () => {
    assert.equal(status, 0, stderr.slice(-1000));
    assert.ok(summary['connections'], 'a final summary');
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });

  it('the connection table stays at its bound under churn and counts its evictions', () => {
    const c = summary['connections'] as { tracked_peak: number; evicted: number; tracked: number };
    assert.ok(c.tracked_peak <= MAX_CONNECTIONS, `peak ${c.tracked_peak}`);
    assert.ok(c.evicted > 0);
  });

  it('refusals and resets are exact, each with its own event', () => {
    const e = summary['tcp_errors'] as Record<string, number>;
    assert.equal(e['refused'], REFUSED);
    assert.equal(e['resets_by_target'], RESETS);
    assert.equal(events.filter((x) => x.reason === 'refused').length, REFUSED);
    assert.equal(events.filter((x) => x.reason === 'reset_by_target').length, RESETS);
  });

  it('requests after garbage, in overlapping segments with a forged one, and across a sequence wrap are each matched to their 200', () => {
    const h = summary['http_errors'] as { status_classes: Record<string, number>; orphan_responses: number };
    assert.ok((h.status_classes['2xx'] ?? 0) >= 3, JSON.stringify(h));
    assert.equal((h.status_classes['2xx'] ?? 0) + h.orphan_responses, ANSWERED, 'every response is either matched or counted as an orphan');
  });

  it('requests with a 64 KB header block or a 10,000-entry X-Forwarded-For are counted too (their first 64 KB scanned as a partial head)', () => {
    const h = summary['http_errors'] as { status_classes: Record<string, number> };
    assert.equal(h.status_classes['2xx'], ANSWERED);
    assert.ok(events.some((e) => e.reason === 'xff_too_long'), 'the 10,000-entry X-Forwarded-For is a loop indicator');
  });

  it('peak RSS stays bounded (no per-connection buffer grows with the input)', (t) => {
    if (rssMb === undefined) { t.skip(`${GNU_TIME} is not installed (Debian package "time"): peak RSS not measured`); return; }
    assert.ok(rssMb <= 120, `peak RSS ${rssMb.toFixed(0)} MB`);
  });
});
