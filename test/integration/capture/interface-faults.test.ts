/**
 * Capture-interface faults through the real binary: the capture interface is taken
 * down and brought back, then deleted and re-created; capture resumes within 5 s
 * without a restart, each gap is a CAPTURE_LOSS event with its duration, the health
 * file says "degraded" while the interface is down, and traffic before and after is
 * analysed exactly (refused connections: a SYN answered by a RST, one event each).
 * Needs root; namespace lbrc-flt, interfaces lbrcf0 (root) / lbrcf1, 198.18.40.0/24.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { netnsUnavailableReason, run, TestNetwork, waitFor } from '../../helpers/netns.js';

const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url));
const NS = 'lbrc-flt';
const IF_ROOT = 'lbrcf0';
const IF_PEER = 'lbrcf1';
const TARGET = '198.18.40.1';
const PEER = '198.18.40.2';
const PORT = 7102; // nothing listens: every connection is refused
const PER_PHASE = 3;
const RESUME_BUDGET_MS = 5000;

/**
 * One refused connection from the namespace (SYN in, RST out). A SYN sent while a link
 * is still coming up is retried by the kernel after 1 s: still one connection, one refusal.
 */
function refuse(): Promise<void> {
  return new Promise((resolve) => {
    const c = spawn('ip', ['netns', 'exec', NS, 'timeout', '10', 'bash', '-c', `exec 3<>/dev/tcp/${TARGET}/${PORT}`], { stdio: 'ignore' });
    c.on('exit', () => resolve());
  });
}

