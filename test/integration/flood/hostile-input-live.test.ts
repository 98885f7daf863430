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
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { netnsUnavailableReason, run, TestNetwork, waitFor } from '../../helpers/netns.js';
import { ANSWERED, MAX_CONNECTIONS, REFUSED, RESETS, writeHostileCapture } from './hostile-capture.js';

const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url));
const NS = 'lbfl-hst';
const TARGET_IF = 'lbflh0';
const PEER_IF = 'lbflh1';
/** Frames per second of the replay: the whole capture (~27k frames) in about 2 s. */
const PPS = 15_000;

type Event = Record<string, unknown> & { type: string; reason: string };
type Json = Record<string, Record<string, unknown>>;

function missingTool(): string | undefined {
  const why = netnsUnavailableReason();
  if (why !== undefined) return why;
  if (spawnSync('tcpreplay', ['--version']).error !== undefined) return 'tcpreplay is not installed: scripts/setup.sh --test installs it';
  return undefined;
}

function readEvents(dir: string): Event[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^errors_.*\.log$/.test(n))
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Event);
}

describe('Hostile input replayed through the live pipeline: bounds hold and exact counts survive', { timeout: 120_000 }, () => {
  const skip = missingTool();
  const net = new TestNetwork();
  let dir = '';
  let code: number | null = null;
  let stderr = '';
  let summary: Json = {};
  let events: Event[] = [];
  let frames = 0;

  before(async () => {
    if (skip !== undefined) return;
    // Prepare: the capture, a veth pair, the analyzer on the target end.
    dir = mkdtempSync(join(tmpdir(), 'lbfl-hst-'));
    const file = join(dir, 'hostile.pcap');
    writeHostileCapture(file);
    frames = spawnSync('tcpdump', ['-r', file], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.split('\n').filter((l) => l !== '').length;
    net.addNamespace(NS);
    net.addVeth({ nameA: TARGET_IF, nameB: PEER_IF, nsB: NS, addrA: '198.18.48.1/24', addrB: '198.18.48.2/24' });
    run('sysctl', ['-qw', `net.ipv6.conf.${TARGET_IF}.disable_ipv6=1`], { allowFail: true });
    net.exec(NS, 'sysctl', ['-qw', `net.ipv6.conf.${PEER_IF}.disable_ipv6=1`], { allowFail: true });
    const logs = join(dir, 'logs');
    const agent = spawn(process.execPath, [MAIN, '-i', TARGET_IF, '-l', logs, '--summary-format', 'json', '--summary-interval', '0',
      '--cloudwatch', 'off', '--max-connections', String(MAX_CONNECTIONS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    agent.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    agent.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => agent.on('exit', (c) => resolve(c)));
    try {
      await waitFor(() => stdout.includes('"msg":"capturing"'), 20_000, 'the agent to start capturing');
      // Act: the whole capture once, at a fixed rate (bounded by its frame count).
      net.exec(NS, 'tcpreplay', ['-q', '-i', PEER_IF, '--pps', String(PPS), file]);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      agent.kill('SIGTERM');
    }
    code = await exited;
    const line = stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
    summary = line !== undefined ? (JSON.parse(line) as Json) : {};
    events = readEvents(logs);
  });
  after(() => {
    net.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('nothing throws: exit 0, a final summary, every frame analysed, no stack trace', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    assert.equal(code, 0, stderr.slice(-1000));
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    assert.equal(summary['capture']?.['dropped'], 0, 'kernel drops');
    assert.equal(summary['totals']?.['packets'], frames);
  });

  it('the connection table stays at its bound and counts its evictions', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    const c = summary['connections'] as { tracked_peak: number; evicted: number };
    assert.ok(c.tracked_peak <= MAX_CONNECTIONS, `peak ${c.tracked_peak}`);
    assert.ok(c.evicted > 0);
  });

  it('refusals and resets are exact, each with its own event', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    const e = summary['tcp_errors'] as Record<string, number>;
    assert.equal(e['refused'], REFUSED);
    assert.equal(e['resets_by_target'], RESETS);
    assert.equal(events.filter((x) => x.reason === 'refused').length, REFUSED);
    assert.equal(events.filter((x) => x.reason === 'reset_by_target').length, RESETS);
  });

  it('every hostile request is matched to its 200, and the 10,000-entry list is a loop', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    const h = summary['http_errors'] as { status_classes: Record<string, number>; orphan_responses: number; heads_too_large: number };
    assert.equal(h.status_classes['2xx'], ANSWERED, JSON.stringify(h));
    assert.equal(h.orphan_responses, 0);
    assert.equal(h.heads_too_large, 2, 'the 64 KB block and the long list');
    assert.ok(events.some((e) => e.reason === 'xff_too_long'));
    assert.equal(summary['tcp_errors']?.['out_of_window_segments'], 1, 'the forged segment');
  });
});
