/**
 * The kernel filter on a live capture: LB-like frames replayed onto a veth with
 * tcpreplay, the real binary capturing at -s 10. The kernel must do the thinning
 * (libpcap silently falls back to filtering in user space when the kernel refuses
 * a program: then ps_recv would count every frame), and the exact counts must equal
 * those of the whole capture file read at -s 10.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildBpfFilter } from '../../../agent/capture/bpf-filter.js';
import { generateLbTraffic } from '../../helpers/lb-traffic.js';
import { missingTools, netnsUnavailableReason, run, TestNetwork, waitFor } from '../../helpers/netns.js';

const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url));
const PACKETS = 20_000;
const SAMPLE = 10;
const NS = 'lbkf-peer';
const TARGET_IF = 'lbkf-t';
const PEER_IF = 'lbkf-p';

type Json = Record<string, Record<string, unknown>>;

function finalSummary(stdout: string): Json {
  const line = stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
  assert.ok(line !== undefined, `no final summary in: ${stdout.slice(-500)}`);
  return JSON.parse(line) as Json;
}

describe('Kernel filter on a live capture', { timeout: 120_000 }, () => {
  const skip = netnsUnavailableReason() ?? missingTools(['tcpreplay', 'tcpdump']);
  const net = new TestNetwork();
  let dir = '';
  let file = '';

  before(() => {
    if (skip !== undefined) return;
    dir = mkdtempSync(join(tmpdir(), 'lbta-kfl-'));
    file = join(dir, 'lb.pcap');
    generateLbTraffic(file, PACKETS);
    net.addNamespace(NS);
    net.addVeth({ nameA: TARGET_IF, nameB: PEER_IF, nsB: NS, addrA: '198.18.45.1/24', addrB: '198.18.45.2/24' });
    // No IPv6 chatter (router solicitations, MLD) on the captured link: only the replayed frames.
    run('sysctl', ['-qw', `net.ipv6.conf.${TARGET_IF}.disable_ipv6=1`], { allowFail: true });
    net.exec(NS, 'sysctl', ['-qw', `net.ipv6.conf.${PEER_IF}.disable_ipv6=1`], { allowFail: true });
  });
  after(() => {
    net.destroy();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it(`at -s ${SAMPLE} the kernel passes only what the filter selects, and exact counts equal the whole file's`, async (t) => {
    if (skip !== undefined) { t.skip(skip); return; }
    // Prepare: what libpcap's filter passes from the file, and the whole file's analysis.
    const filtered = join(dir, 'filtered.pcap');
    const f = spawnSync('tcpdump', ['-r', file, '-w', filtered, buildBpfFilter({ sample: SAMPLE })], { encoding: 'utf8' });
    assert.equal(f.status, 0, f.stderr);
    const expected = spawnSync('tcpdump', ['-r', filtered], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.split('\n').filter((l) => l !== '').length;
    const whole = spawnSync(process.execPath, [MAIN, '--read', file, '-s', String(SAMPLE), '-l', join(dir, 'logs-file'), '--summary-format', 'json', '--cloudwatch', 'off'],
      { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 60_000 });
    assert.equal(whole.status, 0, whole.stderr);
    const fromFile = finalSummary(whole.stdout);

    const agent = spawn(process.execPath, [MAIN, '-i', TARGET_IF, '-s', String(SAMPLE), '-l', join(dir, 'logs-live'), '--summary-format', 'json', '--summary-interval', '0'], {
      env: { ...process.env, LBTA_CLOUDWATCH: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    agent.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    agent.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => agent.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => stdout.includes('"msg":"capturing"'), 20_000, 'the agent to start capturing');
      // Act: replay the frames onto the peer end (bounded: PACKETS frames at 10k pkt/s).
      net.exec(NS, 'tcpreplay', ['-q', '-i', PEER_IF, '--pps', '10000', file]);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      agent.kill('SIGTERM');
    }
    const code = await exited;
    // Assess
    assert.equal(code, 0, stderr.slice(-1000));
    const live = finalSummary(stdout);
    assert.equal(live['capture']?.['dropped'], 0, 'no kernel drops');
    assert.equal(live['totals']?.['packets'], expected, 'the analyzer saw exactly the frames the filter selects');
    assert.equal(live['capture']?.['received'], expected, 'ps_recv counts only selected frames: the kernel filtered, not libpcap');
    assert.ok(expected < PACKETS * 0.8, `the filter thins the traffic (${expected} of ${PACKETS})`);
    for (const section of ['tcp_errors', 'http_errors', 'health_checks']) {
      for (const [k, v] of Object.entries(fromFile[section] ?? {})) {
        if (k === 'latency_ms' || (section === 'tcp_errors' && !['resets_by_target', 'resets_by_peer', 'refused', 'unanswered', 'handshake_abandoned', 'syn_retries', 'zero_windows'].includes(k))) continue;
        assert.deepEqual(live[section]?.[k], v, `${section}.${k}`);
      }
    }
    assert.deepEqual(live['events'], fromFile['events']);
  });
});
