import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptWindow, buildBatch, PUT_LOG_EVENTS_LIMITS } from '../../../agent/ship/cloudwatch-batch.js';
import { START_CURSOR } from '../../../agent/ship/cursor.js';
import { TORN_LINE_MARK } from '../../../agent/ship/local-log.js';
import { countLinesAfter, LogReader } from '../../../agent/ship/log-reader.js';

const F = 'errors_2026-02-15.log';
const G = 'errors_2026-02-16.log';
const HOUR = 3_600_000;
const ev = (id: string, ms = Date.UTC(2026, 1, 15, 12)) => JSON.stringify({ v: 1, id, time: new Date(ms).toISOString(), type: 'TCP_ERROR', reason: 'x', message: 'm' });

async function drain(r: LogReader): Promise<Array<{ text: string; endOffset: number; file: string }>> {
  const out: Array<{ text: string; endOffset: number; file: string }> = [];
  for (let l = await r.next(); l !== undefined; l = await r.next()) out.push({ text: l.text, endOffset: l.endOffset, file: l.file });
  await r.close();
  return out;
}

describe('local log reader: torn lines and cursors', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbta-reader-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('never returns a line closed as torn, counts it, and moves the cursor past it with the next line', async () => {
    // Prepare: torn right after an inner '}' — still recognised by the mark.
    const torn = `{"v":1,"id":"B","lb":{"type":"ALB"}${TORN_LINE_MARK}`;
    writeFileSync(join(dir, F), `${ev('A')}\n${torn}\n${ev('C')}\n`);
    // Act
    const r = new LogReader(dir, START_CURSOR);
    const lines = await drain(r);
    // Assess
    assert.deepEqual(lines.map((l) => (JSON.parse(l.text) as { id: string }).id), ['A', 'C']);
    assert.equal(lines[1]?.endOffset, ev('A').length + 1 + torn.length + 1 + ev('C').length + 1);
    assert.equal(r.anomalies.tornLines, 1);
  });

  test('recognises the mark whatever the chunk size, and the pending count leaves torn lines out', async () => {
    // Prepare
    const text = `${ev('A')}\nxx${TORN_LINE_MARK}\n${ev('C')}\n{"v":1${TORN_LINE_MARK}\n`;
    writeFileSync(join(dir, F), text);
    for (const chunk of [1, 2, 3, 5, 6, 7, 64]) {
      // Act
      const r = new LogReader(dir, START_CURSOR, { chunkBytes: chunk });
      const lines = await drain(r);
      const pending = await countLinesAfter(dir, START_CURSOR, chunk);
      // Assess
      assert.equal(lines.length, 2, `chunk ${chunk}`);
      assert.equal(r.anomalies.tornLines, 2, `chunk ${chunk}`);
      assert.equal(pending, 2, `chunk ${chunk}`);
    }
  });

  test('a torn last line is not returned; the line written after it is, with the cursor past both', async () => {
    // Prepare: the restarted writer closed the torn tail; nothing new yet.
    const head = `${ev('A')}\n{"v":1,"id":"B"${TORN_LINE_MARK}\n`;
    writeFileSync(join(dir, F), head);
    const r = new LogReader(dir, START_CURSOR);
    const first = await drain(r);
    const pendingBefore = await countLinesAfter(dir, { file: F, offset: ev('A').length + 1, lastId: 'A' });
    // Act
    appendFileSync(join(dir, F), `${ev('C')}\n`);
    const second = await drain(new LogReader(dir, { file: F, offset: ev('A').length + 1, lastId: 'A' }));
    // Assess
    assert.equal(first.length, 1);
    assert.equal(pendingBefore, 0, 'a torn line alone does not look pending forever');
    assert.deepEqual(second.map((l) => l.endOffset), [head.length + ev('C').length + 1]);
  });

  test('a start cursor in the middle of a line moves back to that line: the event is sent again, never cut in two', async () => {
    // Prepare
    writeFileSync(join(dir, F), `${ev('A')}\n${ev('B')}\n${ev('C')}\n`);
    const midB = ev('A').length + 1 + 10;
    // Act
    const r = new LogReader(dir, { file: F, offset: midB, lastId: 'A' }, { chunkBytes: 8 });
    const lines = await drain(r);
    // Assess
    assert.deepEqual(lines.map((l) => (JSON.parse(l.text) as { id: string }).id), ['B', 'C']);
    assert.equal(r.anomalies.cursorRealigned, 1);
  });

  test('a start cursor inside an over-long line skips the rest of that line as oversized', async () => {
    // Prepare
    writeFileSync(join(dir, F), `${'x'.repeat(5000)}\n${ev('B')}\n`);
    // Act
    const r = new LogReader(dir, { file: F, offset: 4000, lastId: undefined }, { chunkBytes: 512, maxLineBytes: 1024 });
    const first = await r.next();
    const second = await r.next();
    await r.close();
    // Assess
    assert.equal(first?.oversized, true);
    assert.equal(first?.endOffset, 5001);
    assert.equal((JSON.parse(second?.text ?? '{}') as { id: string }).id, 'B');
  });

  test('packet times that jump back and forth: every batch is in time order, within 24 h, and events too far ahead are counted, not sent', async () => {
    // Prepare: the host clock (and so the kernel's packet stamps) jumped back 3 hours, forward 30 hours, and back.
    const now = Date.UTC(2026, 1, 16, 12);
    const t0 = now - 6 * HOUR;
    const times = [t0, t0 + 1000, t0 - 3 * HOUR, t0 - 3 * HOUR + 1000, t0 + 30 * HOUR, t0 + 2000, t0 + 3000, t0 - 26 * HOUR, t0 + 4000];
    writeFileSync(join(dir, F), times.slice(0, 5).map((ms, i) => ev(`e${i}`, ms)).join('\n') + '\n');
    writeFileSync(join(dir, G), times.slice(5).map((ms, i) => ev(`e${i + 5}`, ms)).join('\n') + '\n');
    const window = acceptWindow(now, 14 * 24 * HOUR, 2 * HOUR, 60_000);
    const reader = new LogReader(dir, START_CURSOR);
    // Act
    const batches = [];
    for (let b = await buildBatch(reader, window, now, { ...PUT_LOG_EVENTS_LIMITS, maxEvents: 4 }); b; b = await buildBatch(reader, window, now, { ...PUT_LOG_EVENTS_LIMITS, maxEvents: 4 })) {
      batches.push(b);
    }
    await reader.close();
    // Assess
    const sent = batches.flatMap((b) => b.events.map((e) => (JSON.parse(e.message) as { id: string }).id));
    for (const b of batches) {
      const ts = b.events.map((e) => e.timestamp);
      assert.deepEqual(ts, [...ts].sort((a, c) => a - c));
      if (ts.length > 0) assert.ok(Math.max(...ts) - Math.min(...ts) <= 24 * HOUR);
    }
    assert.deepEqual(sent.sort(), ['e0', 'e1', 'e2', 'e3', 'e5', 'e6', 'e7', 'e8']);
    assert.equal(batches.reduce((a, b) => a + b.skipped.tooNew, 0), 1, 'the event stamped 24 h ahead is counted and kept locally');
  });
});
