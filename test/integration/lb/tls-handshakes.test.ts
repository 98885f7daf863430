/**
 * Real TLS handshakes (curl/OpenSSL against a Node HTTPS target) captured on a
 * veth: the ClientHello parser must read OpenSSL's bytes (SNI, ALPN, version),
 * and a handshake the target refuses must become a TLS_ERROR with the alert.
 *
 *   [curl, ns lblb-tl] lblb-s1 198.18.55.1 ── lblb-s0 198.18.55.2 https target (root ns)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staticLbKnowledge } from '../../../agent/classify/lb-knowledge.js';
import { missingTools, netnsUnavailableReason, TestNetwork, waitFor } from '../../helpers/netns.js';
import { analyzePcap, type Analysis } from './analyze.js';

const NS = 'lblb-tl';
const TARGET = '198.18.55.2';
const PEER = '198.18.55.1';

const skipReason = netnsUnavailableReason() ?? missingTools(['tcpdump', 'curl', 'openssl']);

let net: TestNetwork | undefined;
let server: Server | undefined;
let dir = '';
let result: Analysis | undefined;
const codes: string[] = [];

function curl(extra: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', NS, 'curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5',
      '--resolve', `shop.test:9443:${TARGET}`, ...extra, 'https://shop.test:9443/'], { encoding: 'utf8' }, (_e, out) => resolve(out.trim()));
  });
}

before(async () => {
  if (skipReason !== undefined) return;
  dir = mkdtempSync(join(tmpdir(), 'lblb-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=shop.test',
    '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  net = new TestNetwork();
  net.addNamespace(NS);
  net.addVeth({ nameA: 'lblb-s0', nameB: 'lblb-s1', nsB: NS, addrA: `${TARGET}/24`, addrB: `${PEER}/24` });
  // The target accepts TLS 1.3 only: an older client gets a fatal protocol_version alert.
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')), minVersion: 'TLSv1.3' }, (_req, res) => res.end('ok'));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => { server!.once('error', reject); server!.listen(9443, TARGET, () => resolve()); });

  const pcap = join(dir, 'tls.pcap');
  const dump: ChildProcess = net.spawn(undefined, 'tcpdump', ['-i', 'lblb-s0', '-s', '2048', '-U', '--immediate-mode', '-n', '-w', pcap, 'tcp']);
  let dumpErr = '';
  dump.stderr?.on('data', (d: Buffer) => { dumpErr += d.toString(); });
  await waitFor(() => dumpErr.includes('listening on'), 5000, 'tcpdump to listen');
  codes.push(await curl(['--http1.1']));
  codes.push(await curl(['--tls-max', '1.2']));
  await new Promise((r) => setTimeout(r, 1000));
  dump.kill('SIGINT');
  await new Promise<void>((r) => { if (dump.exitCode !== null) r(); else dump.once('exit', () => r()); });
  result = await analyzePcap(pcap, { localAddresses: [TARGET], knowledge: staticLbKnowledge({}) });
});

after(() => {
  server?.close();
  net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('OpenSSL ClientHellos are parsed; a refused handshake is a TLS_ERROR with the alert and counted incomplete', (t) => {
  if (skipReason !== undefined) { t.skip(`SKIPPED: ${skipReason}`); return; }
  assert.deepEqual(codes, ['200', '000']);
  const s = result!.snapshot.tls;
  assert.equal(s.httpsConnections, 2);
  assert.equal(s.clientHellosParsed, 2);
  assert.deepEqual(s.versions, { 'TLSv1.2': 1, 'TLSv1.3': 1 });
  assert.equal(s.incompleteHandshakes, 1);
  assert.equal(s.fatalAlerts, 1);
  const [e] = result!.events.filter((x) => x.type === 'TLS_ERROR');
  assert.equal(e?.reason, 'fatal_alert');
  assert.equal(e?.['alert'], 'protocol_version');
  assert.equal(e?.['sent_by'], 'target');
  assert.equal(e?.['sni'], 'shop.test');
  assert.equal(e?.src_ip, PEER);
});
