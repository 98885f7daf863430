/**
 * Issue 7, faults: SIGKILL in the middle of writing the local log. On restart a
 * torn last line is closed with TORN_LINE_MARK, counted and reported (its event is
 * lost: it only existed in the killed process's memory); the writer starts on a
 * fresh line; the reader never returns the torn line; the shipping cursor only ever
 * sits just after a newline, so shipping from it sends every event, and twice only
 * what the last unacknowledged batch held (ids tell the duplicates).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventFactory } from '../../../agent/events/event-factory.js';
import { EventType } from '../../../agent/events/schema.js';
import { acceptWindow, buildBatch, PUT_LOG_EVENTS_LIMITS } from '../../../agent/ship/cloudwatch-batch.js';
import { CURSOR_FILE_NAME, CursorStore, type Cursor } from '../../../agent/ship/cursor.js';
import { logFileName, TORN_LINE_MARK } from '../../../agent/ship/local-log.js';
import { countLinesAfter, LogReader } from '../../../agent/ship/log-reader.js';
import { Agent, readLogDir, writeRefusedCapture } from './log-fixture.js';

const DAY_MICROS = 86_400_000_000;

/**
 * Ships the local log as the CloudWatch shipper does (batch, acknowledge, save the
 * cursor), `maxEvents` per batch; `crashAfter` batches are sent and then the process
 * "dies" before saving the last cursor. Returns the ids sent, in order.
 */
async function ship(dir: string, store: CursorStore, maxEvents: number, crashAfter = Number.POSITIVE_INFINITY): Promise<{ ids: string[]; torn: number }> {
  const { cursor } = await store.load();
  const reader = new LogReader(dir, cursor);
  const ids: string[] = [];
  const now = Date.now();
  const window = acceptWindow(now, 14 * 86_400_000, 2 * 3_600_000, 60_000);
  try {
    for (let batches = 0; ; batches++) {
      const batch = await buildBatch(reader, window, now, { ...PUT_LOG_EVENTS_LIMITS, maxEvents });
      if (batch === undefined) break;
      for (const e of batch.events) ids.push((JSON.parse(e.message) as { id: string }).id);
      if (batches + 1 >= crashAfter) break; // sent, acknowledged, but killed before the cursor was saved
      await store.save({ file: batch.end.file, offset: batch.end.offset, lastId: batch.lastId });
    }
  } finally {
    await reader.close();
  }
  return { ids, torn: reader.anomalies.tornLines };
}

/** The saved cursor sits at the start of the file or just after a newline, never past the end. */
function assertCursorOnLineBoundary(dir: string, c: Cursor): void {
  if (c.file === '') return;
  const data = readFileSync(join(dir, c.file));
  assert.ok(c.offset <= data.length, `cursor ${c.offset} past the end ${data.length}`);
  if (c.offset > 0) assert.equal(data[c.offset - 1], 0x0a, `cursor ${c.offset} not after a newline`);
}

