/**
 * Issue 6's proof for the kernel filter: an LB-like capture (test/helpers/lb-traffic.ts), with
 * answers in one segment and with answers of up to 250 KB in many (whose segments past the head
 * the filter leaves out of unsampled flows), is thinned by libpcap with the generated filter (tcpdump -w uses the same
 * pcap_compile() and BPF interpreter as a live capture) and the real binary reads
 * both files. Exact counts must not move; per-segment figures of sampled flows must
 * equal those of the sampled flows analysed whole.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildBpfFilter } from '../../../agent/capture/bpf-filter.js';
import { LinkType } from '../../../agent/capture/packet-source.js';
import { sampleHash4 } from '../../../agent/flows/flow-hash.js';
import { generateLbTraffic } from '../../helpers/lb-traffic.js';
import { parseIp, TcpConversation } from '../../helpers/packet-builder.js';
import { PcapWriter } from '../../helpers/pcap-writer.js';

const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url));
const PACKETS = 100_000;
const SAMPLES = [1, 10, 100] as const;
const HAVE_TCPDUMP = spawnSync('tcpdump', ['--version']).status === 0;

type Json = Record<string, unknown>;
type Run = { summary: Json; events: string[] };

/** Summary fields that describe the input or the run, not the analysis. */
const RUN_FIELDS = ['time', 'uptime_s', 'source', 'capture', 'totals.packets', 'totals.bytes', 'totals.tcp', 'totals.udp', 'totals.ipv4', 'totals.ipv6'];

function tcpdump(args: string[]): void {
  const r = spawnSync('tcpdump', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `tcpdump ${args.join(' ')}: ${r.stderr}`);
}

