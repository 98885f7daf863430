import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connEnd, createClassifiers } from '../../../agent/classify/classifiers.js';
import { ConnEnd, ConnectionState } from '../../../agent/classify/connection-state.js';
import { staticLbKnowledge } from '../../../agent/classify/lb-knowledge.js';
import type { AnalyzerEvent } from '../../../agent/events/schema.js';
import type { TcpConnection } from '../../../agent/flows/tcp-observer.js';
import { ConnState } from '../../../agent/flows/conn-state.js';
import { IpVersion } from '../../../agent/decode/packet-view.js';
import { awsVpceTlv, proxyV2, SegmentScript } from './bytes.js';
import { Harness } from '../flows/flow-harness.js';
import { TcpConversation } from '../../helpers/packet-builder.js';

function conn(state: ConnState, history: string, extra: Partial<TcpConnection> = {}): TcpConnection {
  return {
    ipVersion: IpVersion.V4, origIp4: 0xc6123201, respIp4: 0xc6123202, origIp6: new Uint8Array(0), respIp6: new Uint8Array(0),
    origPort: 40000, respPort: 8080, synSeen: true, localIsOriginator: false, firstSeenMicros: 1_000_000, lastSeenMicros: 2_000_000,
    history, historyIndexOf: (letter: string) => history.indexOf(letter), bytesOrig: 0, bytesResp: 0, sampled: true, state, app: undefined, index: 0, ...extra,
  };
}

test('connection ends are read from the Zeek state and who sent the first FIN', () => {
  assert.deepEqual(connEnd(conn(ConnState.REJ, 'Sr')), { how: ConnEnd.REFUSED, established: false });
  assert.deepEqual(connEnd(conn(ConnState.S0, 'S')), { how: ConnEnd.UNANSWERED, established: false });
  assert.equal(connEnd(conn(ConnState.RSTR, 'ShADdr')).how, ConnEnd.RESET_BY_RESPONDER);
  assert.equal(connEnd(conn(ConnState.RSTO, 'ShADR')).how, ConnEnd.RESET_BY_ORIGINATOR);
  assert.equal(connEnd(conn(ConnState.SF, 'ShADdfF')).how, ConnEnd.FIN_BY_RESPONDER);
  assert.equal(connEnd(conn(ConnState.SF, 'ShADdFf')).how, ConnEnd.FIN_BY_ORIGINATOR);
  assert.equal(connEnd(conn(ConnState.S1, 'ShAD')).how, ConnEnd.EXPIRED);
  assert.equal(connEnd(conn(ConnState.SF, 'ShAFf')).established, true);
});

test('the observer keeps per-connection state in the app slot and reports through the sink', () => {
  // Prepare
  const events: AnalyzerEvent[] = [];
  const k = createClassifiers({ sink: { emit: (e) => events.push(e) }, knowledge: staticLbKnowledge({ lbAddresses: ['198.18.50.1'] }) });
  const c = conn(ConnState.RSTR, 'ShADr');
  const s = new SegmentScript();
  // Act
  k.observer.onSegment(c, true, s.seg(true, 'GET /k HTTP/1.1\r\nX-Amzn-Trace-Id: Root=1-1-1\r\n\r\n'));
  assert.equal(k.lbTypeOf(c), 'ALB');
  k.observer.onClose(c);
  // Assess
  assert.ok(c.app !== undefined);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.reason, 'target_reset_before_response');
  assert.equal(events[0]?.src_ip, '198.18.50.1');
  assert.equal(events[0]?.dst_ip, '198.18.50.2');
  assert.equal(k.snapshot().http.requests, 1);
});

test('connections this instance opened are ignored unless asked for', () => {
  const events: AnalyzerEvent[] = [];
  const k = createClassifiers({ sink: { emit: (e) => events.push(e) } });
  const c = conn(ConnState.SF, 'ShADadFf', { localIsOriginator: true });
  const s = new SegmentScript();
  k.observer.onSegment(c, true, s.seg(true, 'GET / HTTP/1.1\r\n\r\n'));
  k.observer.onSegment(c, false, s.seg(false, 'HTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n'));
  k.observer.onClose(c);
  assert.equal(events.length, 0);
  assert.equal(k.snapshot().http.requests, 0);
});

