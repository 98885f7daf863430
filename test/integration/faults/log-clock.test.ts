/**
 * Issue 7, faults: the wall clock jumps backwards and forwards under the real
 * binary (libfaketime, its offset changed while the agent runs). No crash; the
 * writer never goes back to an older daily file, so the reader (which only moves
 * forward by file name) sees every line; retention removes only what is really
 * old; event times are packet times (the kernel's), and what is shipped is in time
 * order within each batch and inside CloudWatch's window.
 * Needs root (capture on lo) and libfaketime (`faketime` package); skips loudly without.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptWindow, buildBatch, PUT_LOG_EVENTS_LIMITS } from '../../../agent/ship/cloudwatch-batch.js';
import { logFileName } from '../../../agent/ship/local-log.js';
import { LogReader } from '../../../agent/ship/log-reader.js';
import { START_CURSOR } from '../../../agent/ship/cursor.js';
import { Agent, closedPort, readLogDir, refuse, waitUntil } from './log-fixture.js';

const DAY = 86_400_000;
const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1']
  .find((p) => existsSync(p));

describe('wall clock jumps (real binary under libfaketime)', () => {
  let work = '';
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'lbta-logfaults-clock-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('back 2 days, forward 3, back to now: no crash, no write into an older file, retention keeps recent files, shipping order holds', { timeout: 90_000 }, async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to capture on lo (run the suite as root, as CI does)');
    if (LIBFAKETIME === undefined) return t.skip('libfaketime not installed (apt-get install faketime; scripts/setup.sh --test installs it)');
    // Prepare: an expired file (10 days old) and a recent one (3 days old); the fake clock starts at the real time.
    const dir = join(work, 'logs');
    mkdirSync(dir);
    const realStart = Date.now();
    const old = logFileName(realStart - 10 * DAY);
    const recent = logFileName(realStart - 3 * DAY);
    writeFileSync(join(dir, old), '{"v":1,"id":"old"}\n');
    writeFileSync(join(dir, recent), '{"v":1,"id":"recent"}\n');
    const offsetFile = join(work, 'faketime.rc');
    writeFileSync(offsetFile, '+0\n');
    const port = await closedPort();
    const agent = new Agent(['-i', 'lo', '--filter', `tcp port ${port}`, '-l', dir, '--summary-interval', '1', '--summary-format', 'json'], {
      env: {
        LD_PRELOAD: LIBFAKETIME,
        FAKETIME_TIMESTAMP_FILE: offsetFile,
        FAKETIME_NO_CACHE: '1',
        // libuv's timers run on the monotonic clock: leave it real.
        FAKETIME_DONT_FAKE_MONOTONIC: '1',
      },
    });
    try {
      await waitUntil(() => agent.logs.some((l) => l['msg'] === 'capturing'), 30_000, 'the agent to capture');
      const written = (): number => Number(agent.lastLocalLog()?.['written'] ?? 0);
      const phase = async (offset: string, expected: number): Promise<void> => {
        writeFileSync(offsetFile, `${offset}\n`);
        await new Promise((r) => setTimeout(r, 300));
        const n = await refuse(port, 10, 2);
        assert.equal(n, 10);
        await waitUntil(() => written() >= expected, 15_000, `events written with the clock at ${offset}`);
      };
      // Act
      await phase('+0', 10);
      await phase('-2d', 20);
      await phase('+3d', 30);
      await phase('+0', 40);
      const exit = await agent.stop();
      // Assess
      assert.equal(exit.code, 0, agent.stderr);
      const today = logFileName(realStart);
      const ahead = logFileName(realStart + 3 * DAY);
      const files = readdirSync(dir).filter((n) => n.startsWith('errors_')).sort();
      assert.deepEqual(files, [recent, today, ahead], 'the expired file removed, the recent one kept, nothing written before today');
      const { lines } = readLogDir(dir);
      const events = lines.filter((l) => typeof l['time'] === 'string');
      // 40 refused connections; after the clock came back from +3 days the flow table (its timers run on
      // the process clock, the packets on the kernel's) may call one a reset plus an unanswered SYN instead.
      assert.ok(events.length >= 40, `events ${events.length}`);
      // Event time is packet time: the kernel's stamps, never shifted by the days the process's clock jumped.
      const realEnd = Date.now();
      for (const e of events) {
        const ms = Date.parse(String(e['time']));
        assert.ok(ms >= realStart - 1000 && ms <= realEnd + 10_000, `event time ${String(e['time'])} is the packet's, not the jumped clock's (real ${new Date(realStart).toISOString()}..${new Date(realEnd).toISOString()})`);
      }
      // Shipping from the start: each batch sorted, inside CloudWatch's window, every event once.
      const reader = new LogReader(dir, START_CURSOR);
      const window = acceptWindow(realEnd, 14 * DAY, 2 * 3_600_000, 60_000);
      const shipped: string[] = [];
      for (;;) {
        const batch = await buildBatch(reader, window, realEnd, { ...PUT_LOG_EVENTS_LIMITS, maxEvents: 7 });
        if (batch === undefined) break;
        const ts = batch.events.map((e) => e.timestamp);
        assert.deepEqual(ts, [...ts].sort((a, b) => a - b), 'a batch is in time order');
        for (const e of batch.events) {
          assert.ok(e.timestamp >= window.oldestMs && e.timestamp <= window.newestMs);
          shipped.push(String((JSON.parse(e.message) as { id: string }).id));
        }
      }
      await reader.close();
      const expected = events.map((l) => String(l['id']));
      assert.deepEqual(shipped.filter((id) => expected.includes(id)).sort(), [...expected].sort());
      t.diagnostic(`files ${files.join(', ')}; ${events.length} events, ${shipped.length} shipped in time-ordered batches`);
    } finally {
      await agent.stop(2000);
    }
  });
});
