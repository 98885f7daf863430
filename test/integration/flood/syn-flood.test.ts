/**
 * A SYN flood from distinct sources through the real binary (--read of a generated
 * capture): the connection table stays at its bound and counts its evictions, the
 * legitimate clients' refusals and resets are counted exactly and each keeps its own
 * event, the flood's unanswered handshakes do not become an event storm (the rate
 * limit's summaries add up exactly), and peak RSS stays within issue 6's budget.
 *
 * CI runs 200,000 sources (FLOOD_SYNS); the 1M-source run of issue 6 is the same test:
 *   FLOOD_SYNS=1000000 node --test dist/test/integration/flood/syn-flood.test.js
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLOOD_TARGET, writeSynFlood, type SynFloodExpect } from './syn-flood-capture.js';
import { AGENT, clientsOf, readEvents, type Event } from './flood-run.js';

const SYNS = Number(process.env['FLOOD_SYNS'] ?? 200_000);
const MAX_CONNECTIONS = 100_000;
/** Issue 6: RSS during a SYN flood from 1M distinct sources. */
const FLOOD_RSS_BUDGET_MB = 150;
const GNU_TIME = '/usr/bin/time';


/** Events a log stands for, per reason: one per line, `suppressed` for a summary line. */
function represented(events: readonly Event[], reason: string): number {
  return events.filter((e) => e.reason === reason).reduce((n, e) => n + (typeof e['suppressed'] === 'number' ? e['suppressed'] : 1), 0);
}

describe(`A SYN flood from ${SYNS.toLocaleString('en-US')} distinct sources, through the real binary`, { timeout: 180_000 }, () => {
  let dir = '';
  let expect: SynFloodExpect;
  let summary: Record<string, Record<string, unknown>> = {};
  let events: Event[] = [];
  let rssMb: number | undefined;
  let seconds = 0;

  before(() => {
    // Prepare: the capture (about 1 s per million SYNs) and one run of the analyzer.
    dir = mkdtempSync(join(tmpdir(), 'lbfl-flood-'));
    const file = join(dir, 'flood.pcap');
    expect = writeSynFlood(file, { syns: SYNS });
    const logs = join(dir, 'logs');
    const args = [...AGENT, '--read', file, '-l', logs, '--summary-format', 'json', '--cloudwatch', 'off', '--max-connections', String(MAX_CONNECTIONS)];
    const timed = existsSync(GNU_TIME);
    const started = process.hrtime.bigint();
    const r = timed
      ? spawnSync(GNU_TIME, ['-f', 'peak_rss_kb=%M', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 170_000 })
      : spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 170_000 });
    seconds = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(r.status, 0, `the analyzer failed: ${r.stderr.slice(-1000)}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
    assert.ok(line, `no final summary: ${r.stdout.slice(-500)}`);
    summary = JSON.parse(line) as Record<string, Record<string, unknown>>;
    events = readEvents(logs);
    const m = /peak_rss_kb=(\d+)/.exec(r.stderr);
    rssMb = m ? Number(m[1]) / 1024 : undefined;
    process.stdout.write(`# flood: ${expect.packets} packets in ${seconds.toFixed(1)} s, peak RSS ${rssMb?.toFixed(0) ?? '?'} MB, ${events.length} event lines\n`);
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('the table stays within its bound and counts every connection and eviction', () => {
    const c = summary['connections'] as { tracked_peak: number; opened: number; evicted: number; by_state: Record<string, number> };
    assert.ok(c.tracked_peak <= MAX_CONNECTIONS, `peak ${c.tracked_peak} > ${MAX_CONNECTIONS}`);
    assert.equal(c.opened, expect.connections);
    assert.ok(c.evicted > 0, 'the fast phase fills the table: evictions are counted');
    assert.equal(c.by_state['S0'], expect.floodSyns - expect.cookies, 'every unanswered flood SYN ends as S0');
    assert.equal(c.by_state['REJ'], expect.refused);
    assert.equal(c.by_state['RSTR'], expect.resets);
  });

  it('refusals and resets of the legitimate clients are exact, each with its own event', () => {
    const e = summary['tcp_errors'] as Record<string, number>;
    assert.equal(e['refused'], expect.refused);
    assert.equal(e['resets_by_target'], expect.resets);
    assert.equal(e['resets_by_peer'], 0);
    assert.deepEqual(clientsOf(events, 'refused', FLOOD_TARGET), [...expect.refusedClients].sort());
    assert.deepEqual(clientsOf(events, 'reset_by_target', FLOOD_TARGET), [...expect.resetClients].sort());
  });

  it('the flood is not an event storm, and the summaries add up to the exact counters', () => {
    const e = summary['tcp_errors'] as Record<string, number>;
    const unanswered = e['unanswered'] ?? 0;
    const abandoned = e['handshake_abandoned'] ?? 0;
    assert.ok(unanswered > SYNS / 10, `the slow phase times out: ${unanswered} unanswered`);
    assert.ok(abandoned > 0, 'SYN-cookie answers never acknowledged are abandoned handshakes');
    assert.equal(represented(events, 'unanswered'), unanswered);
    assert.equal(represented(events, 'handshake_abandoned'), abandoned);
    // 50 per second per reason at most, plus one summary per second and reason.
    const seconds = Math.ceil(expect.durationMicros / 1e6) + 4;
    const bound = seconds * (50 + 1) * 4;
    assert.ok(events.length <= bound, `${events.length} event lines > ${bound}`);
  });

  it(`peak RSS stays within ${FLOOD_RSS_BUDGET_MB} MB`, (t) => {
    if (rssMb === undefined) { t.skip(`${GNU_TIME} is not installed (Debian package "time"): peak RSS not measured`); return; }
    assert.ok(rssMb <= FLOOD_RSS_BUDGET_MB, `peak RSS ${rssMb.toFixed(0)} MB`);
  });
});