test('a TCP health check with no payload is seen only at close, and a GENEVE-marked flow is a GWLB flow', () => {
  const k = createClassifiers({ sink: { emit: () => undefined }, knowledge: staticLbKnowledge({ lbAddresses: ['198.18.50.1'] }) });
  k.observer.onClose(conn(ConnState.SF, 'ShAFf'));
  const g = conn(ConnState.SF, 'ShADdFf');
  k.markGeneve(g);
  const s = new SegmentScript();
  k.observer.onSegment(g, true, s.seg(true, 'GET / HTTP/1.1\r\n\r\n'));
  k.observer.onClose(g);
  const inner = conn(ConnState.SF, 'ShADdFf', { origPort: 40001 });
  k.insideGeneve(() => k.observer.onSegment(inner, true, s.seg(true, 'GET / HTTP/1.1\r\n\r\n')));
  k.observer.onClose(inner);
  const snap = k.snapshot();
  assert.deepEqual(snap.healthChecks.tcp, { ok: 1, failed: 0 });
  assert.equal(snap.lbTypes.flows['GWLB'], 2);
});

test('a connection that never carried payload gets classifier state at close only when it can be a TCP health check', () => {
  // Prepare: the load balancer is 198.18.50.1; the other peers are clients or a SYN flood.
  const k = createClassifiers({ sink: { emit: () => undefined }, knowledge: staticLbKnowledge({ lbAddresses: ['198.18.50.1'] }) });
  const refused = conn(ConnState.REJ, 'Sr', { origIp4: 0xc6123209 });
  const withBytes = conn(ConnState.SF, 'ShADadFf', { bytesOrig: 120, bytesResp: 80 });
  const check = conn(ConnState.SF, 'ShAFf');
  // Act
  k.observer.onClose(refused);
  k.observer.onClose(withBytes);
  k.observer.onClose(check);
  // Assess: neither of the first two counts for anything, so neither got a ConnectionState.
  assert.equal(refused.app, undefined);
  assert.equal(withBytes.app, undefined);
  assert.ok(check.app !== undefined);
  const snap = k.snapshot();
  assert.deepEqual(snap.healthChecks.tcp, { ok: 1, failed: 0 });
  assert.deepEqual(snap.lbTypes.flows, { NLB: 1 }, 'only the health check is a load-balancer flow');
});

