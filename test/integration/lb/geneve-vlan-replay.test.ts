/**
 * GWLB (GENEVE on UDP 6081) and 802.1Q-tagged traffic as crafted frames: this
 * kernel has neither geneve nor vlan links, so the frames are built by hand,
 * replayed with tcpreplay from a namespace onto the target's veth, captured there
 * with tcpdump and analysed. The inner packets of GENEVE are flows of their own,
 * attributed to the GWLB.
 *
 *   [tcpreplay, ns lblb-gw] lblb-g1 198.18.54.1 ── lblb-g0 198.18.54.2 (root ns, captured)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staticLbKnowledge } from '../../../agent/classify/lb-knowledge.js';
import { ipTcp, TcpConversation, udp } from '../../helpers/packet-builder.js';
import { missingTools, netnsUnavailableReason, TestNetwork, waitFor } from '../../helpers/netns.js';
import { writePcap, type Frame } from '../../helpers/pcap-writer.js';
import { geneve, gwlbOptions } from '../../unit/classify/bytes.js';
import { analyzePcap, type Analysis } from './analyze.js';

const NS = 'lblb-gw';
const TARGET = '198.18.54.2';
const PEER = '198.18.54.1';

const skipReason = netnsUnavailableReason() ?? missingTools(['tcpdump', 'tcpreplay']);

/** The inner conversation a GWLB hands this appliance: client 10.1.0.5 → server 10.2.0.9:80. */
function innerPackets(): Buffer[] {
  let c = 7000;
  let s = 9000;
  const cl = { src: '10.1.0.5', dst: '10.2.0.9', sport: 40000, dport: 80 };
  const sv = { src: '10.2.0.9', dst: '10.1.0.5', sport: 80, dport: 40000 };
  const req = 'GET /inner HTTP/1.1\r\nHost: app\r\n\r\n';
  const res = 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n';
  const out = [
    ipTcp({ ...cl, flags: 'S', seq: c }),
    ipTcp({ ...sv, flags: 'SA', seq: s, ack: c + 1 }),
    ipTcp({ ...cl, flags: 'A', seq: c + 1, ack: s + 1 }),
    ipTcp({ ...cl, flags: 'PA', seq: c + 1, ack: s + 1, payload: req }),
  ];
  c += 1 + req.length;
  out.push(ipTcp({ ...sv, flags: 'PA', seq: s + 1, ack: c, payload: res }));
  s += 1 + res.length;
  out.push(ipTcp({ ...cl, flags: 'FA', seq: c, ack: s }), ipTcp({ ...sv, flags: 'FA', seq: s, ack: c + 1 }), ipTcp({ ...cl, flags: 'A', seq: c + 1, ack: s + 1 }));
  return out;
}

function vlanConversation(): Buffer[] {
  const conv = new TcpConversation(PEER, TARGET, 41000, 8080);
  const tag = { vlan: 100 };
  return [
    conv.seg(true, 'S', '', tag), conv.seg(false, 'SA', '', tag), conv.seg(true, 'A', '', tag),
    conv.seg(true, 'PA', 'GET /vlan HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 192.0.2.33\r\n\r\n', tag),
    conv.seg(false, 'PA', 'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n', tag),
    conv.seg(true, 'FA', '', tag), conv.seg(false, 'FA', '', tag), conv.seg(true, 'A', '', tag),
  ];
}

let net: TestNetwork | undefined;
let dir = '';
let result: Analysis | undefined;
let geneveFrames = 0;

before(async () => {
  if (skipReason !== undefined) return;
  dir = mkdtempSync(join(tmpdir(), 'lblb-gw-'));
  net = new TestNetwork();
  net.addNamespace(NS);
  net.addVeth({ nameA: 'lblb-g0', nameB: 'lblb-g1', nsB: NS, addrA: `${TARGET}/24`, addrB: `${PEER}/24` });

  const frames: Frame[] = [];
  let ts = 1_771_147_815_000_000;
  for (const inner of innerPackets()) {
    frames.push({ tsMicros: (ts += 1000), data: udp({ src: PEER, dst: TARGET, sport: 50000, dport: 6081, payload: geneve(gwlbOptions(), inner) }) });
    geneveFrames++;
  }
  for (const f of vlanConversation()) frames.push({ tsMicros: (ts += 1000), data: f });
  const replay = join(dir, 'replay.pcap');
  writePcap(replay, frames);

  const pcap = join(dir, 'captured.pcap');
  const dump: ChildProcess = net.spawn(undefined, 'tcpdump', ['-i', 'lblb-g0', '-s', '512', '-U', '--immediate-mode', '-n', '-w', pcap, 'udp port 6081 or vlan or tcp']);
  let dumpErr = '';
  dump.stderr?.on('data', (d: Buffer) => { dumpErr += d.toString(); });
  await waitFor(() => dumpErr.includes('listening on'), 5000, 'tcpdump to listen');
  net.exec(NS, 'tcpreplay', ['-q', '-i', 'lblb-g1', '--pps', '200', replay]);
  await new Promise((r) => setTimeout(r, 1000));
  dump.kill('SIGINT');
  await new Promise<void>((r) => { if (dump.exitCode !== null) r(); else dump.once('exit', () => r()); });
  result = await analyzePcap(pcap, { localAddresses: [TARGET], knowledge: staticLbKnowledge({ lbAddresses: [PEER] }) });
});

after(() => {
  net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('GENEVE from a GWLB: every datagram parsed, the inner flow analysed as its own and attributed to the GWLB', (t) => {
  if (skipReason !== undefined) { t.skip(`SKIPPED: ${skipReason}`); return; }
  const r = result!;
  assert.deepEqual(r.snapshot.geneve, { packets: geneveFrames, malformed: 0, inner: geneveFrames });
  const e = r.events.filter((x) => x.type === 'APP_ERROR' && x.reason === 'http_503');
  assert.equal(e.length, 1);
  assert.equal(e[0]?.['path'], '/inner');
  assert.equal(e[0]?.src_ip, '10.1.0.5');
  assert.equal(e[0]?.dst_ip, '10.2.0.9');
  assert.deepEqual(e[0]?.lb, { type: 'GWLB' });
  assert.equal(r.snapshot.lbTypes.flows['GWLB'], 1);
  assert.equal(r.snapshot.lbTypes.indicators['geneve'], 1);
});

test('VLAN-tagged traffic is classified like any other', (t) => {
  if (skipReason !== undefined) { t.skip(`SKIPPED: ${skipReason}`); return; }
  const r = result!;
  assert.ok(r.decode.vlanTagged >= 8, `vlan-tagged packets decoded: ${r.decode.vlanTagged}`);
  const e = r.events.filter((x) => x.type === 'APP_ERROR' && x.reason === 'http_500');
  assert.equal(e.length, 1);
  assert.equal(e[0]?.['path'], '/vlan');
  assert.equal(e[0]?.client_ip, '192.0.2.33');
  assert.equal(r.snapshot.http.requests, 2);
});
