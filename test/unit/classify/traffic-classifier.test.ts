import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrafficClassifier } from '../../../agent/classify/traffic-classifier.js';
import { ConnEnd, IndicatorBit, Phase, type ConnFacts } from '../../../agent/classify/connection-state.js';
import { staticLbKnowledge, type LbKnowledge } from '../../../agent/classify/lb-knowledge.js';
import type { AnalyzerEvent, EventSink } from '../../../agent/events/schema.js';
import { PacketView, IpVersion, IpProto } from '../../../agent/decode/packet-view.js';
import { alertRecord, clientHelloRecord, geneve, gwlbOptions, proxyV2, SegmentScript, tlsRecord } from './bytes.js';

class Collector implements EventSink {
  readonly events: AnalyzerEvent[] = [];
  emit(e: AnalyzerEvent): void { this.events.push(e); }
  of(type: string): AnalyzerEvent[] { return this.events.filter((e) => e.type === type); }
}

const LB_IP = '198.18.50.1';
const TARGET_IP = '198.18.50.2';
const FACTS: ConnFacts = { originatorIp: LB_IP, originatorPort: 40000, responderIp: TARGET_IP, responderPort: 8080 };

function setup(knowledge?: LbKnowledge) {
  const sink = new Collector();
  const k = knowledge ?? staticLbKnowledge({ lbAddresses: [LB_IP] });
  const c = new TrafficClassifier({ sink, knowledge: k });
  const s = new SegmentScript();
  const cs = c.open(FACTS, s.ts);
  return { sink, c, s, cs };
}

