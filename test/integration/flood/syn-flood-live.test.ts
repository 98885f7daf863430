/**
 * The SYN flood through the live pipeline: the flood capture (200,000 distinct sources,
 * SYN cookies, real clients refused and reset in between) replayed with tcpreplay onto
 * a veth pair at 100k pkt/s while the real binary captures the other end. With no
 * kernel drops, the refusals and resets of the real clients must be exact and each
 * keep its own event, the connection table must stay at its bound and count its
 * evictions, and the rate limit must keep the log small.
 *
 * The replay has its own timing (tcpreplay's rate, kernel timestamps), so the number
 * of unanswered handshakes is not compared with the file's. Needs root, namespaces
 * and tcpreplay; namespace lbfl-live, interfaces lbflv0 (root) / lbflv1.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { netnsUnavailableReason, run, TestNetwork, waitFor } from '../../helpers/netns.js';
import { writeSynFlood, type SynFloodExpect } from './syn-flood-capture.js';

const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url));
const SYNS = Number(process.env['FLOOD_SYNS'] ?? 200_000);
const MAX_CONNECTIONS = 100_000;
const PPS = 100_000;
const NS = 'lbfl-live';
const TARGET_IF = 'lbflv0';
const PEER_IF = 'lbflv1';

type Event = Record<string, unknown> & { type: string; reason: string };
type Json = Record<string, Record<string, unknown>>;

function missingTool(): string | undefined {
  const why = netnsUnavailableReason();
  if (why !== undefined) return why;
  if (spawnSync('tcpreplay', ['--version']).error !== undefined) return 'tcpreplay is not installed: scripts/setup.sh --test installs it';
  return undefined;
}

function readEvents(dir: string): Event[] {
  return readdirSync(dir)
    .filter((n) => /^errors_.*\.log$/.test(n))
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Event);
}

describe(`A SYN flood from ${SYNS.toLocaleString('en-US')} sources replayed live at ${PPS.toLocaleString('en-US')} pkt/s`, { timeout: 180_000 }, () => {
  const skip = missingTool();
  const net = new TestNetwork();
  let dir = '';
  let expect: SynFloodExpect;
  let summary: Json = {};
  let events: Event[] = [];
  let peakRssMb = 0;
  let stderr = '';
  let code: number | null = null;

  before(async () => {
    if (skip !== undefined) return;
    // Prepare: the capture, a veth pair, the analyzer on the target end.
    dir = mkdtempSync(join(tmpdir(), 'lbfl-live-'));
    const file = join(dir, 'flood.pcap');
    expect = writeSynFlood(file, { syns: SYNS });
    net.addNamespace(NS);
    net.addVeth({ nameA: TARGET_IF, nameB: PEER_IF, nsB: NS, addrA: '198.18.47.1/24', addrB: '198.18.47.2/24' });
    // No IPv6 chatter on the captured link: only the replayed frames.
    run('sysctl', ['-qw', `net.ipv6.conf.${TARGET_IF}.disable_ipv6=1`], { allowFail: true });
    net.exec(NS, 'sysctl', ['-qw', `net.ipv6.conf.${PEER_IF}.disable_ipv6=1`], { allowFail: true });
    const logs = join(dir, 'logs');
    const agent = spawn(process.execPath, [MAIN, '-i', TARGET_IF, '-l', logs, '--summary-format', 'json', '--summary-interval', '0',
      '--cloudwatch', 'off', '--max-connections', String(MAX_CONNECTIONS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    agent.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    agent.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => agent.on('exit', (c) => resolve(c)));
    const rss = (): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${String(agent.pid)}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    const started = Date.now();
    try {
      await waitFor(() => stdout.includes('"msg":"capturing"'), 20_000, 'the agent to start capturing');
      // Act: the whole capture at a fixed rate (bounded: expect.packets frames, ~2-3 s at 100k pkt/s).
      net.exec(NS, 'tcpreplay', ['-q', '-i', PEER_IF, '--pps', String(PPS), file]);
      await new Promise((r) => setTimeout(r, 1000));
      peakRssMb = rss();
    } finally {
      agent.kill('SIGTERM');
    }
    code = await exited;
    const line = stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
    summary = line !== undefined ? (JSON.parse(line) as Json) : {};
    events = readEvents(logs);
    process.stdout.write(`# live flood: ${expect.packets} frames replayed, ${String(summary['totals']?.['packets'])} analysed in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
      `kernel drops ${String(summary['capture']?.['dropped'])}, peak RSS ${peakRssMb.toFixed(0)} MB (the 64 MB kernel ring included), ${events.length} event lines\n`);
  });
  after(() => {
    net.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('every replayed frame reaches the analyzer (no kernel drops), which exits cleanly', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    assert.equal(code, 0, stderr.slice(-1000));
    assert.equal(summary['capture']?.['dropped'], 0, 'kernel drops');
    assert.equal(summary['totals']?.['packets'], expect.packets);
  });

  it('the table stays at its bound and counts every connection', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    const c = summary['connections'] as { tracked_peak: number; opened: number; evicted: number };
    assert.ok(c.tracked_peak <= MAX_CONNECTIONS, `peak ${c.tracked_peak}`);
    assert.equal(c.opened, expect.connections);
  });

  it('refusals and resets of the real clients are exact, each with its own event', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    const e = summary['tcp_errors'] as Record<string, number>;
    assert.equal(e['refused'], expect.refused);
    assert.equal(e['resets_by_target'], expect.resets);
    assert.equal(e['resets_by_peer'], 0);
    const own = (reason: string): string[] => events
      .filter((x) => x.reason === reason && x['suppressed'] === undefined)
      .map((x) => `${String(x['src_ip'] === '198.18.46.10' ? x['dst_ip'] : x['src_ip'])}:${String(x['src_ip'] === '198.18.46.10' ? x['dst_port'] : x['src_port'])}`)
      .sort();
    assert.deepEqual(own('refused'), [...expect.refusedClients].sort());
    assert.deepEqual(own('reset_by_target'), [...expect.resetClients].sort());
  });

  it('the flood is not an event storm, and memory stays bounded', (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    assert.ok(events.length < 5_000, `${events.length} event lines`);
    // Live RSS includes the kernel ring libpcap maps (64 MB by default) as its pages are touched.
    assert.ok(peakRssMb > 0 && peakRssMb <= 150 + 64, `peak RSS ${peakRssMb.toFixed(0)} MB`);
  });
});
