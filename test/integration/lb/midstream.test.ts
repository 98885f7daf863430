/**
 * Captures that begin in the middle of connections, as every capture does when the agent starts
 * (or restarts) while a load balancer's keep-alive connections are open. Real HTTP traffic to a
 * Node.js target is captured once, then cut at every packet: the analysis of each cut must count
 * every response whose status line and every request whose request line lies after the cut,
 * by status code, and nothing malformed. tshark gives the oracle (the status and request lines
 * in each segment's payload).
 *
 * The traffic: keep-alive connections (curl, several URLs each: 200, 404, 503, 302, 204, a
 * 40 KB answer, a chunked one, a POST), a client that sends bytes that are not HTTP (the target
 * answers 400), a TLS ClientHello to the plain HTTP port (400), and a connection that says
 * nothing until the target times it out (408).
 *
 *   [curl, openssl, ns lblb-md] lblb-m1 198.18.57.1 ── lblb-m0 198.18.57.2 http target (root ns)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staticLbKnowledge } from '../../../agent/classify/lb-knowledge.js';
import { missingTools, netnsUnavailableReason, TestNetwork, waitFor } from '../../helpers/netns.js';
import { analyzePcap } from './analyze.js';

const NS = 'lblb-md';
const TARGET = '198.18.57.2';
const PEER = '198.18.57.1';
const PORT = 8080;

const skipReason = netnsUnavailableReason() ?? missingTools(['tcpdump', 'tshark', 'editcap', 'curl', 'openssl']);

let net: TestNetwork | undefined;
let server: Server | undefined;
let dir = '';
let pcap = '';
/** What the target answered, by status code, as it counted them itself. */
const answered = new Map<number, number>();

/** Run a command in the client namespace; resolves when it exits (the target lives in this process). */
function client(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve) => {
    const c = execFile('ip', ['netns', 'exec', NS, cmd, ...args], { timeout: 10_000 }, () => resolve());
    if (input !== undefined) c.stdin?.end(input);
  });
}

/** A shell in the client namespace that writes `bytes` (printf escapes) to the target and reads until it closes. */
function raw(bytes: string, holdSec = 0): Promise<void> {
  return client('bash', ['-c', `exec 3<>/dev/tcp/${TARGET}/${PORT}; printf '${bytes}' >&3; sleep ${holdSec}; timeout 5 cat <&3 >/dev/null`]);
}

