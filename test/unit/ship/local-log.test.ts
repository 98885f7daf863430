import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventFactory } from '../../../agent/events/event-factory.js';
import { EventType } from '../../../agent/events/schema.js';
import { LocalLog, LocalLogError, logFileName, TORN_LINE_MARK, type LossReason } from '../../../agent/ship/local-log.js';

const DAY = 86_400_000;
const events = new EventFactory();
const ev = (n: number) => events.create(EventType.TCP_ERROR, 'reset_by_target', `Connection reset #${n}`, 1_771_147_815_000_000 + n);

const made: string[] = [];
/** A fresh directory, removed after the file's tests (also those a test leaves behind on failure). */
function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lbta-log-'));
  made.push(dir);
  return dir;
}
after(() => {
  for (const dir of made) {
    try {
      chmodSync(dir, 0o700);
    } catch {
      /* already gone */
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('local event log', () => {
  test('writes one JSON object per line into errors_YYYY-MM-DD.log of the UTC write date', () => {
    // Prepare
    const dir = tmp();
    const now = Date.UTC(2026, 1, 15, 23, 59, 59);
    const log = new LocalLog({ dir, retentionDays: 7, now: () => now });
    // Act
    log.emit(ev(1));
    log.emit(ev(2));
    log.close();
    // Assess
    const text = readFileSync(join(dir, 'errors_2026-02-15.log'), 'utf8');
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { message: string; v: number });
    assert.deepEqual(lines.map((l) => l.message), ['Connection reset #1', 'Connection reset #2']);
    assert.ok(text.endsWith('\n'));
    assert.equal(log.stats().written, 2);
    rmSync(dir, { recursive: true });
  });

  test('moves to the next file when the UTC date changes', () => {
    const dir = tmp();
    let now = Date.UTC(2026, 1, 15, 23, 59, 59);
    const log = new LocalLog({ dir, retentionDays: 7, now: () => now });
    log.emit(ev(1));
    log.flush();
    now += 2000;
    log.emit(ev(2));
    log.close();
    assert.deepEqual(readdirSync(dir).sort(), ['errors_2026-02-15.log', 'errors_2026-02-16.log']);
    rmSync(dir, { recursive: true });
  });

  test('removes files older than the retention and keeps the rest', () => {
    // Prepare
    const dir = tmp();
    const now = Date.UTC(2026, 1, 15, 12);
    for (const d of [0, 6, 7, 8, 30]) writeFileSync(join(dir, logFileName(now - d * DAY)), '{}\n');
    writeFileSync(join(dir, 'unrelated.txt'), 'keep me');
    const log = new LocalLog({ dir, retentionDays: 7, now: () => now });
    // Act
    const removed = log.removeExpired();
    // Assess
    assert.equal(removed, 2);
    assert.deepEqual(readdirSync(dir).sort(), ['errors_2026-02-08.log', 'errors_2026-02-09.log', 'errors_2026-02-15.log', 'unrelated.txt']);
    rmSync(dir, { recursive: true });
  });

  test('a line torn by a crash is closed before the next event, so no event is swallowed', () => {
    const dir = tmp();
    const now = Date.UTC(2026, 1, 15, 12);
    writeFileSync(join(dir, logFileName(now)), '{"v":1,"id":"A"}\n{"v":1,"id":"tor');
    const log = new LocalLog({ dir, retentionDays: 7, now: () => now });
    log.emit(ev(3));
    log.close();
    const lines = readFileSync(join(dir, logFileName(now)), 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[1], `{"v":1,"id":"tor${TORN_LINE_MARK}`);
    assert.equal(log.stats().torn_lines, 1);
    assert.equal((JSON.parse(lines[2] ?? '') as { message: string }).message, 'Connection reset #3');
    rmSync(dir, { recursive: true });
  });

  test('creates a missing directory', () => {
    const dir = join(tmp(), 'a', 'b');
    const log = new LocalLog({ dir, retentionDays: 7 });
    log.close();
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a directory it cannot write is a clear start-up error naming it and the fix', (t) => {
    if (process.getuid?.() === 0) {
      // root writes anywhere; a path under a regular file can never be a directory.
      const file = join(tmp(), 'file');
      writeFileSync(file, '');
      assert.throws(() => new LocalLog({ dir: join(file, 'logs'), retentionDays: 7 }), (e: unknown) =>
        e instanceof LocalLogError && e.message.includes(join(file, 'logs')) && /-l DIR/.test(e.message));
      return;
    }
    const dir = tmp();
    chmodSync(dir, 0o500);
    t.after(() => chmodSync(dir, 0o700));
    assert.throws(() => new LocalLog({ dir, retentionDays: 7 }), /not writable/);
  });

  test('when the disk refuses, events wait in a bounded buffer, overflow is counted, and writing resumes', () => {
    // Prepare: a directory that disappears under the log makes every write fail.
    const dir = tmp();
    const now = Date.UTC(2026, 1, 15, 12);
    const log = new LocalLog({ dir, retentionDays: 7, maxPendingBytes: 2000, now: () => now });
    rmSync(dir, { recursive: true });
    // Act
    for (let i = 0; i < 20; i++) log.emit(ev(i));
    log.flush();
    const during = log.stats();
    // Assess
    assert.ok(during.write_errors >= 1);
    assert.ok(during.pending > 0);
    assert.ok(during.lost > 0);
    assert.equal(during.pending + during.lost, 20);
    // Space returns
    mkdirSync(dir);
    log.flush();
    const after = log.stats();
    assert.equal(after.pending, 0);
    assert.equal(after.written, during.pending);
    log.close();
    rmSync(dir, { recursive: true });
  });
  test('the flush timer runs only while something waits: an idle log sets none, an event is on disk within a second', async (t) => {
    // Prepare: setTimeout watched (and still run).
    const dir = tmp();
    const log = new LocalLog({ dir, retentionDays: 7, now: () => Date.UTC(2026, 1, 15, 12) });
    const set = t.mock.method(globalThis, 'setTimeout');
    const flushTimers = (): number => set.mock.calls.filter((c) => c.arguments[1] === 1000).length;
    // Act
    log.start();
    const idle = flushTimers();
    log.emit(ev(1));
    log.emit(ev(2));
    const waiting = flushTimers();
    await new Promise((r) => setTimeout(r, 1300));
    const written = log.stats().written;
    const after = flushTimers();
    log.close();
    // Assess
    assert.equal(idle, 0, 'nothing waits: no flush timer');
    assert.equal(waiting, 1, 'one flush timer for the lines waiting');
    assert.equal(written, 2, 'the lines reached the disk from the timer');
    assert.equal(after, 1, 'no new flush timer once nothing waits');
    assert.equal(readFileSync(join(dir, 'errors_2026-02-15.log'), 'utf8').split('\n').filter(Boolean).length, 2);
  });

  test('while the disk refuses, emitting does not retry per event: only the timer (flush) retries', () => {
    // Prepare: the directory vanishes, so every open fails.
    const dir = tmp();
    const log = new LocalLog({ dir, retentionDays: 7, maxPendingBytes: 4 * 1024 * 1024, now: () => Date.UTC(2026, 1, 15, 12) });
    rmSync(dir, { recursive: true });
    log.flush();
    log.emit(ev(0));
    log.flush();
    const errorsBefore = log.stats().write_errors;
    // Act: well past the 256 KiB that normally triggers a write from emit().
    for (let i = 0; i < 3000; i++) log.emit(ev(i));
    // Assess
    assert.equal(log.stats().write_errors, errorsBefore);
    assert.equal(log.stats().failing, true);
    assert.ok(log.stats().pending_bytes > 256 * 1024);
    log.close();
  });

  test('overflow is counted, warned about once per interval, and reported as one event when writing works again', () => {
    // Prepare
    const dir = tmp();
    let now = Date.UTC(2026, 1, 15, 12);
    const warnings: Array<Record<string, unknown>> = [];
    const infos: string[] = [];
    const logger = { warn: (o: object) => warnings.push(o as Record<string, unknown>), info: (_o: object, m?: string) => infos.push(m ?? '') };
    const reports: Array<[LossReason, number]> = [];
    const log = new LocalLog({
      dir, retentionDays: 7, maxPendingBytes: 3000, now: () => now, logger, warnIntervalMs: 60_000,
      lossEvent: (reason, count, detail) => {
        reports.push([reason, count]);
        return events.create(EventType.CAPTURE_LOSS, `local_log_${reason}`, `${count} events lost (${detail.lastError ?? ''})`, now * 1000, { lost: count });
      },
    });
    rmSync(dir, { recursive: true });
    // Act: 40 seconds of a refusing disk, 50 events a second, a flush (the timer) each second.
    for (let s = 0; s < 40; s++) {
      for (let i = 0; i < 50; i++) log.emit(ev(s * 50 + i));
      log.flush();
      now += 1000;
    }
    const during = log.stats();
    mkdirSync(dir);
    log.flush();
    const after = log.stats();
    log.close();
    // Assess
    assert.ok(during.lost > 1900, `lost ${during.lost}`);
    assert.ok(during.pending_bytes <= 3000);
    assert.equal(during.pending + during.lost, 2000);
    const lostWarnings = warnings.filter((w) => 'lostTotal' in w);
    const writeWarnings = warnings.filter((w) => !('lostTotal' in w));
    assert.equal(lostWarnings.length, 1, 'one warning about lost events in 40 s with a 60 s interval');
    assert.equal(writeWarnings.length, 1, 'one warning about the refusing disk');
    assert.deepEqual(reports, [['overflow', during.lost]]);
    assert.ok(infos.includes('local log writable again'));
    assert.equal(after.pending, 0);
    assert.equal(after.failing, false);
    const lines = readFileSync(join(dir, logFileName(now)), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, during.pending + 1);
    const report = lines.at(-1);
    assert.equal(report?.['reason'], 'local_log_overflow');
    assert.equal(report?.['lost'], during.lost);
    rmSync(dir, { recursive: true });
  });

  test('a line torn by the previous process is closed at start, counted and reported once', () => {
    // Prepare: yesterday's file ends torn; the restart happens today.
    const dir = tmp();
    const now = Date.UTC(2026, 1, 16, 0, 5);
    writeFileSync(join(dir, logFileName(now - DAY)), '{"v":1,"id":"A"}\n{"v":1,"id":"B","lb":{"type":"ALB"}');
    const reports: Array<[LossReason, number]> = [];
    const log = new LocalLog({
      dir, retentionDays: 7, now: () => now,
      lossEvent: (reason, count) => {
        reports.push([reason, count]);
        return events.create(EventType.CAPTURE_LOSS, `local_log_${reason}`, `${count} torn`, now * 1000, { lost: count });
      },
    });
    // Act
    log.start();
    log.emit(ev(1));
    log.close();
    // Assess
    const old = readFileSync(join(dir, logFileName(now - DAY)), 'utf8');
    assert.ok(old.endsWith(`"ALB"}${TORN_LINE_MARK}\n`), old);
    assert.equal(log.stats().torn_lines, 1);
    assert.deepEqual(reports, [['torn', 1]]);
    const today = readFileSync(join(dir, logFileName(now)), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { reason: string });
    assert.deepEqual(today.map((e) => e.reason), ['local_log_torn', 'reset_by_target']);
    rmSync(dir, { recursive: true });
  });

  test('after the clock jumps back a day, writing goes on in the newest file, never an older one', () => {
    // Prepare
    const dir = tmp();
    let now = Date.UTC(2026, 1, 15, 0, 0, 30);
    const log = new LocalLog({ dir, retentionDays: 7, now: () => now });
    log.emit(ev(1));
    log.flush();
    // Act: NTP steps the clock back 36 hours, then forward again past the original time.
    now -= 36 * 3600_000;
    log.emit(ev(2));
    log.flush();
    log.close();
    const restarted = new LocalLog({ dir, retentionDays: 7, now: () => now });
    restarted.emit(ev(3));
    restarted.flush();
    now += 72 * 3600_000;
    restarted.emit(ev(4));
    restarted.close();
    // Assess
    assert.deepEqual(readdirSync(dir).sort(), ['errors_2026-02-15.log', 'errors_2026-02-16.log']);
    const msgs = (f: string) => readFileSync(join(dir, f), 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { message: string }).message);
    assert.deepEqual(msgs('errors_2026-02-15.log'), ['Connection reset #1', 'Connection reset #2', 'Connection reset #3']);
    assert.deepEqual(msgs('errors_2026-02-16.log'), ['Connection reset #4']);
    rmSync(dir, { recursive: true });
  });

  test('retention: a forward clock jump deletes nothing recent; the current and future-dated files are never removed', () => {
    // Prepare: files of the last 3 days, one dated in the future (an earlier run with the clock ahead).
    const dir = tmp();
    const start = Date.UTC(2026, 1, 15, 12);
    for (const d of [-2, -1, 0, 3]) writeFileSync(join(dir, logFileName(start + d * DAY)), '{}\n');
    let wall = start;
    let mono = 1000;
    const log = new LocalLog({ dir, retentionDays: 7, now: () => wall, monotonicNow: () => mono });
    // Act: the wall clock leaps 30 days ahead after 10 real minutes.
    mono += 600_000;
    wall += 30 * DAY;
    const afterJump = log.removeExpired();
    // ...and back: 20 real days later the oldest two are due (day -2 and -1 end before 20 - 7 days).
    wall = start + 20 * DAY;
    mono += 20 * DAY;
    const later = log.removeExpired();
    // Assess
    assert.equal(afterJump, 0);
    assert.equal(later, 3);
    assert.deepEqual(readdirSync(dir).sort(), [logFileName(start + 3 * DAY)]);
    log.close();
    rmSync(dir, { recursive: true });
  });

  test('retention: a clock step that persists for a day is taken as a correction and trusted', () => {
    // Prepare: the agent started with its clock 30 days behind; NTP then corrects it.
    const dir = tmp();
    const real = Date.UTC(2026, 1, 15, 12);
    for (const d of [-20, -1]) writeFileSync(join(dir, logFileName(real + d * DAY)), '{}\n');
    let wall = real - 30 * DAY;
    let mono = 0;
    const log = new LocalLog({ dir, retentionDays: 7, now: () => wall, monotonicNow: () => mono });
    wall = real;
    mono += 3_600_000;
    // Act: hourly sweeps for a day after the correction.
    const removed: number[] = [];
    for (let h = 0; h < 26; h++) {
      removed.push(log.removeExpired());
      wall += 3_600_000;
      mono += 3_600_000;
    }
    // Assess: nothing in the first day, then the 20-day-old file.
    assert.equal(removed.slice(0, 24).reduce((a, b) => a + b, 0), 0);
    assert.equal(removed.reduce((a, b) => a + b, 0), 1);
    assert.deepEqual(readdirSync(dir), [logFileName(real - DAY)]);
    log.close();
    rmSync(dir, { recursive: true });
  });
  test('a log file removed under the writer is noticed: events wait instead of vanishing into the deleted file', () => {
    // Prepare: one event written, then the directory is removed (its file stays open in the writer).
    const dir = tmp();
    const now = Date.UTC(2026, 1, 15, 12);
    const log = new LocalLog({ dir, retentionDays: 7, now: () => now });
    log.emit(ev(1));
    log.flush();
    rmSync(dir, { recursive: true });
    // Act
    log.emit(ev(2));
    log.flush();
    const during = log.stats();
    mkdirSync(dir);
    log.flush();
    log.close();
    // Assess
    assert.equal(during.failing, true);
    assert.equal(during.pending, 1);
    assert.match(during.last_error ?? '', /ENOENT/);
    const lines = readFileSync(join(dir, logFileName(now)), 'utf8').trimEnd().split('\n');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { message: string }).message), ['Connection reset #2']);
    rmSync(dir, { recursive: true });
  });
});
