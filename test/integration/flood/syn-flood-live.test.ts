/**
 * The SYN flood through the live pipeline: the flood capture (200,000 distinct sources,
 * SYN cookies, real clients refused and reset in between) replayed with tcpreplay onto
 * a veth pair at 100k pkt/s while the real binary captures the other end. With no
 * kernel drops, the refusals and resets of the real clients must be exact and each
 * keep its own event, the connection table must stay at its bound, and the rate limit
 * must keep the log small.
 *
 * The replay has its own timing (tcpreplay's rate, kernel timestamps), so the number
 * of unanswered handshakes is not compared with the file's. Needs root, namespaces
 * and tcpreplay; namespace lbfl-live, interfaces lbflv0 (root) / lbflv1.
 *   FLOOD_SYNS=1000000 node --test dist/test/integration/flood/syn-flood-live.test.js
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestNetwork } from '../../helpers/netns.js';
import { clientsOf, liveReplayUnavailable, readEvents, replayLive, type Event, type LiveResult } from './flood-run.js';
import { FLOOD_TARGET, writeSynFlood, type SynFloodExpect } from './syn-flood-capture.js';

const SYNS = Number(process.env['FLOOD_SYNS'] ?? 200_000);
const MAX_CONNECTIONS = 100_000;
const PPS = 100_000;

describe(`A SYN flood from ${SYNS.toLocaleString('en-US')} sources replayed live at ${PPS.toLocaleString('en-US')} pkt/s`, { timeout: 180_000 }, () => {
  const skip = liveReplayUnavailable();
  const net = new TestNetwork();
  let dir = '';
  let expect: SynFloodExpect;
  let r: LiveResult = { code: null, stdout: '', stderr: '', summary: {}, peakRssMb: 0 };
  let events: Event[] = [];

  before(async () => {
    if (skip !== undefined) return;
    // Prepare and Act: the capture, replayed once (bounded: expect.packets frames, ~2-3 s at 100k pkt/s).
    dir = mkdtempSync(join(tmpdir(), 'lbfl-live-'));
    const file = join(dir, 'flood.pcap');
    expect = writeSynFlood(file, { syns: SYNS });
    const logs = join(dir, 'logs');
    const started = Date.now();
    r = await replayLive(net, { ns: 'lbfl-live', targetIf: 'lbflv0', peerIf: 'lbflv1', subnet: '198.18.47', file, pps: PPS, logs,
      args: ['--max-connections', String(MAX_CONNECTIONS)] });
    events = readEvents(logs);
    process.stdout.write(`# live flood: ${expect.packets} frames replayed, ${String(r.summary['totals']?.['packets'])} analysed in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
      `kernel drops ${String(r.summary['capture']?.['dropped'])}, peak RSS ${r.peakRssMb.toFixed(0)} MB (the 64 MB kernel ring included), ${events.length} event lines\n`);
  });
  after(() => {
    net.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('every replayed frame reaches the analyzer (no kernel drops), which exits cleanly', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    assert.equal(r.code, 0, r.stderr.slice(-1000));
    assert.equal(r.summary['capture']?.['dropped'], 0, 'kernel drops');
    assert.equal(r.summary['totals']?.['packets'], expect.packets);
  });

  it('the table stays at its bound and counts every connection', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    const c = r.summary['connections'] as { tracked_peak: number; opened: number };
    assert.ok(c.tracked_peak <= MAX_CONNECTIONS, `peak ${c.tracked_peak}`);
    assert.equal(c.opened, expect.connections);
  });

  it('refusals and resets of the real clients are exact, each with its own event', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    const e = r.summary['tcp_errors'] as Record<string, number>;
    assert.equal(e['refused'], expect.refused);
    assert.equal(e['resets_by_target'], expect.resets);
    assert.equal(e['resets_by_peer'], 0);
    assert.deepEqual(clientsOf(events, 'refused', FLOOD_TARGET), [...expect.refusedClients].sort());
    assert.deepEqual(clientsOf(events, 'reset_by_target', FLOOD_TARGET), [...expect.resetClients].sort());
  });

  it('the flood is not an event storm, and memory stays bounded', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    assert.ok(events.length < 5_000, `${events.length} event lines`);
    // Live RSS includes the kernel ring libpcap maps (64 MB by default) as its pages are touched.
    assert.ok(r.peakRssMb > 0 && r.peakRssMb <= 150 + 64, `peak RSS ${r.peakRssMb.toFixed(0)} MB`);
  });
});
