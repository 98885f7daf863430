/**
 * A forwarding loop through a real haproxy: the target is misconfigured to proxy
 * requests back to its own load balancer (appending to X-Forwarded-For as nginx's
 * $proxy_add_x_forwarded_for does). The request comes round with this instance's
 * address in X-Forwarded-For and the same trace Root each time; the target stops
 * the loop after a bounded number of passes and answers 508.
 *
 *   client ns lblb-lc 198.18.53.2 ── 198.18.53.1 [haproxy, ns lblb-lp] 198.18.52.1 ── 198.18.52.2 target (root ns)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staticLbKnowledge } from '../../../agent/classify/lb-knowledge.js';
import { Haproxy, haproxyUnavailableReason } from '../../helpers/haproxy.js';
import { missingTools, netnsUnavailableReason, TestNetwork, waitFor } from '../../helpers/netns.js';
import { analyzePcap, type Analysis } from './analyze.js';

const NS_LB = 'lblb-lp';
const NS_CL = 'lblb-lc';
const TARGET = '198.18.52.2';
const LB_INNER = '198.18.52.1';
const LB_FRONT = '198.18.53.1';
const CLIENT = '198.18.53.2';
/** The target forwards while X-Forwarded-For has fewer entries than this: 4 passes. */
const MAX_XFF = 7;

const skipReason = netnsUnavailableReason() ?? haproxyUnavailableReason() ?? missingTools(['tcpdump', 'curl']);

let net: TestNetwork | undefined;
let haproxy: Haproxy | undefined;
let server: Server | undefined;
let dir = '';
let passes = 0;
let clientCode = '';
let result: Analysis | undefined;

before(async () => {
  if (skipReason !== undefined) return;
  dir = mkdtempSync(join(tmpdir(), 'lblb-loop-'));
  net = new TestNetwork();
  net.addNamespace(NS_LB);
  net.addNamespace(NS_CL);
  net.addVeth({ nameA: 'lblb-t2', nameB: 'lblb-l2', nsB: NS_LB, addrA: `${TARGET}/24`, addrB: `${LB_INNER}/24` });
  net.addVeth({ nameA: 'lblb-c3', nameB: 'lblb-l3', nsA: NS_CL, nsB: NS_LB, addrA: `${CLIENT}/24`, addrB: `${LB_FRONT}/24` });

  // The misconfigured target: proxies every request back to the load balancer.
  server = createServer((req, res) => {
    passes++;
    const xff = `${req.headers['x-forwarded-for'] ?? ''}`;
    const entries = xff === '' ? 0 : xff.split(',').length;
    if (entries >= MAX_XFF) { res.statusCode = 508; res.end('loop'); return; }
    const headers = { ...req.headers, 'x-forwarded-for': `${xff}, ${req.socket.remoteAddress ?? ''}` };
    const up = request({ host: LB_INNER, port: 8101, path: req.url, method: req.method, headers, agent: false }, (ur) => {
      res.statusCode = ur.statusCode ?? 502;
      ur.pipe(res);
    });
    up.on('error', () => { res.statusCode = 502; res.end(); });
    req.pipe(up);
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve, reject) => { server!.once('error', reject); server!.listen(9101, TARGET, () => resolve()); });

  const pcap = join(dir, 'loop.pcap');
  const dump: ChildProcess = net.spawn(undefined, 'tcpdump', ['-i', 'lblb-t2', '-s', '512', '-U', '--immediate-mode', '-n', '-w', pcap, 'tcp']);
  let dumpErr = '';
  dump.stderr?.on('data', (d: Buffer) => { dumpErr += d.toString(); });
  await waitFor(() => dumpErr.includes('listening on'), 5000, 'tcpdump to listen');

  haproxy = new Haproxy(net, {
    statsSocket: join(dir, 'haproxy.sock'),
    frontends: [
      { name: 'alb', style: 'alb', bind: `${LB_FRONT}:8101`, defaultBackend: 'app' },
      // The same listener as seen from the targets' subnet (an internal ALB's address).
      { name: 'alb_inner', style: 'alb', bind: `${LB_INNER}:8101`, defaultBackend: 'app' },
    ],
    backends: [{ name: 'app', style: 'alb', server: `${TARGET}:9101` }],
  });
  await haproxy.start(NS_LB, join(dir, 'haproxy.cfg'));

  clientCode = await new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', NS_CL, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', `http://${LB_FRONT}:8101/loop`],
      { encoding: 'utf8' }, (_e, out) => resolve(out.trim()));
  });
  // tcpdump writes what libpcap has handed over; give the last packets time to arrive.
  await new Promise((r) => setTimeout(r, 1500));
  dump.kill('SIGINT');
  await new Promise<void>((r) => { if (dump.exitCode !== null) r(); else dump.once('exit', () => r()); });
  haproxy.stop();
  result = await analyzePcap(pcap, { localAddresses: [TARGET], knowledge: staticLbKnowledge({ lbAddresses: [LB_INNER] }) });
});

after(() => {
  server?.close();
  haproxy?.stop();
  net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a request looping through the load balancer is LOOP_DETECTED with the evidence', (t) => {
  if (skipReason !== undefined) { t.skip(`SKIPPED: ${skipReason}`); return; }
  assert.equal(clientCode, '508');
  assert.equal(passes, 4, 'the target saw the request four times');
  const r = result!;
  // Passes 2, 3 and 4 carry this instance's address; the trace Root arrives a third time on pass 3.
  const diag = JSON.stringify({ packets: r.decode.packets, http: r.snapshot.http, events: r.events.map((e) => `${e.type}/${e.reason}`) });
  assert.deepEqual(r.snapshot.loops, { own_address_in_xff: 3, repeated_trace_id: 1 }, diag);
  const loops = r.events.filter((e) => e.type === 'LOOP_DETECTED');
  assert.deepEqual(loops.map((e) => e.reason).sort(), ['own_address_in_xff', 'repeated_trace_id'], 'one event per reason per second');
  const own = loops.find((e) => e.reason === 'own_address_in_xff');
  assert.equal((own?.['evidence'] as { address: string }).address, TARGET);
  assert.equal(own?.client_ip, CLIENT);
  const trace = loops.find((e) => e.reason === 'repeated_trace_id');
  assert.match(String((trace?.['evidence'] as { root: string }).root), /^1-/);
  // Each pass's 508 is a target 5xx as the load balancer sees it.
  assert.equal(r.events.filter((e) => e.type === 'APP_ERROR' && e.reason === 'http_508').length, 4);
  assert.equal(r.snapshot.http.requests, 4, 'the looping proxy\'s own outgoing requests are not counted as client requests');
});