/** The final JSON summary and the logged events (ids removed: they are unique per run). */
function analyse(file: string, sample: number, name: string, base: string): Run {
  const logs = join(base, `logs-${name}`);
  const r = spawnSync(process.execPath, [MAIN, '--read', file, '-s', String(sample), '-l', logs, '--summary-format', 'json', '--cloudwatch', 'off'],
    { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, `analyzer on ${file}: ${r.stderr.slice(-500)}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
  assert.ok(line !== undefined, 'a final summary line');
  const events = readdirSync(logs).filter((f) => f.endsWith('.log')).sort()
    .flatMap((f) => readFileSync(join(logs, f), 'utf8').split('\n').filter((l) => l !== ''))
    .map((l) => { const { id: _id, ...rest } = JSON.parse(l) as Json; return JSON.stringify(rest); })
    .sort();
  return { summary: JSON.parse(line) as Json, events };
}

function flatten(o: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (o !== null && typeof o === 'object') {
    for (const [k, v] of Object.entries(o)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else out[prefix] = o;
  return out;
}

/** Paths whose values differ, leaving out those under any of `ignore`. */
function differences(a: Json, b: Json, ignore: readonly string[]): string[] {
  const fa = flatten(a);
  const fb = flatten(b);
  const skip = (k: string) => ignore.some((p) => k === p || k.startsWith(`${p}.`) || k.startsWith(`${p}[`));
  return [...new Set([...Object.keys(fa), ...Object.keys(fb)])].filter((k) => !skip(k) && fa[k] !== fb[k])
    .map((k) => `${k}: ${String(fa[k])} vs ${String(fb[k])}`);
}

function get(o: Json, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Json | undefined)?.[k], o);
}

for (const responses of ['small', 'mixed'] as const) {
  describe(`Kernel filter against the unfiltered pipeline on LB-like traffic (${responses === 'small' ? 'answers in one segment' : 'answers of 1.2 KB to 250 KB in many segments'})`, { timeout: 300_000 }, () => {
    let dir = '';
    let input = '';
    let written = 0;
    const runs = new Map<string, Run>();
    before(() => {
      if (!HAVE_TCPDUMP) return;
      dir = mkdtempSync(join(tmpdir(), 'lbta-kf-'));
      input = join(dir, 'in.pcap');
      // 'mixed': most packets are answer segments past the head and their ACKs, which the filter
      // leaves out of unsampled flows: the body framing must carry over those holes.
      written = generateLbTraffic(input, PACKETS, { responses });
      for (const n of SAMPLES) {
        const out = join(dir, `filtered-${n}.pcap`);
        tcpdump(['-r', input, '-w', out, buildBpfFilter({ linkType: LinkType.ETHERNET, sample: n })]);
        runs.set(`in-${n}`, analyse(input, n, `in-${n}`, dir));
        runs.set(`out-${n}`, analyse(out, n, `out-${n}`, dir));
      }
      // The sampled flows of -s 10 alone, every one of their packets, analysed whole.
      const only = join(dir, 'sampled-10.pcap');
      tcpdump(['-r', input, '-w', only, 'tcp and (ip[12:4] ^ ip[16:4] ^ tcp[0:2] ^ tcp[2:2]) % 10 = 0']);
      runs.set('sampled-10', analyse(only, 1, 'sampled-10', dir));
    });
    after(() => { if (dir !== '') rmSync(dir, { recursive: true, force: true }); });

    const run = (k: string): Run => runs.get(k) as Run;

    for (const n of SAMPLES) {
      it(`at -s ${n}, the filtered capture gives the same summary and the same events as the whole one`, (t) => {
        if (!HAVE_TCPDUMP) { t.skip('tcpdump (libpcap) is not installed: scripts/setup.sh --test installs it'); return; }
        // Prepare
        const whole = run(`in-${n}`);
        const filtered = run(`out-${n}`);
        // Act
        const diff = differences(whole.summary, filtered.summary, RUN_FIELDS);
        // Assess: every figure, sampled or exact, including states of unsampled flows and events.
        assert.deepEqual(diff, []);
        assert.ok(whole.events.length > (responses === 'small' ? 500 : 100), `events to compare (${whole.events.length})`);
        assert.deepEqual(filtered.events, whole.events);
        const packets = Number(get(filtered.summary, 'totals.packets'));
        if (n === 1) assert.equal(packets, written, 'at -s 1 nothing is thinned');
        else assert.ok(packets < written * (responses === 'small' ? 0.75 : 0.4), `-s ${n} thins the capture (${packets} of ${written} packets)`);
      });
    }

    for (const n of [10, 100]) {
      it(`the exact counts of the filtered capture at -s ${n} equal those of the whole capture at -s 1`, (t) => {
        if (!HAVE_TCPDUMP) { t.skip('tcpdump (libpcap) is not installed: scripts/setup.sh --test installs it'); return; }
        // Prepare
        const exact = run('in-1').summary;
        const filtered = run(`out-${n}`).summary;
        const sampledFigures = (get(filtered, 'sampled.figures') as string[]).map((f) => `tcp_errors.${f}`);
        // Act
        const diff = differences(exact, filtered, [...RUN_FIELDS, 'sampled', ...sampledFigures]);
        // Assess
        assert.deepEqual(diff, []);
        for (const k of ['tcp_errors.resets_by_target', 'tcp_errors.refused', 'http_errors.5xx.503', 'health_checks.http.ok']) {
          assert.ok(Number(get(filtered, k)) > 0, `${k} is exercised`);
        }
        assert.deepEqual(get(filtered, 'events'), get(exact, 'events'));
      });
    }

    it('retransmissions counted at -s 10 on the filtered capture equal those of the sampled flows analysed whole', (t) => {
      if (!HAVE_TCPDUMP) { t.skip('tcpdump (libpcap) is not installed: scripts/setup.sh --test installs it'); return; }
      // Prepare
      const whole = run('sampled-10').summary;
      const filtered = run('out-10').summary;
      // Act
      const figures = ['retransmissions', 'fast_retransmissions', 'spurious_retransmissions', 'duplicate_acks', 'out_of_order'];
      // Assess
      for (const f of figures) assert.equal(get(filtered, `tcp_errors.${f}`), get(whole, `tcp_errors.${f}`), f);
      assert.ok(Number(get(filtered, 'tcp_errors.retransmissions')) > 0, 'some sampled flow retransmits');
    });
  });
}

describe('Handshakes of unsampled flows, whose final ACK the filter drops', { timeout: 120_000 }, () => {
  const LB = '198.18.45.11';
  const TARGET = '198.18.45.10';
  let hdir = '';
  const results = new Map<string, Run>();

  /** A client port on 8080 whose flow -s 10 samples (true) or not (false). */
  const port = (() => {
    let next = 30000;
    return (sampled: boolean): number => {
      for (;;) {
        const p = next++;
        if ((sampleHash4(parseIp(LB).readUInt32BE(0), parseIp(TARGET).readUInt32BE(0), p, 8080) % 10 === 0) === sampled) return p;
      }
    };
  })();

  before(() => {
    if (!HAVE_TCPDUMP) return;
    hdir = mkdtempSync(join(tmpdir(), 'lbta-kfh-'));
    const file = join(hdir, 'handshakes.pcap');
    const w = new PcapWriter(file);
    let t = 1_771_147_815_000_000;
    const at = (dt: number, f: Buffer) => { t += dt; w.write(t, f); };
    // Unsampled, idle 10 s after its handshake, then a request: not abandoned.
    const idle = new TcpConversation(LB, TARGET, port(false), 8080);
    for (const f of idle.handshake()) at(1000, f);
    // Unsampled, the target retries its SYN-ACK and the client stays silent: abandoned.
    const retried = new TcpConversation(LB, TARGET, port(false), 8080);
    at(1000, retried.seg(true, 'S'));
    const synAck = retried.seg(false, 'SA');
    at(1000, synAck);
    at(1_000_000, synAck);
    // Sampled, one SYN-ACK and silence: abandoned (every packet of the flow is captured).
    const sampled = new TcpConversation(LB, TARGET, port(true), 8080);
    at(1000, sampled.seg(true, 'S'));
    at(1000, sampled.seg(false, 'SA'));
    at(10_000_000, idle.seg(true, 'PA', 'GET / HTTP/1.1\r\nHost: t\r\n\r\n'));
    at(1000, idle.seg(false, 'PA', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    at(1000, idle.seg(true, 'A'));
    at(1000, idle.seg(true, 'FA'));
    at(1000, idle.seg(false, 'FA'));
    at(1000, idle.seg(true, 'A'));
    w.close();
    const out = join(hdir, 'handshakes-filtered.pcap');
    tcpdump(['-r', file, '-w', out, buildBpfFilter({ sample: 10 })]);
    results.set('whole', analyse(file, 10, 'hs-whole', hdir));
    results.set('filtered', analyse(out, 10, 'hs-filtered', hdir));
  });
  after(() => { if (hdir !== '') rmSync(hdir, { recursive: true, force: true }); });

  it('an idle unsampled connection is not abandoned; a retried SYN-ACK or a sampled silent one is, with the filter and without', (t) => {
    if (!HAVE_TCPDUMP) { t.skip('tcpdump (libpcap) is not installed: scripts/setup.sh --test installs it'); return; }
    // Prepare
    const whole = results.get('whole') as Run;
    const filtered = results.get('filtered') as Run;
    const reasons = (r: Run) => r.events.map((e) => { const j = JSON.parse(e) as Json; return `${String(j['reason'])} ${String(j['src_port'])} ${String(j['history'])}`; });
    // Act
    const got = reasons(filtered);
    // Assess
    assert.equal(got.length, 2, got.join('; '));
    assert.ok(got.every((r) => r.startsWith('handshake_abandoned ')), got.join('; '));
    assert.deepEqual(filtered.events, whole.events);
    assert.deepEqual(get(filtered.summary, 'connections.by_state'), get(whole.summary, 'connections.by_state'));
    assert.equal(get(filtered.summary, 'tcp_errors.handshake_abandoned'), 2);
  });
});

describe('Kernel filter on IPv6 LB-like traffic (TCP at ip6[40], the hash over eight address words)', { timeout: 120_000 }, () => {
  let vdir = '';
  const got = new Map<string, Run>();

  before(() => {
    if (!HAVE_TCPDUMP) return;
    vdir = mkdtempSync(join(tmpdir(), 'lbta-kf6-'));
    const file = join(vdir, 'in6.pcap');
    generateLbTraffic(file, 30_000, { family: 6 });
    const out = join(vdir, 'filtered6.pcap');
    tcpdump(['-r', file, '-w', out, buildBpfFilter({ sample: 10 })]);
    got.set('whole-1', analyse(file, 1, 'v6-whole-1', vdir));
    got.set('whole-10', analyse(file, 10, 'v6-whole-10', vdir));
    got.set('filtered-10', analyse(out, 10, 'v6-filtered-10', vdir));
  });
  after(() => { if (vdir !== '') rmSync(vdir, { recursive: true, force: true }); });

  it('at -s 10 the filtered capture gives the same summary and events as the whole one, and the exact counts of -s 1', (t) => {
    if (!HAVE_TCPDUMP) { t.skip('tcpdump (libpcap) is not installed: scripts/setup.sh --test installs it'); return; }
    // Prepare
    const exact = (got.get('whole-1') as Run).summary;
    const whole = got.get('whole-10') as Run;
    const filtered = got.get('filtered-10') as Run;
    const sampledFigures = (get(filtered.summary, 'sampled.figures') as string[]).map((f) => `tcp_errors.${f}`);
    // Act
    const sameSample = differences(whole.summary, filtered.summary, RUN_FIELDS);
    const againstAll = differences(exact, filtered.summary, [...RUN_FIELDS, 'sampled', ...sampledFigures]);
    // Assess
    assert.deepEqual(sameSample, []);
    assert.deepEqual(filtered.events, whole.events);
    assert.deepEqual(againstAll, []);
    const packets = Number(get(filtered.summary, 'totals.ipv6'));
    assert.ok(packets > 0 && packets < 30_000 * 0.75, `IPv6 packets thinned (${packets})`);
    assert.ok(Number(get(filtered.summary, 'tcp_errors.refused')) > 0 && Number(get(filtered.summary, 'http_errors.status_classes.5xx')) > 0);
  });
});

