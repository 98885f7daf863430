/**
 * Connections picked up midstream (the capture began after their handshake) and answers the
 * target gave to no HTTP request: what the classifier counts of them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TrafficClassifier } from '../../../agent/classify/traffic-classifier.js';
import { ConnEnd, Phase, type ConnFacts } from '../../../agent/classify/connection-state.js';
import { isRequestLine, isStatusLineStart } from '../../../agent/classify/http/http-parser.js';
import { isClientHelloStart, isTlsRecordStart } from '../../../agent/classify/tls/tls-parser.js';
import { staticLbKnowledge, type LbKnowledge } from '../../../agent/classify/lb-knowledge.js';
import type { AnalyzerEvent } from '../../../agent/events/schema.js';
import { clientHelloRecord, SegmentScript, tlsRecord } from './bytes.js';

const LB_IP = '198.18.50.1';
const FACTS: ConnFacts = { originatorIp: LB_IP, originatorPort: 40000, responderIp: '198.18.50.2', responderPort: 8080 };
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

function setup(midstream: boolean, knowledge?: LbKnowledge) {
  const events: AnalyzerEvent[] = [];
  const c = new TrafficClassifier({ sink: { emit: (e) => { events.push(e); } }, knowledge: knowledge ?? staticLbKnowledge({ lbAddresses: [LB_IP] }) });
  const s = new SegmentScript();
  const cs = c.open({ ...FACTS, midstream }, s.ts);
  return { events, c, s, cs };
}

describe('the byte checks for bytes that need not start a message', () => {
  it('isRequestLine: a whole HTTP/1.x request line, nothing less', () => {
    for (const ok of ['GET / HTTP/1.1\r\n', 'POST /a?b=c HTTP/1.0\r\nHost: x\r\n\r\n', 'GET /x HTTP/1.1\n', 'PROPFIND /d HTTP/1.1\r\n']) {
      assert.equal(isRequestLine(bytes(ok), 0, ok.length), true, JSON.stringify(ok));
    }
    for (const no of ['GET / HTTP/1.1', 'GET / HTTP/1.1\r', 'GET /a b HTTP/1.1\r\n', 'GET  HTTP/1.1\r\n', 'get / HTTP/1.1\r\n',
      'GET / HTTP/2.0\r\n', 'GET / HTTPS/1.1\r\n', 'GET /\x01 HTTP/1.1\r\n', '{"a":1}', 'ABC DEF', 'GET /', '', 'HTTP/1.1 200 OK\r\n']) {
      assert.equal(isRequestLine(bytes(no), 0, no.length), false, JSON.stringify(no));
    }
    const long = `GET /${'a'.repeat(9000)} HTTP/1.1\r\n`;
    assert.equal(isRequestLine(bytes(long), 0, long.length), false, 'a request line past 8 KB is not looked for');
    const at = bytes(`xxGET / HTTP/1.1\r\n`);
    assert.equal(isRequestLine(at, 2, at.length - 2), true, 'at an offset');
    assert.equal(isRequestLine(at, 2, 10), false, 'within the given length only');
  });

  it('isStatusLineStart: "HTTP/1.", a digit, a space and three digits', () => {
    for (const ok of ['HTTP/1.1 200 OK\r\n', 'HTTP/1.0 503', 'HTTP/1.1 408 Request Timeout']) assert.equal(isStatusLineStart(bytes(ok), 0, ok.length), true, ok);
    for (const no of ['HTTP/1.1 20', 'HTTP/2 200 OK', 'HTTP/1.1  200', 'http/1.1 200', 'HTTP/1.x 200', 'HTTP/1.1 2x0 OK', 'xHTTP/1.1 200']) {
      assert.equal(isStatusLineStart(bytes(no), 0, no.length), false, no);
    }
  });

  it('isClientHelloStart: a handshake record whose first message is a ClientHello', () => {
    const hello = clientHelloRecord({ sni: 'shop.test' });
    assert.equal(isClientHelloStart(hello, 0, hello.length), true);
    assert.equal(isClientHelloStart(hello, 0, 5), false, 'the record header alone');
    const finished = tlsRecord(22, Buffer.from([20, 0, 0, 12, ...Array(12).fill(7)]));
    assert.equal(isClientHelloStart(finished, 0, finished.length), false, 'another handshake message (a renegotiation, encrypted)');
    const data = tlsRecord(23, Buffer.alloc(40, 1));
    assert.equal(isClientHelloStart(data, 0, data.length), false, 'application data');
  });

  it('isTlsRecordStart: a plausible record header of any content type', () => {
    for (const type of [20, 21, 22, 23]) assert.equal(isTlsRecordStart(tlsRecord(type, Buffer.alloc(8)), 0, 13), true, `type ${type}`);
    const header = (b: number[]): Buffer => Buffer.from(b);
    for (const [b, why] of [[[24, 3, 3, 0, 8], 'type 24'], [[23, 2, 3, 0, 8], 'major 2'], [[23, 3, 5, 0, 8], 'minor 5'],
      [[23, 3, 3, 0, 0], 'empty'], [[23, 3, 3, 0x48, 1], 'over 2^14 + 2048'], [[23, 3, 3, 0], 'four bytes']] as Array<[number[], string]>) {
      assert.equal(isTlsRecordStart(header(b), 0, b.length), false, why);
    }
  });
});

describe('a connection picked up midstream', () => {
  it('passes over the rest of a body, then reads the next response and request; an answer whose request was not seen counts, and its 5xx says so', () => {
    const { events, c, s, cs } = setup(true);
    c.onPayload(cs, false, s.seg(false, '"id": 7, "items": [1, 2, 3]}\n'));
    c.onPayload(cs, true, s.seg(true, 'name=x&tail=of-a-form-body'));
    assert.equal(cs.phase, Phase.MIDSTREAM);
    assert.equal(cs.restable, true, 'waiting for a message start, the state holds nothing');
    c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy'));
    assert.equal(cs.phase, Phase.HTTP);
    c.onPayload(cs, true, s.seg(true, '-more-of-the-form-body-after-the-answer'));
    c.onPayload(cs, true, s.seg(true, 'GET /next HTTP/1.1\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n'));
    c.onPayload(cs, false, s.wait(3).seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
    const h = c.snapshot().http;
    assert.deepEqual([h.requests, h.responses, h.orphanResponses, h.malformedStartLines, h.latency.count], [1, 2, 1, 0, 1]);
    assert.deepEqual(h.statusClasses, { '1xx': 0, '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 1 });
    assert.equal(c.snapshot().otherProtocolConnections, 0);
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.deepEqual([e.type, e.reason, e['status'], e['method'], e['path'], e['latency_ms'], e['request_seen']], ['APP_ERROR', 'http_503', 503, null, null, null, false]);
    assert.equal(e.client_ip, undefined, 'an ALB connection carries many clients: none is claimed');
    assert.match(e.message, /HTTP 503 to a request not seen/);
    const direct = setup(true, staticLbKnowledge({}));
    direct.c.onPayload(direct.cs, false, direct.s.seg(false, 'HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n'));
    assert.equal(direct.events[0]?.client_ip, LB_IP, 'a client that is not a known load balancer is the client');
  });

  it('that begins with a request line is HTTP at once, the answer paired with it', () => {
    const { events, c, s, cs } = setup(true);
    c.onPayload(cs, true, s.seg(true, 'POST /pay HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc'));
    c.onPayload(cs, false, s.wait(9).seg(false, 'HTTP/1.1 502 Bad\r\nContent-Length: 0\r\n\r\n'));
    assert.deepEqual(events.map((e) => [e['method'], e['path'], e['latency_ms']]), [['POST', '/pay', 9]]);
    assert.equal(c.snapshot().http.orphanResponses, 0);
  });

  it('whose handshake alone was missed reads a ClientHello as from the start', () => {
    const { c, s, cs } = setup(true);
    c.onPayload(cs, true, s.seg(true, clientHelloRecord({ sni: 'shop.test' })));
    assert.equal(cs.phase, Phase.TLS);
    assert.equal(c.snapshot().tls.clientHellosParsed, 1);
  });

  it('whose client sends TLS records is an HTTPS connection whose handshake was missed; its records are not walked', () => {
    const { c, s, cs } = setup(true);
    c.onPayload(cs, false, s.seg(false, Buffer.alloc(700, 0x41)));
    c.onPayload(cs, true, s.seg(true, tlsRecord(23, Buffer.alloc(100, 1))));
    assert.equal(cs.phase, Phase.TLS);
    for (let i = 0; i < 20; i++) {
      c.onPayload(cs, false, s.seg(false, Buffer.alloc(300, i)));
      c.onPayload(cs, true, s.seg(true, tlsRecord(23, Buffer.alloc(100, i))));
    }
    c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
    const snap = c.snapshot();
    assert.deepEqual([snap.tls.httpsConnections, snap.tls.clientHellosParsed, snap.tls.malformed, snap.tls.incompleteHandshakes], [1, 0, 0, 0]);
    assert.deepEqual([snap.http.requests, snap.http.responses, snap.otherProtocolConnections], [0, 0, 0]);
    assert.deepEqual(snap.topClients.map((t) => t.key), [LB_IP]);
  });

  it('of another protocol is passed over, counted as nothing', () => {
    const { c, s, cs } = setup(true);
    for (let i = 0; i < 20; i++) {
      c.onPayload(cs, true, s.seg(true, `*2\r\n$3\r\nGET\r\n$4\r\nk${i}\r\n`));
      c.onPayload(cs, false, s.seg(false, `$5\r\nvalue\r\n`));
    }
    assert.equal(cs.phase, Phase.MIDSTREAM);
    c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
    const snap = c.snapshot();
    assert.deepEqual([snap.http.requests, snap.http.responses, snap.http.malformedStartLines, snap.otherProtocolConnections, snap.tls.httpsConnections], [0, 0, 0, 0, 0]);
  });

  it('seen from its start, a server that speaks first still makes the connection another protocol', () => {
    const { c, s, cs } = setup(false);
    c.onPayload(cs, false, s.seg(false, '220 mail.example ESMTP\r\n'));
    c.onPayload(cs, true, s.seg(true, 'EHLO client\r\n'));
    assert.equal(cs.phase, Phase.OPAQUE);
    assert.equal(c.snapshot().otherProtocolConnections, 1);
  });
});

describe('an HTTP answer to no HTTP request', () => {
  it('to bytes that are not HTTP (a 400) or to silence (a 408) counts by its code', () => {
    const a = setup(false);
    a.c.onPayload(a.cs, true, a.s.seg(true, 'BLAH\r\n\r\n'));
    a.c.onPayload(a.cs, false, a.s.seg(false, 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'));
    const b = setup(false);
    b.c.onPayload(b.cs, false, b.s.seg(false, 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n'));
    for (const { c } of [a, b]) assert.equal(c.snapshot().http.orphanResponses, 1);
    assert.deepEqual(a.c.snapshot().http.status4xx, { 400: 1 });
    assert.equal(a.c.snapshot().otherProtocolConnections, 1);
    assert.deepEqual(b.c.snapshot().http.status4xx, { 408: 1 });
  });

  it('to a TLS ClientHello on a plain HTTP port counts, once: the rest of the stream is not read as answers', () => {
    const { c, s, cs } = setup(false);
    c.onPayload(cs, true, s.seg(true, clientHelloRecord({ sni: 'shop.test' })));
    c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 400 Bad Request\r\n\r\n'));
    c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 400 Bad Request\r\n\r\n'));
    assert.deepEqual(c.snapshot().http.status4xx, { 400: 1 });
  });

  it('on a health check connection is left out of the status counts', () => {
    const knowledge = staticLbKnowledge({ lbAddresses: [LB_IP], healthChecks: { 8080: { protocol: 'HTTP', matcher: '200', timeoutSec: 2 } } });
    const { c, s, cs } = setup(false, knowledge);
    c.onPayload(cs, true, s.seg(true, 'GET /health HTTP/1.1\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n'));
    c.onPayload(cs, false, s.seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n'));
    const snap = c.snapshot();
    assert.deepEqual([snap.healthChecks.http.ok, snap.http.orphanResponses, snap.http.responses, snap.http.statusClasses['5xx']], [1, 1, 0, 0]);
  });
});
