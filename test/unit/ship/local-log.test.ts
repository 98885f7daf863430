import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventFactory } from '../../../agent/events/event-factory.js';
import { EventType } from '../../../agent/events/schema.js';
import { LocalLog, LocalLogError, logFileName } from '../../../agent/ship/local-log.js';

const DAY = 86_400_000;
const events = new EventFactory();
const ev = (n: number) => events.create(EventType.TCP_ERROR, 'reset_by_target', `Connection reset #${n}`, 1_771_147_815_000_000 + n);

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'lbta-log-'));
}

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
    assert.equal(lines[1], '{"v":1,"id":"tor');
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
});