function events(logs: string): Array<Record<string, unknown>> {
  if (!existsSync(logs)) return [];
  return readdirSync(logs).filter((n) => n.startsWith('errors_'))
    .flatMap((n) => readFileSync(join(logs, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function health(logs: string): Record<string, Record<string, unknown>> | undefined {
  try {
    return JSON.parse(readFileSync(join(logs, 'health.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  } catch {
    return undefined;
  }
}

for (const engine of ['batch', 'pcap']) describe(`capture survives its interface going down and being re-created (${engine} engine)`, () => {
  const skip = netnsUnavailableReason();
  const net = new TestNetwork();
  let dir = '';
  let agent: ChildProcess | undefined;
  const addVeth = (): void => net.addVeth({ nameA: IF_ROOT, nameB: IF_PEER, nsB: NS, addrA: `${TARGET}/24`, addrB: `${PEER}/24` });
  before(() => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'lbta-iff-'));
    net.addNamespace(NS);
    addVeth();
  });
  after(() => {
    if (agent && agent.exitCode === null) agent.kill('SIGKILL');
    net.destroy();
    run('ip', ['link', 'del', IF_ROOT], { allowFail: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('resumes within 5 s after down/up, delete/re-create and a down/up faster than a check, reports each gap, and analyses traffic on both sides of it', { skip, timeout: 90_000 }, async () => {
    // Prepare: the analyzer on the target side.
    const logs = join(dir, 'logs');
    agent = net.spawn(undefined, process.execPath, [MAIN, '-i', IF_ROOT, '--engine', engine, '-l', logs, '--summary-format', 'json',
      '--summary-interval', '0', '--cloudwatch', 'off', '--log-level', 'info']);
    let out = '';
    agent.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    let err = '';
    agent.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((r) => agent?.on('exit', (c) => r(c)));
    await waitFor(() => out.includes('"msg":"capturing"'), 30_000, 'the analyzer to capture');
    const resumed = (): number => out.split('\n').filter((l) => l.includes('"msg":"capture resumed"')).length;
    // Act 1: traffic, then the interface goes down for 1.5 s and comes back.
    for (let i = 0; i < PER_PHASE; i++) await refuse();
    run('ip', ['link', 'set', IF_ROOT, 'down']);
    await waitFor(() => health(logs)?.['capture']?.['degraded'] === true, 5000, 'health.json to say degraded');
    const whileDown = health(logs)?.['capture'];
    await new Promise((r) => setTimeout(r, 1500));
    run('ip', ['link', 'set', IF_ROOT, 'up']);
    const upAt = Date.now();
    await waitFor(() => resumed() >= 1, RESUME_BUDGET_MS, 'capture to resume after ip link set up');
    const downUpResumeMs = Date.now() - upAt;
    for (let i = 0; i < PER_PHASE; i++) await refuse();
    // Act 2: the interface is deleted and re-created under the same name.
    run('ip', ['link', 'del', IF_ROOT]);
    await new Promise((r) => setTimeout(r, 1000));
    addVeth();
    const addedAt = Date.now();
    await waitFor(() => resumed() >= 2, RESUME_BUDGET_MS, 'capture to resume on the re-created interface');
    const recreateResumeMs = Date.now() - addedAt;
    for (let i = 0; i < PER_PHASE; i++) await refuse();
    // Act 3: down and up again within milliseconds (faster than a check). The old socket may
    // or may not receive again; the carrier-loss count in sysfs moved, so the next check
    // opens a fresh session and drains the old ring (a stall check backs this up).
    run('bash', ['-c', `ip link set ${IF_ROOT} down && ip link set ${IF_ROOT} up`]);
    const flapAt = Date.now();
    for (let i = 0; i < PER_PHASE; i++) await refuse();
    await waitFor(() => events(logs).filter((e) => e['reason'] === 'refused').length >= 4 * PER_PHASE,
      RESUME_BUDGET_MS + (Date.now() - flapAt), 'the connections after a quick down/up to be analysed')
      .catch((e: unknown) => { throw new Error(`${String(e)}; ${events(logs).filter((x) => x['reason'] === 'refused').length} refused in the log; agent said:\n${out.split('\n').filter((l) => !l.includes('"level":20')).join('\n')}`); });
    await new Promise((r) => setTimeout(r, 500));
    const afterResume = health(logs)?.['capture'];
    const sockets = packetSockets(agent.pid ?? 0);
    agent.kill('SIGTERM');
    const code = await exited;

    // Assess: no restart (one process, exit 0), resumed in time, exact counts on both sides of each gap.
    assert.equal(code, 0, err);
    assert.ok(downUpResumeMs < RESUME_BUDGET_MS, `resumed ${downUpResumeMs} ms after up`);
    assert.ok(recreateResumeMs < RESUME_BUDGET_MS, `resumed ${recreateResumeMs} ms after re-create`);
    assert.equal(whileDown?.['degraded'], true);
    assert.equal(whileDown?.['running'], true, 'degraded, not stopped: the process waits for the interface');
    assert.equal(whileDown?.['interrupted_reason'], 'interface_down');
    const line = out.split('\n').find((l) => l.startsWith('{"summary":"final"'));
    assert.ok(line, 'a final summary');
    const s = JSON.parse(line) as Record<string, Record<string, number>>;
    assert.equal(s['tcp_errors']?.['refused'], 4 * PER_PHASE, 'refusals before, between and after the gaps, and during the stall');
    const ev = events(logs);
    assert.equal(ev.filter((e) => e['reason'] === 'refused').length, 4 * PER_PHASE);
    const gaps = ev.filter((e) => e['type'] === 'CAPTURE_LOSS');
    assert.deepEqual(gaps.slice(0, 2).map((e) => e['reason']), ['interface_down', 'interface_removed']);
    // The quick flap is seen by the carrier-loss count (or as a stall).
    assert.equal(gaps.length, 3);
    assert.ok(['capture_stalled', 'interface_down'].includes(String(gaps[2]?.['reason'])), `quick flap: ${String(gaps[2]?.['reason'])}`);
    assert.equal(resumed(), gaps.length, 'one "capture resumed" per gap');
    process.stdout.write(`# interface faults (${engine}): resumed ${downUpResumeMs} ms after up, ${recreateResumeMs} ms after re-create; gaps ${gaps.map((g) => `${String(g['reason'])} ${String(g['gap_ms'])} ms`).join(', ')}\n`);
    const down = gaps[0] ?? {};
    assert.ok(Number(down['gap_ms']) >= 1400 && Number(down['gap_ms']) < 1500 + RESUME_BUDGET_MS, `down gap ${String(down['gap_ms'])} ms`);
    assert.equal(down['interface'], IF_ROOT);
    assert.ok(Number(gaps[1]?.['gap_ms']) >= 900, `removal gap ${String(gaps[1]?.['gap_ms'])} ms`);
    assert.equal(afterResume?.['degraded'], false);
    assert.equal(afterResume?.['gaps'], gaps.length);
    // batch releases a session's socket and kernel ring when it stops; node_pcap only inside a
    // dispatch that finds a packet, which a deleted interface never delivers (its handle is kept).
    if (engine === 'batch') assert.equal(sockets, 1, 'one packet socket left: the replaced sessions released theirs');
    else assert.ok(sockets >= 1, `packet sockets: ${sockets}`);
    process.stdout.write(`# interface faults (${engine}): ${sockets} packet socket(s) held after the three gaps\n`);
  });
});

/** Packet sockets (AF_PACKET, as listed in /proc/net/packet) that process `pid` holds open. */
function packetSockets(pid: number): number {
  const inodes = new Set(readFileSync(`/proc/${pid}/net/packet`, 'utf8').trim().split('\n').slice(1)
    .map((l) => l.trim().split(/\s+/).pop() ?? ''));
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      return m !== null && inodes.has(m[1] ?? '');
    } catch {
      return false;
    }
  }).length;
}

describe('capture-interface faults with the cap engine', () => {
  it('resumes after interface loss', (t) => {
    // cap 0.2.1's poll callback asserts `status == 0` (src/binding.cc): the UV_EBADF libuv
    // reports once the interface goes down or away aborts the process inside the addon, before
    // any JavaScript runs. Only a restart (docker/systemd policy) brings a cap capture back;
    // the batch and pcap engines resume by themselves (above).
    t.skip('cap 0.2.1 aborts in native code on interface loss (assert in its poll callback); only the batch and pcap engines resume without a restart');
  });
});