test('classifier state reads its connection\'s addresses, ports and age from the flow table by index: interleaved IPv4 and IPv6 connections each report their own, and so does one that takes a freed index', () => {
  // Prepare: the real flow table and classifiers; the load balancer is 198.18.50.1.
  const events: AnalyzerEvent[] = [];
  const k = createClassifiers({ sink: { emit: (e) => events.push(e) }, knowledge: staticLbKnowledge({ lbAddresses: ['198.18.50.1'] }) });
  const indexOf = new Map<number, number>();
  const h = new Harness({ observer: {
    onSegment: (conn, fromOriginator, v) => { indexOf.set(conn.origPort, conn.index); k.observer.onSegment(conn, fromOriginator, v); },
    onClose: (conn) => k.observer.onClose(conn),
  } });
  const a = new TcpConversation('198.18.50.1', '10.0.2.100', 40000, 8080, { c: 3_000_000_000, s: 7 });
  const b = new TcpConversation('2001:db8::7', '2001:db8::100', 41000, 8443);
  const c = new TcpConversation('198.18.50.9', '10.0.2.100', 40001, 8080);
  const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: shop\r\n\r\n`;
  const status = (code: number): string => `HTTP/1.1 ${code} X\r\nContent-Length: 0\r\n\r\n`;
  // Act: handshakes and requests interleaved, answers in another order.
  h.feed([...a.handshake(), ...b.handshake()]);
  h.feed([a.seg(true, 'PA', get('/a')), ...c.handshake(), b.seg(true, 'PA', get('/b'))]);
  h.feed(c.seg(true, 'PA', get('/c')), 500);
  h.feed([b.seg(false, 'PA', status(503)), a.seg(false, 'PA', status(500)), c.seg(false, 'PA', status(502))]);
  // c's target closes with a request unanswered, 500 ms after c's handshake began: its age comes from the table.
  h.feed(c.seg(true, 'PA', get('/c2')), 10);
  h.feed([c.seg(false, 'FA'), c.seg(true, 'FA'), c.seg(false, 'A')]);
  // a closes; a, b and c leave the table (closed, or idle); d, opened next, takes a freed index.
  h.feed([a.seg(true, 'FA'), a.seg(false, 'FA'), a.seg(true, 'A')]).wait(600_000);
  const d = new TcpConversation('198.18.50.1', '10.0.2.101', 45000, 9090);
  h.feed([...d.handshake(), d.seg(true, 'PA', get('/d')), d.seg(false, 'PA', status(504))]);
  // Assess
  const byPath = (p: string): AnalyzerEvent | undefined => events.find((e) => e['path'] === p);
  const ends = (e: AnalyzerEvent | undefined): unknown[] => [e?.src_ip, e?.src_port, e?.dst_ip, e?.dst_port];
  assert.deepEqual(ends(byPath('/a')), ['198.18.50.1', 40000, '10.0.2.100', 8080]);
  assert.deepEqual(ends(byPath('/b')), ['2001:db8::7', 41000, '2001:db8::100', 8443]);
  assert.deepEqual(ends(byPath('/c')), ['198.18.50.9', 40001, '10.0.2.100', 8080]);
  assert.deepEqual(ends(byPath('/d')), ['198.18.50.1', 45000, '10.0.2.101', 9090]);
  const closed = byPath('/c2');
  assert.equal(closed?.reason, 'target_closed_before_response');
  assert.deepEqual(ends(closed), ['198.18.50.9', 40001, '10.0.2.100', 8080]);
  // One frame a millisecond: c's SYN is the 8th frame (7 ms); /c2 follows /c by 500 ms and three answers (514 ms).
  assert.equal(closed?.['connection_age_ms'], 514 - 7);
  assert.equal(new Set([40000, 41000, 40001].map((p) => indexOf.get(p))).size, 3);
  assert.ok([40000, 41000, 40001].some((p) => indexOf.get(p) === indexOf.get(45000)), 'd took an index another connection left');
  assert.match(String(closed?.message), /198\.18\.50\.9:40001 -> 10\.0\.2\.100:8080/);
});

for (const via of ['alb', 'nlb-proxy', 'nlb-proxy-no-endpoint'] as const) {
  test(`past the 4,096 most recently active, a connection's state rests in the table without an object and wakes at its next segment, as it was (${via})`, () => {
    // Prepare: 5,000 connections, each a request answered 200; then each, oldest first, asks again and gets a 503.
    // Through an ALB the first request comes in two segments (a prelude held until the method is known) with a
    // trace id; through an NLB it follows a proxy protocol v2 header with the client's address and an endpoint id,
    // or with the address alone: that header rests as the address, a number, not an object.
    const events: AnalyzerEvent[] = [];
    const k = createClassifiers({ sink: { emit: (e) => events.push(e) }, knowledge: staticLbKnowledge({ lbAddresses: ['198.18.50.1'] }) });
    const appAtSecond = new Map<number, unknown>();
    let second = false;
    const h = new Harness({ maxConnections: 10_000, observer: {
      onSegment: (conn, fromOriginator, v) => {
        if (second && fromOriginator && !appAtSecond.has(conn.origPort)) appAtSecond.set(conn.origPort, conn.app);
        k.observer.onSegment(conn, fromOriginator, v);
      },
      onClose: (conn) => k.observer.onClose(conn),
    } });
    const n = 5000;
    const client = (i: number): string => `203.0.${(i >> 8) & 255}.${i & 255}`;
    const convs = Array.from({ length: n }, (_, i) => new TcpConversation(`198.18.${(i >> 8) & 255}.${i & 255}`, '10.0.2.100', 20000 + i, 8080,
      { c: (Math.imul(i, 0x9e3779b1) >>> 0), s: (Math.imul(i, 0x85ebca6b) >>> 0) }));
    for (const [i, c] of convs.entries()) {
      const first = `GET /first-${i} HTTP/1.1\r\nHost: shop\r\nX-Amzn-Trace-Id: Root=1-${i}-1\r\n\r\n`;
      const opening = via === 'alb'
        ? [c.seg(true, 'PA', first.slice(0, 2)), c.seg(true, 'PA', first.slice(2))]
        : [c.seg(true, 'PA', Buffer.concat([proxyV2({ src: [203, 0, (i >> 8) & 255, i & 255], tlvs: via === 'nlb-proxy' ? [awsVpceTlv('vpce-0abc')] : [] }),
          Buffer.from(`GET /first-${i} HTTP/1.1\r\nHost: shop\r\n\r\n`)]))];
      h.feed([...c.handshake(), ...opening, c.seg(false, 'PA', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')], 0.01);
    }
    // Act
    second = true;
    for (const [i, c] of convs.entries()) {
      // The request in two segments and the answer's body in two: the state wakes, holds a stream, rests again.
      const req = `GET /second-${i} HTTP/1.1\r\nHost: shop\r\n\r\n`;
      h.feed([c.seg(true, 'PA', req.slice(0, 9)), c.seg(true, 'PA', req.slice(9)),
        c.seg(false, 'PA', 'HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbu'), c.seg(false, 'PA', 'sy')], 0.01);
    }
    // Assess
    const errors = events.filter((e) => e.type === 'APP_ERROR');
    assert.equal(errors.length, n);
    for (const [i, e] of errors.entries()) {
      const src = `198.18.${(i >> 8) & 255}.${i & 255}`;
      assert.deepEqual([e['path'], e.src_ip, e.src_port, e['status'], e.client_ip, e['vpce_id']],
        [`/second-${i}`, src, 20000 + i, 503, via === 'alb' ? src : client(i), via === 'nlb-proxy' ? 'vpce-0abc' : undefined]);
    }
    const snap = k.snapshot();
    assert.deepEqual([snap.http.requests, snap.http.responses, snap.http.orphanResponses, snap.http.partialHeads], [2 * n, 2 * n, 0, 0]);
    assert.equal(snap.http.statusClasses['2xx'], n);
    // Each had rested (no state object) by its second request: 5,000 others' segments came between.
    assert.ok([...appAtSecond.values()].every((app) => app !== undefined && !(app instanceof ConnectionState)), 'a rested state is marked');
    if (via === 'nlb-proxy-no-endpoint') assert.ok([...appAtSecond.values()].every((app) => typeof app === 'number'), 'the header rests as the address');
    assert.equal(appAtSecond.size, n);
    // A connection active again at once is still awake.
    const last = convs[n - 1] as TcpConversation;
    appAtSecond.clear();
    h.feed(last.seg(true, 'PA', 'GET /third HTTP/1.1\r\nHost: shop\r\n\r\n'));
    assert.ok(appAtSecond.get(20000 + n - 1) instanceof ConnectionState);
    // What the first requests taught (a trace id: an ALB; a proxy v2 header: an NLB) survived the rest: every flow counts so at its end.
    h.finish();
    const end = k.snapshot().lbTypes;
    if (via === 'alb') assert.deepEqual([end.flows['ALB'], end.indicators['trace_id']], [n, n]);
    else assert.deepEqual([end.flows['NLB'], end.indicators['proxy_protocol_v2']], [n, n]);
  });
}