describe('SIGKILL in the middle of writing the local log (real binary)', { concurrency: false }, () => {
  let work = '';
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'lbta-logfaults-crash-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('a log cut mid-line: the restart closes the torn line, writes on a fresh line, and shipping from the cursor sends each event once', { timeout: 60_000 }, async (t) => {
    // Prepare: 100 events, then half of the 101st (the process died in its write); the cursor after event 50.
    const dir = join(work, 'cut');
    mkdirSync(dir);
    const factory = new EventFactory();
    const nowMicros = Date.now() * 1000;
    const lines = Array.from({ length: 101 }, (_, i) =>
      JSON.stringify(factory.create(EventType.TCP_ERROR, 'reset_by_target', `Connection reset #${i}`, nowMicros - DAY_MICROS + i * 1000)));
    const file = logFileName(Date.now());
    const half = (lines[100] as string).slice(0, 97);
    writeFileSync(join(dir, file), `${lines.slice(0, 100).join('\n')}\n${half}`);
    const store = new CursorStore(join(dir, CURSOR_FILE_NAME));
    const at50 = Buffer.byteLength(`${lines.slice(0, 50).join('\n')}\n`);
    await store.save({ file, offset: at50, lastId: (JSON.parse(lines[49] as string) as { id: string }).id });
    const pcap = join(work, 'five.pcap');
    writeRefusedCapture(pcap, 5, 25_000, (Date.now() - 60_000) * 1000);
    // Act: the restart.
    const agent = new Agent(['--read', pcap, '-l', dir, '--summary-format', 'json']);
    const exit = await agent.exited;
    const shipped = await ship(dir, store, 7);
    const { cursor } = await store.load();
    // Assess
    assert.equal(exit.code, 0, agent.stderr);
    assert.equal(agent.lastLocalLog()?.['torn_lines'], 1);
    const text = readFileSync(join(dir, file), 'utf8');
    assert.ok(text.includes(`\n${half}${TORN_LINE_MARK}\n{`), 'the torn line is closed with the mark and the next event starts on a fresh line');
    const { lines: onDisk, torn } = readLogDir(dir);
    assert.deepEqual(torn, [`${half}${TORN_LINE_MARK}`]);
    const after50 = onDisk.slice(50).map((l) => l['id'] as string);
    assert.equal(after50.length, 50 + 1 + 5, '50 old events, the report of the torn one, 5 new');
    assert.equal(onDisk[100]?.['reason'], 'local_log_torn');
    // Batches are sorted by event time, so compare as sets (and counts, for doubles).
    assert.deepEqual([...shipped.ids].sort(), [...after50].sort(), 'every event after the cursor shipped once, the torn line never');
    assert.equal(shipped.torn, 1);
    assert.equal(cursor.offset, statSync(join(dir, file)).size);
    assertCursorOnLineBoundary(dir, cursor);
    assert.equal(await countLinesAfter(dir, cursor), 0, 'nothing looks pending once all is shipped');
    t.diagnostic(`shipped ${shipped.ids.length} events from the cursor; the torn line skipped by the reader`);
  });

  test('SIGKILL during heavy writes, three times: no torn line is shipped, the cursor stays on a line boundary, nothing lost or doubled beyond one batch', { timeout: 120_000 }, async (t) => {
    // Prepare: 20,000 events per run (about 9 MB written in 256 KiB blocks).
    const dir = join(work, 'killed');
    mkdirSync(dir);
    const pcap = join(work, 'many.pcap');
    // Packet times of the last hour: CloudWatch's window (14 days) accepts them.
    writeRefusedCapture(pcap, 20_000, 25_000, (Date.now() - 3_600_000) * 1000);
    const store = new CursorStore(join(dir, CURSOR_FILE_NAME));
    const shippedIds: string[] = [];
    const killedAt: number[] = [];
    let tailsWithoutNewline = 0;
    // Act: three runs killed at growing sizes, each followed by shipping that "crashes" before saving its last cursor.
    for (const threshold of [300_000, 1_500_000, 3_000_000]) {
      const size = (): number => readdirSync(dir).filter((n) => n.startsWith('errors_')).reduce((a, n) => a + statSync(join(dir, n)).size, 0);
      const base = size();
      const agent = new Agent(['--read', pcap, '-l', dir, '--summary-format', 'json']);
      const end = Date.now() + 60_000;
      while (size() < base + threshold && agent.child.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
      agent.child.kill('SIGKILL');
      const exit = await agent.exited;
      killedAt.push(size());
      assert.equal(exit.signal, 'SIGKILL', `the run was killed, not finished (${agent.stderr})`);
      const files = readdirSync(dir).filter((n) => n.startsWith('errors_')).sort();
      const last = readFileSync(join(dir, files.at(-1) as string));
      if (last.length > 0 && last[last.length - 1] !== 0x0a) tailsWithoutNewline++;
      const part = await ship(dir, store, 500, 3);
      shippedIds.push(...part.ids);
      assertCursorOnLineBoundary(dir, (await store.load()).cursor);
    }
    // A clean restart, then shipping to the end.
    const pcap5 = join(work, 'five-more.pcap');
    writeRefusedCapture(pcap5, 5, 25_000, (Date.now() - 60_000) * 1000);
    const last = new Agent(['--read', pcap5, '-l', dir, '--summary-format', 'json']);
    const lastExit = await last.exited;
    const rest = await ship(dir, store, 500);
    shippedIds.push(...rest.ids);
    const { cursor } = await store.load();
    // Assess
    assert.equal(lastExit.code, 0, last.stderr);
    const { lines: onDisk, torn } = readLogDir(dir);
    const ids = onDisk.map((l) => l['id'] as string);
    assert.equal(new Set(ids).size, ids.length, 'the writer never wrote an event twice');
    for (const l of torn) assert.ok(l.endsWith(TORN_LINE_MARK), `an unmarked broken line: ${l.slice(0, 80)}…`);
    const unique = new Set(shippedIds);
    assert.deepEqual([...unique].sort(), [...ids].sort(), 'every event on disk shipped, no torn line shipped');
    const doubled = shippedIds.length - unique.size;
    assert.ok(doubled <= 3 * 500, `resent ${doubled}: at most the one unacknowledged batch per crash`);
    assertCursorOnLineBoundary(dir, cursor);
    assert.equal(await countLinesAfter(dir, cursor), 0);
    const reports = onDisk.filter((l) => l['reason'] === 'local_log_torn').length;
    assert.equal(reports, torn.length, 'each torn line is reported by one event');
    t.diagnostic(`killed at ${killedAt.join(', ')} bytes; ${tailsWithoutNewline} of 3 kills tore a line (${torn.length} torn lines, each marked and reported); ` +
      `${ids.length} events on disk, ${shippedIds.length} shipped (${doubled} resent after the simulated shipper crashes)`);
  });
});
