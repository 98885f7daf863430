/**
 * Least privilege outside Docker: the real binary started by setpriv as uid 10001
 * with CAP_NET_RAW as its only capability (inheritable + ambient, since node has no
 * file capabilities here; bounding set reduced to it) captures live on a veth, writes
 * its events into a log directory owned by that uid, and holds nothing else. Without
 * the capability it refuses in one line that names the fix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/repo-root.js';
import { netnsUnavailableReason, TestNetwork, waitFor } from '../../helpers/netns.js';
import { AgentProcess, inNamespace, MAIN, missingTools, readEvents } from './agent-process.js';

const NS = 'lbsc-priv';
const IF_TARGET = 'lbscp0';
const IF_PEER = 'lbscp1';
const TARGET = '198.18.47.1';
const CLIENT = '198.18.47.2';
const UID = 10001;
const CAP_NET_RAW_MASK = '0000000000002000'; // bit 13
const ERRORS = 3;
const REFUSALS = 2;

const ONLY_NET_RAW = [
  'setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups',
  '--inh-caps=-all,+net_raw', '--ambient-caps=-all,+net_raw', '--bounding-set=-all,+net_raw',
];
const NO_CAPS = ['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all'];

/** The checkout must be readable by the unprivileged uid (it is in CI: a root checkout with 755 directories). */
function unreadableByUid(): string | undefined {
  const nodeModules = join(repoRoot(), 'node_modules');
  const probe = `const fs=require('fs');for(const p of process.argv.slice(1))fs.accessSync(p,fs.constants.R_OK)`;
  const r = spawnSync('setpriv', [`--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', process.execPath, '-e', probe, MAIN, join(nodeModules, 'pcap', 'package.json')], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `the build is not readable by uid ${UID}: ${r.stderr.trim().split('\n')[0] ?? ''}`;
}

function statusOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe('runs as a non-root user with only CAP_NET_RAW, outside Docker', () => {
  const skip = netnsUnavailableReason() ?? missingTools(['setpriv', 'bash']) ?? unreadableByUid();
  const net = new TestNetwork();
  const agents: AgentProcess[] = [];
  let dir = '';
  let server: Server | undefined;
  before(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'lbsc-priv-'));
    chmodSync(dir, 0o755);
    net.addNamespace(NS);
    net.addVeth({ nameA: IF_TARGET, nameB: IF_PEER, nsB: NS, addrA: `${TARGET}/28`, addrB: `${CLIENT}/28` });
    server = createServer((_req, res) => { res.writeHead(500, { 'content-type': 'text/plain' }); res.end('boom'); });
    await new Promise<void>((r) => server?.listen(8080, TARGET, r));
  });
  after(() => {
    for (const a of agents) a.kill();
    server?.close();
    net.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('captures live as uid 10001 holding only CAP_NET_RAW, and its events land in a log dir owned by that uid', { skip, timeout: 60_000 }, async () => {
    // Prepare: a log directory owned by the unprivileged user; the agent under setpriv.
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    chownSync(logs, UID, UID);
    const agent = new AgentProcess(ONLY_NET_RAW, ['-i', IF_TARGET, '-l', logs, '--cloudwatch', 'off', '--summary-format', 'json', '--summary-interval', '0']);
    agents.push(agent);
    await waitFor(() => agent.capturing || agent.proc.exitCode !== null, 30_000, 'the agent to capture');
    assert.ok(agent.capturing, `the agent did not start capturing: ${agent.stderr}`);
    const status = statusOf(agent.proc.pid!);

    // Act: bounded traffic from the client namespace: 5xx answers and refused connections.
    for (let i = 0; i < ERRORS; i++) {
      assert.equal(await inNamespace(NS, ['curl', '-s', '-o', '/dev/null', '--max-time', '10', `http://${TARGET}:8080/fail/${i}`]), 0);
    }
    for (let i = 0; i < REFUSALS; i++) await inNamespace(NS, ['bash', '-c', `exec 3<>/dev/tcp/${TARGET}/8081`]);
    await new Promise((r) => setTimeout(r, 1000));
    const code = await agent.stop();

    // Assess: who the process was and what it held.
    assert.equal(status['Uid'], `${UID}\t${UID}\t${UID}\t${UID}`);
    assert.equal(status['Gid'], `${UID}\t${UID}\t${UID}\t${UID}`);
    assert.equal(status['Groups'] ?? '', '');
    assert.equal(status['CapEff'], CAP_NET_RAW_MASK, 'only CAP_NET_RAW is effective');
    assert.equal(status['CapPrm'], CAP_NET_RAW_MASK, 'only CAP_NET_RAW is permitted');
    assert.equal(status['CapBnd'], CAP_NET_RAW_MASK, 'nothing else can ever be gained');
    // Assess: it worked, and everything it wrote belongs to that uid.
    assert.equal(code, 0, agent.stderr);
    assert.doesNotMatch(agent.stderr + agent.stdout, /link notifications not followed/, 'the kernel\'s link notifications need no privilege');
    const events = readEvents(logs);
    assert.equal(events.filter((e) => e['type'] === 'APP_ERROR').length, ERRORS, JSON.stringify(events));
    assert.equal(events.filter((e) => e['reason'] === 'refused').length, REFUSALS, JSON.stringify(events));
    const files = readdirSync(logs);
    assert.ok(files.some((f) => f.startsWith('errors_')), `log files: ${files.join(', ')}`);
    assert.ok(files.includes('health.json'), `log files: ${files.join(', ')}`);
    for (const f of files) assert.equal(statSync(join(logs, f)).uid, UID, `${f} is owned by uid ${UID}`);
  });

  test('without CAP_NET_RAW it refuses in one line naming the fix, exit 1, no stack trace', { skip, timeout: 30_000 }, async () => {
    // Prepare
    const logs = join(dir, 'logs-nocap');
    mkdirSync(logs);
    chownSync(logs, UID, UID);
    // Act
    const agent = new AgentProcess(NO_CAPS, ['-i', IF_TARGET, '-l', logs, '--cloudwatch', 'off']);
    agents.push(agent);
    const code = await agent.exited;
    // Assess
    assert.equal(code, 1);
    const lines = agent.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line on stderr, got: ${agent.stderr}`);
    assert.match(lines[0]!, /^lb-traffic-analyzer: cannot capture on "lbscp0": permission denied; run as root or grant CAP_NET_RAW/);
    assert.doesNotMatch(agent.stderr + agent.stdout, /\n\s+at /, 'no stack trace');
  });

  test('root with CAP_NET_RAW dropped from its bounding set refuses the same way', { skip, timeout: 30_000 }, async () => {
    // Prepare: still uid 0, as `docker run --cap-drop=ALL` without --cap-add=NET_RAW leaves it.
    const logs = join(dir, 'logs-root-nocap');
    // Act
    const agent = new AgentProcess(['setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all'], ['-i', IF_TARGET, '-l', logs, '--cloudwatch', 'off']);
    agents.push(agent);
    const code = await agent.exited;
    // Assess
    assert.equal(code, 1);
    assert.equal(agent.stderr.trimEnd().split('\n').length, 1, agent.stderr);
    assert.match(agent.stderr, /permission denied; run as root or grant CAP_NET_RAW/);
    assert.doesNotMatch(agent.stderr, /\n\s+at /);
  });
});
