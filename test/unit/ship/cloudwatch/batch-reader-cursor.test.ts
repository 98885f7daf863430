import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { acceptWindow, buildBatch, PUT_LOG_EVENTS_LIMITS, type BatchLimits } from '../../../../agent/ship/cloudwatch-batch.js';
import { classifyAwsError, fullJitterDelay, LogOnce, sleep } from '../../../../agent/ship/cloudwatch-retry.js';
import { CursorStore, parseCursor, START_CURSOR } from '../../../../agent/ship/cursor.js';
import { countLinesAfter, LogReader } from '../../../../agent/ship/log-reader.js';

const F = 'errors_2026-01-01.log';
const G = 'errors_2026-01-02.log';
const ev = (id: string, ms: number, extra = '') => JSON.stringify({ v: 1, id, time: new Date(ms).toISOString(), type: 'TCP_ERROR', reason: 'x', message: 'm' + extra });

describe('local log reader, batch builder, cursor and retry policy', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbta-cloud-batch-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reader returns only complete lines, waits for the newline of a line being written, then continues', async () => {
    // Prepare
    writeFileSync(join(dir, F), 'a\nb\npart');
    const r = new LogReader(dir, START_CURSOR, { chunkBytes: 3 });
    // Act
    const first = [await r.next(), await r.next(), await r.next()];
    appendFileSync(join(dir, F), 'ial\n');
    const later = await r.next();
    // Assess
    assert.deepEqual(first.map((l) => l?.text), ['a', 'b', undefined]);
    assert.deepEqual(later, { file: F, endOffset: 12, text: 'partial', oversized: false });
    await r.close();
  });

  it('reader moves to the next daily file, delivering an unterminated tail of the old one, and skips a removed file', async () => {
    // Prepare
    writeFileSync(join(dir, F), 'a\ntail');
    writeFileSync(join(dir, G), 'c\n');
    const r = new LogReader(dir, START_CURSOR);
    // Act
    const lines = [await r.next(), await r.next(), await r.next(), await r.next()];
    const fromRemoved = new LogReader(dir, { file: 'errors_2025-12-31.log', offset: 99, lastId: undefined });
    const firstAfterRemoved = await fromRemoved.next();
    // Assess
    assert.deepEqual(lines.map((l) => l && `${l.file}:${l.text}:${l.endOffset}`), [`${F}:a:2`, `${F}:tail:6`, `${G}:c:2`, undefined]);
    assert.equal(firstAfterRemoved?.text, 'a');
    await r.close();
    await fromRemoved.close();
  });

  it('reader resumes at a cursor and restarts a file that became shorter than the cursor', async () => {
    // Prepare
    writeFileSync(join(dir, F), 'a\nb\nc\n');
    // Act
    const r = new LogReader(dir, { file: F, offset: 4, lastId: undefined });
    const resumed = await r.next();
    await r.close();
    const shrunk = new LogReader(dir, { file: F, offset: 100, lastId: undefined });
    const restarted = await shrunk.next();
    // Assess
    assert.equal(resumed?.text, 'c');
    assert.equal(restarted?.text, 'a');
    assert.equal(shrunk.anomalies.truncatedFiles, 1);
    await shrunk.close();
  });

  it('reader reports an over-long line as oversized without keeping its bytes', async () => {
    // Prepare
    writeFileSync(join(dir, F), 'x'.repeat(5000) + '\nok\n');
    const r = new LogReader(dir, START_CURSOR, { chunkBytes: 512, maxLineBytes: 1024 });
    // Act
    const big = await r.next();
    const ok = await r.next();
    // Assess
    assert.deepEqual(big, { file: F, endOffset: 5001, text: '', oversized: true });
    assert.equal(ok?.text, 'ok');
    await r.close();
  });

  it('counts the lines after the cursor across files (EventsPending)', async () => {
    // Prepare
    writeFileSync(join(dir, F), 'a\nb\nc\n');
    writeFileSync(join(dir, G), 'd\n');
    // Act
    const n = await countLinesAfter(dir, { file: F, offset: 2, lastId: undefined }, 2);
    // Assess
    assert.equal(n, 3);
  });

  it('batch stops at the event count, the byte limit (26 bytes per event) and the 24-hour span', async () => {
    // Prepare
    const now = Date.UTC(2026, 0, 2);
    const lines = Array.from({ length: 10 }, (_, i) => ev(`e${i}`, now - 1000 + i));
    writeFileSync(join(dir, F), lines.join('\n') + '\n');
    const size = Buffer.byteLength(lines[0]!) + 26;
    const window = acceptWindow(now, 14 * 86400_000, 2 * 3600_000, 0);
    const limited = (l: Partial<BatchLimits>) => ({ ...PUT_LOG_EVENTS_LIMITS, ...l });
    // Act
    const byCount = await buildBatch(new LogReader(dir, START_CURSOR), window, now, limited({ maxEvents: 4 }));
    const byBytes = await buildBatch(new LogReader(dir, START_CURSOR), window, now, limited({ maxBytes: size * 3 + 5 }));
    writeFileSync(join(dir, G), [ev('s0', now - 25 * 3600_000), ev('s1', now)].join('\n') + '\n');
    const spanReader = new LogReader(dir, { file: G, offset: 0, lastId: undefined });
    const bySpan = await buildBatch(spanReader, window, now);
    const rest = await buildBatch(spanReader, window, now);
    // Assess
    assert.equal(byCount?.events.length, 4);
    assert.equal(byBytes?.events.length, 3);
    assert.equal(byBytes?.bytes, size * 3);
    assert.equal(bySpan?.events.length, 1);
    assert.equal(rest?.events.length, 1);
    assert.equal(rest?.lastId, 's1');
  });

  it('batch skips (and counts) events outside the acceptance window or too large, and sends unparsable lines with a neighbour\'s time', async () => {
    // Prepare
    const now = Date.UTC(2026, 0, 2);
    writeFileSync(join(dir, F), [
      ev('old', now - 15 * 86400_000), ev('ok1', now - 10), 'not json', ev('new', now + 3 * 3600_000), ev('big', now, 'y'.repeat(300)), '',
    ].join('\n') + '\n');
    const window = acceptWindow(now, 14 * 86400_000, 2 * 3600_000, 60_000);
    // Act
    const b = await buildBatch(new LogReader(dir, START_CURSOR), window, now, { ...PUT_LOG_EVENTS_LIMITS, maxEventBytes: 200 });
    // Assess
    assert.deepEqual(b?.skipped, { tooOld: 1, tooNew: 1, tooLarge: 1 });
    assert.deepEqual(b?.events.map((e) => e.message.slice(0, 8)), [ev('ok1', 0).slice(0, 8), 'not json']);
    assert.equal(b?.events[1]?.timestamp, now - 10);
    assert.equal(b?.unparsed, 1);
    assert.equal(b?.firstSkippedId, 'old');
    assert.equal(b?.end.offset, readFileSync(join(dir, F)).length);
  });

  it('cursor is saved atomically and a malformed cursor file means "start again", with a reason', async () => {
    // Prepare
    const store = new CursorStore(join(dir, 'c.json'));
    // Act
    await store.save({ file: F, offset: 42, lastId: 'X' });
    const loaded = await store.load();
    writeFileSync(join(dir, 'c.json'), '{"file":');
    const broken = await store.load();
    unlinkSync(join(dir, 'c.json'));
    const missing = await store.load();
    // Assess
    assert.deepEqual(loaded, { cursor: { file: F, offset: 42, lastId: 'X' } });
    assert.equal(broken.cursor, START_CURSOR);
    assert.match(broken.problem ?? '', /malformed/);
    assert.deepEqual(missing, { cursor: START_CURSOR });
    assert.equal(parseCursor('{"file":"a","offset":-1}'), undefined);
  });

  it('classifies AWS errors and backs off with full jitter under the cap', async () => {
    // Act / Assess
    const e = (name: string, status?: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    assert.equal(classifyAwsError(e('ThrottlingException', 400)), 'transient');
    assert.equal(classifyAwsError(e('Whatever', 502)), 'transient');
    assert.equal(classifyAwsError(Object.assign(new Error('x'), { code: 'ECONNRESET' })), 'transient');
    assert.equal(classifyAwsError(e('ResourceNotFoundException', 400)), 'missing');
    assert.equal(classifyAwsError(e('AccessDeniedException', 400)), 'denied');
    assert.equal(classifyAwsError(e('InvalidParameterException', 400)), 'invalid');
    assert.equal(fullJitterDelay(0, { baseMs: 100, capMs: 1000 }, () => 0.999), 99);
    assert.equal(fullJitterDelay(20, { baseMs: 100, capMs: 1000 }, () => 0.5), 500);
    const ac = new AbortController();
    const slept = sleep(10_000, ac.signal);
    ac.abort();
    assert.equal(await slept, false);
    const once = new LogOnce(1000);
    assert.deepEqual([once.shouldLog('a', 0), once.shouldLog('a', 10), once.shouldLog('b', 20), once.shouldLog('b', 1100)], [true, false, true, true]);
  });
});