before(async () => {
  if (skipReason !== undefined) return;
  dir = mkdtempSync(join(tmpdir(), 'lblb-mid-'));
  net = new TestNetwork();
  net.addNamespace(NS);
  net.addVeth({ nameA: 'lblb-m0', nameB: 'lblb-m1', nsB: NS, addrA: `${TARGET}/24`, addrB: `${PEER}/24` });
  // A connection that says nothing gets a 408 after a second (the check runs every 200 ms).
  server = createServer({ headersTimeout: 1000, requestTimeout: 1000, connectionsCheckingInterval: 200 }, (req, res) => {
    const status = req.url === '/missing' ? 404 : req.url === '/fail' ? 503 : req.url === '/moved' ? 302 : req.url === '/empty' ? 204 : 200;
    answered.set(status, (answered.get(status) ?? 0) + 1);
    req.resume();
    req.on('end', () => {
      if (status === 302) res.setHeader('Location', '/');
      if (req.url === '/large') { res.setHeader('Content-Length', 40_000); res.end('x'.repeat(40_000)); return; }
      if (req.url === '/chunked') { res.statusCode = status; res.write('a'.repeat(3000)); setTimeout(() => res.end('b'.repeat(3000)), 20); return; }
      res.statusCode = status;
      res.end(status === 204 ? undefined : `answer ${status}\n`);
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    if (socket.writable) {
      answered.set(status, (answered.get(status) ?? 0) + 1);
      socket.end(`HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => { server!.once('error', reject); server!.listen(PORT, TARGET, () => resolve()); });

  pcap = join(dir, 'whole.pcap');
  const dump: ChildProcess = net.spawn(undefined, 'tcpdump', ['-i', 'lblb-m0', '-s', '0', '-U', '--immediate-mode', '-n', '-w', pcap, 'tcp']);
  let dumpErr = '';
  dump.stderr?.on('data', (d: Buffer) => { dumpErr += d.toString(); });
  await waitFor(() => dumpErr.includes('listening on'), 5000, 'tcpdump to listen');
  const u = (p: string): string => `http://${TARGET}:${PORT}${p}`;
  await client('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', u('/'), u('/missing'), u('/large'), u('/fail')]);
  await client('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', u('/moved'), u('/chunked'), u('/empty'), u('/large')]);
  await client('curl', ['-s', '-o', '/dev/null', '-X', 'POST', '--data-binary', 'k=v&n=1', u('/form')]);
  await raw('BLAH\\r\\n\\r\\n');
  await client('openssl', ['s_client', '-connect', `${TARGET}:${PORT}`, '-servername', 'shop.test'], '');
  await raw('', 2);
  await new Promise((r) => setTimeout(r, 500));
  dump.kill('SIGINT');
  await new Promise<void>((r) => { if (dump.exitCode !== null) r(); else dump.once('exit', () => r()); });
});

after(() => {
  server?.close();
  net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Segment = { frame: number; fromTarget: boolean; payload: string };

function segments(file: string): Segment[] {
  const r = spawnSync('tshark', ['-n', '-r', file, '-Y', 'tcp.len > 0', '-T', 'fields', '-e', 'frame.number', '-e', 'tcp.srcport', '-e', 'tcp.payload'],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((line) => {
    const [frame, sport, hex] = line.split('\t') as [string, string, string];
    return { frame: Number(frame), fromTarget: Number(sport) === PORT, payload: Buffer.from(hex.replaceAll(':', ''), 'hex').toString('latin1') };
  });
}

/** The oracle: status codes of the status lines, and the request lines, in the segments from `first` on. */
function linesFrom(segs: Segment[], first: number): { statuses: Record<string, number>; requests: number } {
  const statuses: Record<string, number> = {};
  let requests = 0;
  for (const s of segs) {
    if (s.frame < first) continue;
    if (s.fromTarget) {
      for (const m of s.payload.matchAll(/HTTP\/1\.\d (\d{3})/g)) statuses[m[1] as string] = (statuses[m[1] as string] ?? 0) + 1;
    } else requests += [...s.payload.matchAll(/(?:^|\r\n)(?:GET|POST) \S+ HTTP\/1\.\d\r\n/g)].length;
  }
  return { statuses, requests };
}

test('a capture that begins at any packet counts every status and request line after it, by code, and nothing malformed', async (t) => {
  if (skipReason !== undefined) { t.skip(`SKIPPED: ${skipReason}`); return; }
  const expectedAnswers = { 200: 5, 204: 1, 302: 1, 404: 1, 503: 1, 400: 2, 408: 1 };
  assert.deepEqual(Object.fromEntries([...answered].sort((a, b) => a[0] - b[0])), expectedAnswers, 'the target answered the traffic as planned');
  const segs = segments(pcap);
  const frames = Number(spawnSync('capinfos', ['-c', '-M', pcap], { encoding: 'utf8' }).stdout.trim().split(/\s+/).pop());
  assert.ok(frames > 60, `${frames} packets captured`);
  const whole = linesFrom(segs, 1);
  assert.deepEqual(whole.statuses, Object.fromEntries(Object.entries(expectedAnswers).map(([k, v]) => [k, v])), 'every answer is in the capture');

  const cut = join(dir, 'cut.pcap');
  let checked = 0;
  for (let first = 1; first <= frames; first++) {
    execFileSync('editcap', ['-r', pcap, cut, `${first}-${frames}`]);
    const a = await analyzePcap(cut, { localAddresses: [TARGET], knowledge: staticLbKnowledge({}) });
    const want = linesFrom(segs, first);
    const h = a.snapshot.http;
    const got: Record<string, number> = {};
    for (const [code, n] of Object.entries({ ...h.status4xx, ...h.status5xx })) got[code] = n;
    const byClass = Object.entries(want.statuses).reduce((m, [code, n]) => {
      const cls = `${code[0]}xx` as keyof typeof h.statusClasses;
      m[cls] = (m[cls] ?? 0) + n;
      return m;
    }, {} as Record<string, number>);
    const at = `capture cut before packet ${first}`;
    assert.deepEqual(Object.fromEntries(Object.entries(h.statusClasses).filter(([, n]) => n > 0)), byClass, `${at}: status classes`);
    assert.deepEqual(got, Object.fromEntries(Object.entries(want.statuses).filter(([code]) => code[0] === '4' || code[0] === '5')), `${at}: 4xx and 5xx by code`);
    assert.equal(h.requests, want.requests, `${at}: requests`);
    assert.equal(h.malformedStartLines, 0, `${at}: malformed start lines`);
    const app = a.events.filter((e) => e.type === 'APP_ERROR' && e.reason === 'http_503');
    assert.equal(app.length, want.statuses['503'] ?? 0, `${at}: one event per 503`);
    checked++;
  }
  assert.equal(checked, frames);
});