let traceSeq = 0;
/** A request as an ALB forwards it, each with a fresh trace id. */
const ALB_REQ = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: shop\r\nX-Forwarded-For: 203.0.113.45\r\nX-Forwarded-Proto: http\r\n` +
  `X-Amzn-Trace-Id: Root=1-67891233-${(++traceSeq).toString(16).padStart(24, '0')}\r\n${extra}\r\n`;

test('a request answered 200 is counted with its latency and no event', () => {
  // Prepare
  const { sink, c, s, cs } = setup();
  // Act
  c.onPayload(cs, true, s.seg(true, ALB_REQ('/ok')));
  c.onPayload(cs, false, s.wait(12).seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
  // Assess
  const snap = c.snapshot();
  assert.equal(snap.http.requests, 1);
  assert.equal(snap.http.statusClasses['2xx'], 1);
  assert.equal(snap.http.latency.count, 1);
  assert.equal(snap.http.latency.maxMs, 12);
  assert.equal(sink.events.length, 0);
  assert.deepEqual(snap.topClients.map((t) => t.key), ['203.0.113.45']);
  assert.equal(snap.lbTypes.flows['ALB'], 1);
  assert.equal(snap.lbTypes.indicators['trace_id'], 1);
});

test('a 5xx becomes an APP_ERROR with status, method, path, latency, client IP, trace id and LB', () => {
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, ALB_REQ('/pay?card=4111')));
  c.onPayload(cs, false, s.wait(250).seg(false, 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'));
  const [e] = sink.of('APP_ERROR');
  assert.ok(e);
  assert.equal(e.reason, 'http_503');
  assert.equal(e['status'], 503);
  assert.equal(e['method'], 'GET');
  assert.equal(e['path'], '/pay');
  assert.equal(e['latency_ms'], 250);
  assert.equal(e.client_ip, '203.0.113.45');
  assert.match(String(e['trace_id']), /^Root=1-67891233-/);
  assert.deepEqual(e.lb, { type: 'ALB' });
  assert.equal(e.src_ip, LB_IP);
  assert.equal(e.dst_port, 8080);
  assert.match(e.message, /HTTP 503: GET \/pay from 203\.0\.113\.45/);
  assert.ok(!JSON.stringify(e).includes('4111'), 'query string leaked into the event');
  assert.equal(c.snapshot().http.status5xx['503'], 1);
});

test('4xx are counted per code without events', () => {
  const { sink, c, s, cs } = setup();
  for (const code of [404, 404, 429]) {
    c.onPayload(cs, true, s.seg(true, ALB_REQ('/x')));
    c.onPayload(cs, false, s.seg(false, `HTTP/1.1 ${code} X\r\nContent-Length: 3\r\n\r\nabc`));
  }
  const snap = c.snapshot();
  assert.deepEqual(snap.http.status4xx, { '404': 2, '429': 1 });
  assert.equal(snap.http.statusClasses['4xx'], 3);
  assert.equal(sink.events.length, 0);
});

test('keep-alive: bodies (length and chunked) are skipped, 100-continue is not paired, order is kept', () => {
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, 'POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n'));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 100 Continue\r\n\r\n'));
  c.onPayload(cs, true, s.seg(true, '0123456789'));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
  // Two pipelined requests in one segment, answered in one segment.
  c.onPayload(cs, true, s.seg(true, 'GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n'));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n'));
  const snap = c.snapshot();
  assert.equal(snap.http.requests, 3);
  assert.equal(snap.http.responses, 3);
  assert.equal(snap.http.statusClasses['1xx'], 0);
  assert.equal(snap.http.statusClasses['2xx'], 2);
  assert.equal(snap.http.orphanResponses, 0);
  const [e] = sink.of('APP_ERROR');
  assert.equal(e?.['path'], '/b', 'the 500 belongs to the second pipelined request');
  assert.equal(e?.client_ip, LB_IP, 'no XFF and no proxy header: the packet source');
});

test('a head spread over several segments is assembled at the blank line', () => {
  const { c, s, cs } = setup();
  const req = ALB_REQ('/split', 'User-Agent: test\r\n');
  c.onPayload(cs, true, s.seg(true, req.slice(0, 7)));
  c.onPayload(cs, true, s.seg(true, req.slice(7, 60)));
  c.onPayload(cs, true, s.seg(true, req.slice(60)));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 204 No Content\r\n\r\n'));
  const snap = c.snapshot();
  assert.equal(snap.http.requests, 1);
  assert.equal(snap.http.statusClasses['2xx'], 1);
  assert.equal(snap.http.malformedStartLines, 0);
});

test('a retransmitted request is not counted twice', () => {
  const { c, s, cs } = setup();
  const req = ALB_REQ('/r');
  c.onPayload(cs, true, s.seg(true, req));
  c.onPayload(cs, true, s.retransmit(true, req));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  assert.equal(c.snapshot().http.requests, 1);
  assert.equal(c.snapshot().http.orphanResponses, 0);
});

test('snaplen-cut bodies are skipped by wire length, so the next request is still seen', () => {
  const { c, s, cs } = setup();
  const body = 'B'.repeat(3000);
  c.onPayload(cs, true, s.seg(true, `POST /big HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n` + body.slice(0, 1000), { capLen: 100 }));
  c.onPayload(cs, true, s.seg(true, body.slice(1000), { capLen: 40 }));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n' + 'x'.repeat(1400), { capLen: 120 }));
  c.onPayload(cs, false, s.seg(false, 'x'.repeat(3600), { capLen: 10 }));
  c.onPayload(cs, true, s.seg(true, 'GET /next HTTP/1.1\r\n\r\n'));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n'));
  const snap = c.snapshot();
  assert.equal(snap.http.requests, 2);
  assert.deepEqual(snap.http.status4xx, { '404': 1 });
  assert.equal(snap.http.malformedStartLines, 0);
});

test('target closing before answering is an APP_ERROR that names the keep-alive cause', () => {
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, ALB_REQ('/slow')));
  c.onClose(cs, ConnEnd.FIN_BY_RESPONDER, true, s.wait(3).ts);
  const [e] = sink.of('APP_ERROR');
  assert.equal(e?.reason, 'target_closed_before_response');
  assert.match(e?.message ?? '', /keep-alive timeout is shorter than the load balancer's idle timeout/);
  assert.equal(e?.['path'], '/slow');
  assert.equal(e?.client_ip, '203.0.113.45');
  assert.equal(c.snapshot().http.targetClosedBeforeResponse, 1);
});

test('target resetting before answering is its own reason', () => {
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, ALB_REQ('/boom')));
  c.onClose(cs, ConnEnd.RESET_BY_RESPONDER, true, s.ts);
  assert.equal(sink.of('APP_ERROR')[0]?.reason, 'target_reset_before_response');
  assert.equal(c.snapshot().http.targetResetBeforeResponse, 1);
});

test('a request the peer gave up on is counted unanswered; orphan responses are counted', () => {
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  c.onPayload(cs, true, s.seg(true, 'GET /x HTTP/1.1\r\n\r\n'));
  c.onClose(cs, ConnEnd.RESET_BY_ORIGINATOR, true, s.ts);
  const snap = c.snapshot();
  // The server spoke first, so this connection is not followed as HTTP at all.
  assert.equal(snap.http.requests, 0);
  assert.equal(snap.otherProtocolConnections, 1);
  assert.equal(sink.events.length, 0);
  const b = setup();
  b.c.onPayload(b.cs, true, b.s.seg(true, 'GET /x HTTP/1.1\r\n\r\n'));
  b.c.onPayload(b.cs, false, b.s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  b.c.onPayload(b.cs, true, b.s.seg(true, 'GET /y HTTP/1.1\r\n\r\n'));
  b.c.onClose(b.cs, ConnEnd.FIN_BY_ORIGINATOR, true, b.s.ts);
  assert.equal(b.c.snapshot().http.orphanResponses, 1);
  assert.equal(b.c.snapshot().http.unansweredRequests, 1);
});

test('an HTTP connection between messages holds no stream; a head or body that spans segments keeps its stream until it ends', () => {
  const { sink, c, s, cs } = setup();
  const req = ALB_REQ('/span');
  c.onPayload(cs, true, s.seg(true, req.slice(0, 20)));
  assert.notEqual(cs.req, undefined, 'half a head is kept');
  c.onPayload(cs, true, s.seg(true, req.slice(20)));
  assert.equal(cs.req, undefined, 'the head ended: nothing kept');
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 500 Oops\r\nContent-Length: 10\r\n\r\n01234'));
  assert.notEqual(cs.res, undefined, 'a body half read is kept');
  c.onPayload(cs, false, s.seg(false, '56789HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab'));
  assert.notEqual(cs.res, undefined, 'an orphan response in a chunk');
  c.onPayload(cs, false, s.seg(false, 'c\r\n0\r\n\r\n'));
  assert.deepEqual([cs.req, cs.res], [undefined, undefined]);
  // Many connections at rest share the pool's few streams: the next message reads the same.
  c.onPayload(cs, true, s.seg(true, ALB_REQ('/next')));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n'));
  assert.deepEqual(sink.of('APP_ERROR').map((e) => [e['path'], e['status']]), [['/span', 500], ['/next', 503]]);
  assert.equal(c.snapshot().http.orphanResponses, 1);
});

test('a 101 upgrade and a CONNECT tunnel stop both directions being read as HTTP, also when the request side was between messages', () => {
  for (const [request, answer] of [
    ['GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'],
    ['CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n', 'HTTP/1.1 200 Connection established\r\n\r\n'],
  ] as const) {
    const { sink, c, s, cs } = setup();
    c.onPayload(cs, true, s.seg(true, request));
    assert.equal(cs.req, undefined, 'the request side is between messages when the answer comes');
    c.onPayload(cs, false, s.seg(false, answer));
    // Bytes that look like HTTP are tunnel payload now, either way.
    c.onPayload(cs, true, s.seg(true, 'GET /inside HTTP/1.1\r\n\r\n'));
    c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 500 Inside\r\nContent-Length: 0\r\n\r\n'));
    const snap = c.snapshot();
    assert.equal(snap.http.requests, 1, request);
    assert.equal(snap.http.responses, 1, request);
    assert.equal(sink.events.length, 0, request);
  }
});

test('pipelined requests wait up to the bound (64, at most 127 when configured higher), and the oldest beyond it count unanswered', () => {
  for (const [bound, kept] of [[undefined, 64], [1000, 127], [5, 5]] as const) {
    const sink = new Collector();
    const c = new TrafficClassifier({ sink, knowledge: staticLbKnowledge({ lbAddresses: [LB_IP] }), maxPendingRequests: bound });
    const s = new SegmentScript();
    const cs = c.open(FACTS, s.ts);
    for (let i = 0; i < 200; i++) c.onPayload(cs, true, s.seg(true, `GET /p${i} HTTP/1.1\r\nHost: a\r\n\r\n`));
    assert.equal(cs.pendingCount, kept);
    assert.equal(c.snapshot().http.unansweredRequests, 200 - kept);
    cs.indicators |= IndicatorBit.GENEVE;
    // The count shares a word with the phase and the indicators: neither is disturbed.
    c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 502 Bad\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(cs.pendingCount, kept - 1);
    assert.deepEqual([cs.phase, cs.indicators, cs.c2sData, cs.s2cData], [Phase.HTTP, IndicatorBit.GENEVE, true, true]);
    assert.equal(sink.of('APP_ERROR')[0]?.['path'], `/p${200 - kept}`, 'the oldest kept request is answered first');
    assert.equal(c.snapshot().http.requests, 200);
  }
});

test('malformed start lines mid-stream are counted and the stream resynchronises', () => {
  const { c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, 'GET /1 HTTP/1.1\r\n\r\n'));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  c.onPayload(cs, true, s.seg(true, '\x00\x01garbage\r\n\r\n'));
  c.onPayload(cs, true, s.seg(true, 'GET /2 HTTP/1.1\r\n\r\n'));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  const snap = c.snapshot();
  assert.equal(snap.http.malformedStartLines, 1);
  assert.equal(snap.http.requests, 2);
});

test('an oversized head is counted, not buffered without bound, and its request still answered', () => {
  const { c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, 'GET / HTTP/1.1\r\nX-Big: '));
  for (let i = 0; i < 50; i++) c.onPayload(cs, true, s.seg(true, 'a'.repeat(1400)));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n'));
  const snap = c.snapshot();
  assert.equal(snap.http.headsTooLarge, 1);
  assert.equal(snap.http.requests, 1, 'the first 64 KB are scanned as a partial head');
  assert.equal(snap.http.orphanResponses, 0);
});

test('the HTTP/2 prior-knowledge preface is counted', () => {
  const { c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04'));
  assert.equal(c.snapshot().http.http2Prefaces, 1);
  assert.equal(c.snapshot().http.requests, 0);
});

test('ALB health checks are judged by the matcher and kept out of client statistics', () => {
  // Prepare: the target group expects 200 only, 2 s timeout.
  const knowledge = staticLbKnowledge({ lbAddresses: [LB_IP], healthChecks: { 8080: { protocol: 'HTTP', matcher: '200', timeoutSec: 2 } } });
  const { sink, c, s, cs } = setup(knowledge);
  const hc = 'GET /health HTTP/1.1\r\nHost: 198.18.50.2:8080\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n';
  // Act
  c.onPayload(cs, true, s.seg(true, hc));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  c.onPayload(cs, true, s.seg(true, hc));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n'));
  c.onPayload(cs, true, s.seg(true, hc));
  c.onPayload(cs, false, s.wait(2500).seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  // Assess
  const snap = c.snapshot();
  assert.deepEqual(snap.healthChecks.http, { ok: 1, failed: 2 });
  assert.deepEqual(snap.healthChecks.failures, { 'http:timeout': 1, 'http:unexpected_status': 1 });
  assert.equal(snap.http.requests, 0);
  assert.equal(snap.http.responses, 0);
  assert.equal(snap.topClients.length, 0);
  const fails = sink.of('HEALTH_CHECK_FAIL');
  assert.deepEqual(fails.map((e) => e.reason), ['unexpected_status', 'timeout']);
  assert.equal(fails[0]?.['status'], 302);
  assert.match(fails[0]?.message ?? '', /answered 302, expected 200/);
  assert.equal(sink.of('APP_ERROR').length, 0);
  assert.equal(snap.healthChecks.byLb['ALB']?.failed, 2);
});

test('a health check left unanswered fails on tick after its timeout, once', () => {
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, 'GET / HTTP/1.1\r\nUser-Agent: ELB-HealthChecker/1.0\r\n\r\n'));
  c.tick(s.ts + 4_000_000);
  assert.equal(sink.of('HEALTH_CHECK_FAIL').length, 0);
  c.tick(s.ts + 6_000_000);
  c.onPayload(cs, false, s.wait(7000).seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
  const fails = sink.of('HEALTH_CHECK_FAIL');
  assert.equal(fails.length, 1);
  assert.equal(fails[0]?.reason, 'timeout');
  assert.equal(c.snapshot().lbTypes.flows['CLB'], 1, 'ELB-HealthChecker/1.0 points to a CLB');
});

test('a health check whose connection the target resets fails with reason reset', () => {
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, 'GET / HTTP/1.1\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n'));
  c.onClose(cs, ConnEnd.RESET_BY_RESPONDER, true, s.ts);
  assert.equal(sink.of('HEALTH_CHECK_FAIL')[0]?.reason, 'reset');
  assert.equal(sink.of('APP_ERROR').length, 0, 'health checks never become APP_ERROR');
});

test('TCP health checks: silent handshake from an LB address is ok, a refusal fails when a check is known', () => {
  const { sink, c, s } = setup(staticLbKnowledge({ lbAddresses: [LB_IP], healthChecks: { 8080: { protocol: 'TCP', timeoutSec: 10 } } }));
  const ok = c.open(FACTS, s.ts);
  c.onClose(ok, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
  const refused = c.open({ ...FACTS, originatorPort: 40001 }, s.ts);
  c.onClose(refused, ConnEnd.REFUSED, false, s.ts);
  const stranger = c.open({ ...FACTS, originatorIp: '198.51.100.9' }, s.ts);
  c.onClose(stranger, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
  const snap = c.snapshot();
  assert.deepEqual(snap.healthChecks.tcp, { ok: 1, failed: 1 });
  const [e] = sink.of('HEALTH_CHECK_FAIL');
  assert.equal(e?.reason, 'refused');
  assert.equal(e?.['check'], 'tcp');
  assert.equal(snap.lbTypes.flows['NLB'], 2);
  // Without a known check on the port a refusal is only flows' CONNECTION_FAILED.
  const b = setup();
  b.c.onClose(b.c.open(FACTS, 1), ConnEnd.REFUSED, false, 2);
  assert.deepEqual(b.c.snapshot().healthChecks.tcp, { ok: 0, failed: 0 });
});

test('TCP health checks: a connection whose bytes classify never saw (an unsampled flow at -s N) but the flow table counted is not a silent check', () => {
  // Prepare
  const { c, s } = setup(staticLbKnowledge({ lbAddresses: [LB_IP], healthChecks: { 8080: { protocol: 'TCP', timeoutSec: 10 } } }));
  // Act: a server banner of 40 bytes went by in a segment the kernel filter kept back.
  const talked = c.open(FACTS, s.ts);
  c.onClose(talked, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts, 40);
  const silent = c.open({ ...FACTS, originatorPort: 40001 }, s.ts);
  c.onClose(silent, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts, 0);
  // Assess
  assert.deepEqual(c.snapshot().healthChecks.tcp, { ok: 1, failed: 0 });
});

test('proxy protocol v2: the client IP comes from the header; LOCAL is a TCP health check', () => {
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, Buffer.concat([proxyV2(), Buffer.from('GET /p HTTP/1.1\r\n\r\n')])));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 502 Bad\r\nContent-Length: 0\r\n\r\n'));
  assert.equal(sink.of('APP_ERROR')[0]?.client_ip, '203.0.113.45');
  assert.deepEqual(sink.of('APP_ERROR')[0]?.lb, { type: 'NLB' });
  const local = c.open({ ...FACTS, originatorIp: '198.18.50.77' }, s.ts);
  const s2 = new SegmentScript();
  c.onPayload(local, true, s2.seg(true, proxyV2({ local: true })));
  c.onClose(local, ConnEnd.FIN_BY_ORIGINATOR, true, s2.ts);
  const snap = c.snapshot();
  assert.equal(snap.proxyProtocol.v2, 2);
  assert.equal(snap.proxyProtocol.local, 1);
  assert.deepEqual(snap.healthChecks.tcp, { ok: 1, failed: 0 });
});

test('proxy protocol v1 marks a CLB; a malformed header leaves the connection as plain TCP', () => {
  const { c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, 'PROXY TCP4 192.0.2.7 198.18.50.2 5555 8080\r\nGET / HTTP/1.1\r\n\r\n'));
  c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
  const bad = c.open({ ...FACTS, originatorPort: 2 }, s.ts);
  const s2 = new SegmentScript();
  c.onPayload(bad, true, s2.seg(true, 'PROXY TCP4 999.1.1.1 1.1.1.1 1 2\r\nGET / HTTP/1.1\r\n\r\n'));
  const snap = c.snapshot();
  assert.equal(snap.proxyProtocol.v1, 1);
  assert.equal(snap.proxyProtocol.malformed, 1);
  assert.equal(snap.http.requests, 1);
  assert.deepEqual(snap.topClients.map((t) => t.key), ['192.0.2.7']);
  assert.equal(snap.lbTypes.flows['CLB'], 1);
});

test('stacked proxy headers are a loop', () => {
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, Buffer.concat([proxyV2(), proxyV2({ src: [192, 0, 2, 1] }), Buffer.from('GET / HTTP/1.1\r\n\r\n')])));
  const [e] = sink.of('LOOP_DETECTED');
  assert.equal(e?.reason, 'stacked_proxy_headers');
  assert.deepEqual(e?.['evidence'], { first_source: '203.0.113.45', second_source: '192.0.2.1' });
  assert.equal(c.snapshot().http.requests, 1);
});

test('loops in X-Forwarded-For: own address, repeated address, more than 30 entries', () => {
  const { sink, c, s, cs } = setup();
  const send = (xff: string) => {
    c.onPayload(cs, true, s.wait(1500).seg(true, `GET / HTTP/1.1\r\nX-Forwarded-For: ${xff}\r\n\r\n`));
    c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  };
  send(`203.0.113.45, ${TARGET_IP}, ${LB_IP}`);
  send('203.0.113.45, 198.51.100.1, 203.0.113.45');
  send(Array.from({ length: 31 }, (_, i) => `192.0.2.${i + 1}`).join(', '));
  send(Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join(','));
  const loops = sink.of('LOOP_DETECTED');
  assert.deepEqual(loops.map((e) => e.reason), ['own_address_in_xff', 'repeated_address_in_xff', 'xff_too_long', 'xff_too_long']);
  assert.equal((loops[2]?.['evidence'] as { xff_entries: number }).xff_entries, 31);
  // The 10,000-entry header is over the 64 KB head bound: counted as too large, and the entries
  // in its first 64 KB still make it a loop (a lower bound of the count).
  assert.equal(c.snapshot().http.headsTooLarge, 1);
  const cut = (loops[3]?.['evidence'] as { xff_entries: number }).xff_entries;
  assert.ok(cut > 5000 && cut < 10_000, `${cut} entries seen`);
});

test('the same trace Root arriving again and again is a loop', () => {
  const { sink, c, s, cs } = setup();
  for (let i = 0; i < 4; i++) {
    c.onPayload(cs, true, s.wait(100).seg(true, `GET /again HTTP/1.1\r\nX-Amzn-Trace-Id: Self=1-1-${i};Root=1-67891233-aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n`));
    c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  }
  const loops = sink.of('LOOP_DETECTED');
  assert.equal(loops.length, 1);
  assert.equal(loops[0]?.reason, 'repeated_trace_id');
  assert.equal(c.snapshot().loops['repeated_trace_id'], 1);
});

test('TLS: a ClientHello counts HTTPS; a fatal alert from the target is a TLS_ERROR; no finish = incomplete', () => {
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, clientHelloRecord({ sni: 'shop.example.com', alpn: ['h2'], versions: [0x0304] })));
  c.onPayload(cs, false, s.seg(false, alertRecord(2, 40)));
  c.onClose(cs, ConnEnd.FIN_BY_RESPONDER, true, s.ts);
  const snap = c.snapshot();
  assert.equal(snap.tls.httpsConnections, 1);
  assert.equal(snap.tls.clientHellosParsed, 1);
  assert.deepEqual(snap.tls.versions, { 'TLSv1.3': 1 });
  assert.deepEqual(snap.tls.alerts, { handshake_failure: 1 });
  assert.equal(snap.tls.incompleteHandshakes, 1);
  const [e] = sink.of('TLS_ERROR');
  assert.equal(e?.reason, 'fatal_alert');
  assert.equal(e?.['alert'], 'handshake_failure');
  assert.equal(e?.['sent_by'], 'target');
  assert.equal(e?.['sni'], 'shop.example.com');
});

test('TLS: every connection reports its own server name, with many names and again after the shared names were cleared', () => {
  // Prepare: more distinct names than the classifier shares (1024), then a repeat of the first.
  const sink = new Collector();
  const c = new TrafficClassifier({ sink, knowledge: staticLbKnowledge({ lbAddresses: [LB_IP] }) });
  const names = [...Array.from({ length: 1100 }, (_, i) => `n${i}.example`), 'n0.example', 'n1099.example'];
  // Act: each connection's target refuses the handshake with a fatal alert.
  for (const name of names) {
    const s = new SegmentScript();
    const cs = c.open(FACTS, s.ts);
    c.onPayload(cs, true, s.seg(true, clientHelloRecord({ sni: name })));
    c.onPayload(cs, false, s.seg(false, alertRecord(2, 40)));
    c.onClose(cs, ConnEnd.FIN_BY_RESPONDER, true, s.ts);
  }
  // Assess
  assert.deepEqual(sink.of('TLS_ERROR').map((e) => e['sni']), names);
});

test('TLS: after a segment that was never seen (lost, or left in the kernel at -s N) the walk resumes at the next record header, so a later fatal alert still counts', () => {
  // Prepare: the server's flight spans three segments; the middle one is not captured.
  const { sink, c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, clientHelloRecord({ sni: 'gap.example' })));
  const flight = Buffer.concat([tlsRecord(22, Buffer.alloc(3000, 2), 0x0303), tlsRecord(22, Buffer.alloc(500, 2), 0x0303)]);
  // Act: the hole spans the boundary between the two records.
  c.onPayload(cs, false, s.seg(false, flight.subarray(0, 1400)));
  c.onPayload(cs, false, s.seg(false, flight.subarray(3300), { seqDelta: 1900 }));
  c.onPayload(cs, false, s.seg(false, alertRecord(2, 42)));
  c.onClose(cs, ConnEnd.FIN_BY_RESPONDER, true, s.ts);
  // Assess: the bytes after the hole (the flight's tail) are skipped, the alert is read.
  const [e] = sink.of('TLS_ERROR');
  assert.equal(e?.reason, 'fatal_alert');
  assert.equal(e?.['alert'], 'bad_certificate');
  assert.equal(e?.['sent_by'], 'target');
  assert.equal(c.snapshot().tls.malformed, 0);
});

test('TLS: ChangeCipherSpec from both sides completes the handshake without the client\'s application data (left in the kernel at -s N)', () => {
  // Prepare
  const { sink, c, s, cs } = setup();
  // Act: a TLS 1.3 handshake in compatibility mode; the encrypted records are never seen.
  c.onPayload(cs, true, s.seg(true, clientHelloRecord({ sni: 'ccs.example', versions: [0x0304] })));
  c.onPayload(cs, false, s.seg(false, Buffer.concat([tlsRecord(22, Buffer.alloc(90, 2), 0x0303), tlsRecord(20, Buffer.from([1]), 0x0303)])));
  c.onPayload(cs, true, s.seg(true, tlsRecord(20, Buffer.from([1]), 0x0303)));
  const streamsAfterHandshake = [cs.tlsC2s, cs.tlsS2c];
  c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
  // Assess
  assert.equal(c.snapshot().tls.incompleteHandshakes, 0);
  assert.equal(sink.events.length, 0);
  assert.deepEqual(streamsAfterHandshake, [undefined, undefined], 'a finished handshake keeps no record walks');
});

test('TLS: a ChangeCipherSpec from one side only leaves the handshake incomplete', () => {
  const { c, s, cs } = setup();
  c.onPayload(cs, true, s.seg(true, clientHelloRecord({ sni: 'half.example', versions: [0x0304] })));
  c.onPayload(cs, false, s.seg(false, Buffer.concat([tlsRecord(22, Buffer.alloc(90, 2), 0x0303), tlsRecord(20, Buffer.from([1]), 0x0303)])));
  c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
  assert.equal(c.snapshot().tls.incompleteHandshakes, 1);
});

test('TLS: a hello split over segments is reassembled; application data completes the handshake', () => {
  const { sink, c, s, cs } = setup();
  const hello = clientHelloRecord({ sni: 'split.example' });
  c.onPayload(cs, true, s.seg(true, hello.subarray(0, 3)));
  c.onPayload(cs, true, s.seg(true, hello.subarray(3, 40)));
  assert.ok((cs.tlsC2s?.heldBytes ?? 0) > 0, 'the hello waits in a buffer until it is whole');
  c.onPayload(cs, true, s.seg(true, hello.subarray(40)));
  assert.equal(cs.tlsC2s?.heldBytes, 0, 'and is not kept once parsed');
  c.onPayload(cs, false, s.seg(false, tlsRecord(22, Buffer.alloc(90, 2), 0x0303)));
  c.onPayload(cs, true, s.seg(true, tlsRecord(23, Buffer.alloc(50, 1), 0x0303)));
  c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
  const snap = c.snapshot();
  assert.equal(snap.tls.clientHellosParsed, 1);
  assert.equal(snap.tls.incompleteHandshakes, 0);
  assert.equal(sink.events.length, 0);
});

test('GENEVE packets are parsed and their inner packet located', () => {
  const { c } = setup();
  const inner = Buffer.alloc(40, 0x45);
  const payload = geneve(gwlbOptions(), inner);
  const v = new PacketView();
  const buf = Buffer.concat([Buffer.alloc(42), payload]);
  v.reset(buf, buf.length, buf.length, 1);
  v.ipVersion = IpVersion.V4; v.proto = IpProto.UDP; v.dstPort = 6081; v.srcPort = 50000;
  v.payloadOffset = 42; v.payloadCapLen = payload.length; v.payloadLen = payload.length;
  const g = c.onPacket(v);
  assert.equal(g?.innerOffset, 42 + 40);
  assert.equal(g?.awsFlowCookie, 'deadbeef');
  assert.deepEqual(c.snapshot().geneve, { packets: 1, malformed: 0, inner: 1 });
  const cs = c.open({ ...FACTS, geneve: true }, 1);
  c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, 2);
  assert.equal(c.snapshot().lbTypes.flows['GWLB'], 1);
});

test('garbage segments in any order never throw', () => {
  const { c, s, cs } = setup();
  for (let i = 0; i < 200; i++) {
    const b = Buffer.alloc(1 + (i * 37) % 300);
    for (let j = 0; j < b.length; j++) b[j] = (i * 131 + j * 7) & 255;
    c.onPayload(cs, i % 3 !== 0, s.seg(i % 3 !== 0, b, { seqDelta: i % 5 === 0 ? 10 : 0, capLen: i % 4 === 0 ? 5 : undefined }));
  }
  c.onClose(cs, ConnEnd.EXPIRED, true, s.ts);
  assert.ok(true);
});

test('proxy headers read in the first segment where they lie count the same as when their bytes come in pieces and are held', () => {
  // Each case's client bytes in one segment (read in place) and cut in two at every byte (the first
  // piece tried in place, then held with the second); then the server's answer, if any, and a FIN.
  const pre = (...parts: Array<Buffer | string>): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
  const cases: Array<{ name: string; client: Buffer; server?: string }> = [
    { name: 'v2 then a request', client: pre(proxyV2(), 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n'), server: 'HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n' },
    { name: 'v2 LOCAL alone', client: proxyV2({ local: true }) },
    { name: 'v2 LOCAL then other bytes', client: pre(proxyV2({ local: true }), 'hello there\r\n') },
    { name: 'v1 then a request', client: pre('PROXY TCP4 192.0.2.7 198.18.50.2 5555 8080\r\n', 'GET /b HTTP/1.1\r\n\r\n'), server: 'HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n' },
    { name: 'stacked headers', client: pre(proxyV2(), proxyV2({ src: [192, 0, 2, 1] }), 'GET /c HTTP/1.1\r\n\r\n') },
    { name: 'a malformed v1 header', client: pre('PROXY TCP4 999.1.1.1 1.1.1.1 1 2\r\n', 'GET /d HTTP/1.1\r\n\r\n') },
    { name: 'v2 then an HTTP/2 preface', client: pre(proxyV2(), 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') },
    { name: 'v2 then a ClientHello', client: pre(proxyV2({ tlvs: [] }), clientHelloRecord({ sni: 'shop.example.com' })) },
  ];
  const outcome = (pieces: Buffer[], server: string | undefined): string => {
    const { sink, c, s, cs } = setup(staticLbKnowledge({ lbAddresses: [LB_IP], healthChecks: { 8080: { protocol: 'TCP', timeoutSec: 10 } } }));
    for (const p of pieces) c.onPayload(cs, true, s.seg(true, p));
    if (server !== undefined) c.onPayload(cs, false, s.seg(false, server));
    c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
    const snap = c.snapshot();
    return JSON.stringify({
      proxy: snap.proxyProtocol, hc: snap.healthChecks, requests: snap.http.requests, classes: snap.http.statusClasses, lb: snap.lbTypes,
      top: snap.topClients, h2: snap.http.http2Prefaces, other: snap.otherProtocolConnections, tls: snap.tls.clientHellosParsed,
      events: sink.events.map((e) => [e.type, e.reason, e.client_ip, e['evidence'], e['via_proxy_local']]),
    });
  };
  let compared = 0;
  for (const k of cases) {
    const whole = outcome([k.client], k.server);
    for (let cut = 1; cut < k.client.length; cut++) {
      assert.equal(outcome([k.client.subarray(0, cut), k.client.subarray(cut)], k.server), whole, `${k.name}, cut at ${cut}`);
      compared++;
    }
  }
  assert.equal(compared, cases.reduce((n, k) => n + k.client.length - 1, 0));
  // And what the cases count, read in place.
  assert.match(outcome([cases[0]?.client as Buffer], cases[0]?.server), /"client_ip":|203\.0\.113\.45/);
});
