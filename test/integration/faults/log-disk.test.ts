/**
 * Issue 7, faults: the log directory's disk fills up or turns read-only under the
 * real binary. Analysis goes on, events wait in the bounded memory buffer (8 MiB),
 * what overflows is counted (summary, one warning per interval, one event once
 * writing works again), and writing resumes by itself when space returns.
 * A small tmpfs (256 KiB) is the disk; needs root for mount, skips loudly without.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MAX_PENDING_BYTES, TORN_LINE_MARK } from '../../../agent/ship/local-log.js';
import {
  Agent, closedPort, fillDisk, mountTmpfs, mountUnavailableReason, readLogDir, refuse, remount, unmount, waitUntil,
  writeRefusedCapture,
} from './log-fixture.js';

const MiB = 1024 * 1024;

/** The agent opens its file for a moment each second while retrying: a remount may find it busy then. */
async function remountRetrying(dir: string, mode: 'ro' | 'rw'): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      remount(dir, mode);
      return;
    } catch (err) {
      if (i >= 20) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function eventsTotal(summary: Record<string, unknown> | undefined): number {
  const byType = (summary?.['events'] ?? {}) as Record<string, number>;
  return Object.values(byType).reduce((a, b) => a + b, 0);
}

describe('local log on a full or read-only disk (real binary, tmpfs)', { concurrency: false }, () => {
  const skip = mountUnavailableReason();
  let work = '';
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'lbta-logfaults-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('--read of 30,000 events onto a full disk: no crash, memory bounded, every event written, waiting or counted lost', { timeout: 120_000 }, async (t) => {
    if (skip) return t.skip(skip);
    // Prepare: a capture of 30,000 refused connections (about 13 MB of events), a full tmpfs, a normal directory for comparison.
    const N = 30_000;
    const pcap = join(work, 'refused.pcap');
    // 25 ms apart in packet time: under the event limiter's 50 per second, so each connection is one event.
    writeRefusedCapture(pcap, N, 25_000);
    const disk = join(work, 'disk-read');
    const normal = join(work, 'normal');
    mkdirSync(disk);
    mountTmpfs(disk, '256k');
    try {
      fillDisk(disk);
      const rssOk = join(work, 'rss-ok');
      const rssFull = join(work, 'rss-full');
      // Act
      const ok = new Agent(['--read', pcap, '-l', normal, '--summary-format', 'json'], { wrap: ['/usr/bin/time', '-f', '%M', '-o', rssOk] });
      const okExit = await ok.exited;
      const full = new Agent(['--read', pcap, '-l', disk, '--summary-format', 'json'], { wrap: ['/usr/bin/time', '-f', '%M', '-o', rssFull] });
      const fullExit = await full.exited;
      // Assess
      assert.equal(okExit.code, 0, ok.stderr);
      assert.equal(fullExit.code, 0, `no crash on a full disk: ${full.stderr}`);
      const a = ok.lastLocalLog();
      const b = full.lastLocalLog();
      assert.equal(a?.['written'], N);
      assert.equal(eventsTotal(full.summaries.at(-1)), N, 'analysis went on: every event was produced');
      const written = Number(b?.['written']);
      const pending = Number(b?.['pending']);
      const lost = Number(b?.['lost']);
      assert.equal(written + pending + lost, N, `exact accounting: ${JSON.stringify(b)}`);
      assert.ok(lost > 0, 'the buffer overflowed and the overflow was counted');
      assert.ok(Number(b?.['pending_bytes']) <= DEFAULT_MAX_PENDING_BYTES);
      assert.equal(b?.['failing'], true);
      const lostWarnings = full.logs.filter((l) => String(l['msg']).includes('events lost'));
      assert.equal(lostWarnings.length, 1, 'one warning about lost events, not one per event');
      const rssA = Number(readFileSync(rssOk, 'utf8').trim().split('\n').at(-1)) / 1024;
      const rssB = Number(readFileSync(rssFull, 'utf8').trim().split('\n').at(-1)) / 1024;
      t.diagnostic(`N=${N} written=${written} pending=${pending} lost=${lost} peak RSS normal ${rssA.toFixed(1)} MiB, full disk ${rssB.toFixed(1)} MiB`);
      assert.ok(rssB - rssA < 64, `peak RSS grew ${(rssB - rssA).toFixed(1)} MiB with the disk full (bound ${DEFAULT_MAX_PENDING_BYTES / MiB} MiB of lines)`);
    } finally {
      unmount(disk);
    }
  });

  test('live on loopback: the disk fills, then turns read-only; events wait in memory and writing resumes by itself', { timeout: 120_000 }, async (t) => {
    if (skip) return t.skip(skip);
    // Prepare: a full tmpfs as the log directory, the agent capturing refused connections on lo.
    const disk = join(work, 'disk-live');
    mkdirSync(disk);
    mountTmpfs(disk, '256k');
    let agent: Agent | undefined;
    try {
      const filler = fillDisk(disk);
      const port = await closedPort();
      agent = new Agent(['-i', 'lo', '--filter', `tcp port ${port}`, '-l', disk, '--summary-interval', '1', '--summary-format', 'json']);
      const a = agent;
      await waitUntil(() => a.logs.some((l) => l['msg'] === 'capturing'), 20_000, 'the agent to capture');
      const ll = () => a.lastLocalLog() ?? {};
      // Refused connections paced well under the event limiter's 50 per second (even two rounds in one of its
      // one-second windows stay under), so each is one event.
      const paced = async (rounds: number): Promise<number> => {
        let n = 0;
        for (let r = 0; r < rounds; r++) {
          n += await refuse(port, 20, 4);
          await new Promise((res) => setTimeout(res, 1000));
        }
        return n;
      };

      // Act 1: 100 refused connections while the disk is full.
      const refused1 = await paced(5);
      // (Not exactly one event per connection: the kernel may reuse a source port the flow table still holds.)
      await waitUntil(() => Number(ll()['pending']) >= refused1 * 0.9 && ll()['failing'] === true, 10_000, 'the events to wait in memory', ll);
      const during = { ...ll() };
      // Space returns.
      unlinkSync(filler);
      await waitUntil(() => ll()['pending'] === 0 && ll()['failing'] === false, 10_000, 'the buffer to drain once space returned');
      const drained = { ...ll() };

      // Act 2: the disk fills again and, while the agent holds no file open (its write failed), turns read-only;
      // 80 more refused connections; then writable again, and space returns.
      const filler2 = fillDisk(disk);
      await paced(1);
      await waitUntil(() => ll()['failing'] === true, 10_000, 'writes to fail on the full disk', ll);
      await remountRetrying(disk, 'ro');
      const refused2 = 20 + (await paced(3));
      await waitUntil(() => /EROFS/.test(String(ll()['last_error'])) && Number(ll()['pending']) >= refused2 * 0.9, 10_000, 'writes to fail on the read-only disk', ll);
      const readOnly = { ...ll() };
      remount(disk, 'rw');
      unlinkSync(filler2);
      await waitUntil(() => ll()['pending'] === 0 && ll()['failing'] === false, 10_000, 'writing to resume after remount rw', ll);
      const exit = await a.stop();

      // Assess
      assert.equal(exit.code, 0, a.stderr);
      const final = a.summaries.at(-1);
      const emitted = eventsTotal(final);
      const fin = final?.['local_log'] as Record<string, number>;
      const { lines, torn } = readLogDir(disk);
      const ids = new Set(lines.map((l) => l['id']));
      t.diagnostic(`refused ${refused1}+${refused2}, events ${emitted}; disk full: pending ${during['pending']}, write errors ${during['write_errors']}; ` +
        `read-only: pending ${readOnly['pending']} (${String(readOnly['last_error'])}); written ${fin['written']}, lost ${fin['lost']}, torn lines ${torn.length}`);
      assert.equal(refused1 + refused2, 180);
      assert.equal(readOnly['failing'], true);
      assert.ok(Number(drained['written']) >= Number(during['pending']), 'all that waited was written once space returned');
      assert.equal(drained['lost'], 0);
      assert.match(String(readOnly['last_error']), /EROFS/);
      assert.equal(fin['lost'], 0);
      assert.equal(fin['written'], emitted, 'every event produced is on disk');
      assert.equal(lines.length, emitted);
      assert.equal(ids.size, lines.length, 'no event written twice');
      // A write cut short by ENOSPC leaves part of a line: it is closed with the mark and the line written again whole.
      for (const l of torn) assert.ok(l.endsWith(TORN_LINE_MARK), l);
      assert.equal(fin['torn_lines'], 0, 'a line torn by our own partial write is not lost');
      const writeWarnings = a.logs.filter((l) => String(l['msg']).startsWith('cannot write the local log'));
      assert.equal(writeWarnings.length, 1, 'one warning per interval (60 s), not one per retry or event');
      assert.ok(a.logs.some((l) => l['msg'] === 'local log writable again'));
    } finally {
      await agent?.stop(2000);
      unmount(disk);
    }
  });
});
