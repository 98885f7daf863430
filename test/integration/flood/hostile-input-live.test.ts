/**
 * The hostile capture (hostile-capture.ts) through the live pipeline: replayed with
 * tcpreplay onto a veth pair while the real binary captures the other end with a
 * 100-slot connection table. The same verdicts as from the file: no crash, the table at
 * its bound with evictions counted, refusals and resets exact, every request with a
 * 64 KB head, a 10,000-entry X-Forwarded-For, garbage after it, overlapping and forged
 * segments or a sequence wrap matched to its 200, and the long list reported as a loop.
 * Needs root, namespaces and tcpreplay; namespace lbfl-hst, interfaces lbflh0 / lbflh1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestNetwork } from '../../helpers/netns.js';
import { liveReplayUnavailable, readEvents, replayLive, type Event, type LiveResult } from './flood-run.js';
import { ANSWERED, MAX_CONNECTIONS, REFUSED, RESETS, writeHostileCapture } from './hostile-capture.js';

/** Frames per second of the replay: the whole capture (~27k frames) in about 2 s. */
const PPS = 15_000;

describe('Hostile input replayed through the live pipeline: bounds hold and exact counts survive', { timeout: 120_000 }, () => {
  const skip = liveReplayUnavailable();
  const net = new TestNetwork();
  let dir = '';
  let r: LiveResult = { code: null, stdout: '', stderr: '', summary: {}, peakRssMb: 0 };
  let events: Event[] = [];
  let frames = 0;

  before(async () => {
    if (skip !== undefined) return;
    // Prepare and Act: the capture, replayed once at a fixed rate (bounded by its frame count).
    dir = mkdtempSync(join(tmpdir(), 'lbfl-hst-'));
    const file = join(dir, 'hostile.pcap');
    frames = writeHostileCapture(file);
    const logs = join(dir, 'logs');
    r = await replayLive(net, { ns: 'lbfl-hst', targetIf: 'lbflh0', peerIf: 'lbflh1', subnet: '198.18.48', file, pps: PPS, logs,
      args: ['--max-connections', String(MAX_CONNECTIONS)] });
    events = readEvents(logs);
  });
  after(() => {
    net.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('nothing throws: exit 0, a final summary, every frame analysed, no stack trace', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    assert.equal(r.code, 0, r.stderr.slice(-1000));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.summary['capture']?.['dropped'], 0, 'kernel drops');
    assert.equal(r.summary['totals']?.['packets'], frames);
  });

  it('the connection table stays at its bound and counts its evictions', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    const c = r.summary['connections'] as { tracked_peak: number; evicted: number };
    assert.ok(c.tracked_peak <= MAX_CONNECTIONS, `peak ${c.tracked_peak}`);
    assert.ok(c.evicted > 0);
  });

  it('refusals and resets are exact, each with its own event', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    const e = r.summary['tcp_errors'] as Record<string, number>;
    assert.equal(e['refused'], REFUSED);
    assert.equal(e['resets_by_target'], RESETS);
    assert.equal(events.filter((x) => x.reason === 'refused').length, REFUSED);
    assert.equal(events.filter((x) => x.reason === 'reset_by_target').length, RESETS);
  });

  it('every hostile request is matched to its 200, and the 10,000-entry list is a loop', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    const h = r.summary['http_errors'] as { status_classes: Record<string, number>; orphan_responses: number; heads_too_large: number };
    assert.equal(h.status_classes['2xx'], ANSWERED, JSON.stringify(h));
    assert.equal(h.orphan_responses, 0);
    assert.equal(h.heads_too_large, 2, 'the 64 KB block and the long list');
    assert.ok(events.some((e) => e.reason === 'xff_too_long'));
    assert.equal(r.summary['tcp_errors']?.['out_of_window_segments'], 1, 'the forged segment');
  });
});
