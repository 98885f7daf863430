import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  findHeadEnd, MAX_HEAD_BYTES, matchHttp2Preface, parseRequestHead, parseResponseHead, responseHasBody,
} from '../../../agent/classify/http/http-parser.js';
import { randomBytes } from './bytes.js';

const REQ = 'GET /api/orders?id=42&token=secret HTTP/1.1\r\n' +
  'Host: shop.example.com\r\n' +
  'User-Agent: curl/8.5\r\n' +
  'X-Forwarded-For: 203.0.113.45, 10.0.1.50\r\n' +
  'X-Forwarded-Proto: https\r\n' +
  'X-Forwarded-Port: 443\r\n' +
  'X-Amzn-Trace-Id: Root=1-67891233-abcdef012345678912345678\r\n' +
  'Authorization: Bearer s3cr3t-t0ken\r\n' +
  'Cookie: session=abcdef\r\n' +
  'Content-Length: 5\r\n' +
  '\r\n';

test('a complete request head yields method, path without query, forwarding headers and trace id', () => {
  // Prepare
  const buf = Buffer.from(REQ + 'hello', 'latin1');
  // Act
  const r = parseRequestHead(buf, 0, buf.length);
  // Assess
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.length, REQ.length);
  assert.equal(r.value.method, 'GET');
  assert.equal(r.value.path, '/api/orders');
  assert.equal(r.value.version, '1.1');
  assert.equal(r.value.host, 'shop.example.com');
  assert.equal(r.value.userAgent, 'curl/8.5');
  assert.equal(r.value.xForwardedFor, '203.0.113.45, 10.0.1.50');
  assert.equal(r.value.xForwardedProto, 'https');
  assert.equal(r.value.xForwardedPort, '443');
  assert.equal(r.value.traceId, 'Root=1-67891233-abcdef012345678912345678');
  assert.equal(r.value.contentLength, 5);
  assert.equal(r.value.connectionClose, false);
});

test('credential header values are never kept, only their presence', () => {
  const buf = Buffer.from(REQ, 'latin1');
  const r = parseRequestHead(buf, 0, buf.length);
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.value.hasAuthorization, true);
  assert.equal(r.value.hasCookie, true);
  const serialized = JSON.stringify(r.value);
  assert.ok(!serialized.includes('s3cr3t'), 'authorization value leaked');
  assert.ok(!serialized.includes('session=abcdef'), 'cookie value leaked');
  assert.ok(!serialized.includes('token=secret'), 'query string leaked');
});

test('the query string is kept only when asked', () => {
  const buf = Buffer.from(REQ, 'latin1');
  const r = parseRequestHead(buf, 0, buf.length, { keepQuery: true });
  assert.equal(r.status === 'ok' && r.value.path, '/api/orders?id=42&token=secret');
});

test('a head parsed at an offset inside a larger buffer reads only its range', () => {
  const buf = Buffer.concat([Buffer.from('xxxxx'), Buffer.from(REQ, 'latin1'), Buffer.from('yyyy')]);
  const r = parseRequestHead(buf, 5, REQ.length);
  assert.equal(r.status, 'ok');
  assert.equal(r.status === 'ok' && r.length, REQ.length);
});

test('every truncation of a request head is incomplete, never malformed, never thrown', () => {
  const buf = Buffer.from(REQ, 'latin1');
  for (let n = 0; n < buf.length; n++) {
    const r = parseRequestHead(buf, 0, n);
    assert.equal(r.status, 'incomplete', `prefix of ${n} bytes gave ${r.status}`);
  }
  assert.equal(parseRequestHead(buf, 0, buf.length).status, 'ok');
});

test('a partial head (capture gap) still yields the start line and the complete header lines', () => {
  const buf = Buffer.from(REQ.slice(0, 80), 'latin1'); // ends inside the User-Agent line
  const r = parseRequestHead(buf, 0, buf.length, { partial: true });
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.value.partial, true);
  assert.equal(r.value.method, 'GET');
  assert.equal(r.value.host, 'shop.example.com');
  assert.equal(r.value.userAgent, undefined);
});

test('malformed request lines are reported with a reason', () => {
  const cases: Array<[string, string]> = [
    ['\x16\x03\x01\x02\x00', 'bad_method'],
    ['get / HTTP/1.1\r\n\r\n', 'bad_method'],
    ['GET / HTTP/1.1 extra\r\n\r\n', 'bad_request_line'],
    ['GET  HTTP/1.1\r\n\r\n', 'bad_request_line'],
    ['GET / HTTP/2.0\r\n\r\n', 'bad_http_version'],
    ['GET / FTP/1.1\r\n\r\n', 'bad_http_version'],
    ['GET /\x01 HTTP/1.1\r\n\r\n', 'control_character_in_request_line'],
    ['GET / HTTP/1.1\r\nBad Header: x\r\n\r\n', 'bad_header_name'],
    ['GET / HTTP/1.1\r\nNoColon\r\n\r\n', 'bad_header_line'],
    ['GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n', 'control_character_in_header'],
  ];
  for (const [text, reason] of cases) {
    const buf = Buffer.from(text, 'latin1');
    const r = parseRequestHead(buf, 0, buf.length);
    assert.equal(r.status, 'malformed', JSON.stringify(text));
    assert.equal(r.status === 'malformed' && r.reason, reason, JSON.stringify(text));
  }
});

test('non-ASCII bytes in header values are kept as latin1 and do not break parsing', () => {
  const buf = Buffer.concat([Buffer.from('GET /caf\xe9 HTTP/1.1\r\nUser-Agent: ', 'latin1'), Buffer.from([0xe2, 0x98, 0x83, 0xff]), Buffer.from('\r\n\r\n')]);
  const r = parseRequestHead(buf, 0, buf.length);
  assert.equal(r.status, 'ok');
  assert.equal(r.status === 'ok' && r.value.userAgent?.length, 4);
});

test('a head over 64 KB without a blank line is malformed head_too_large', () => {
  const big = Buffer.from('GET / HTTP/1.1\r\nX-Big: ' + 'a'.repeat(MAX_HEAD_BYTES) + '\r\n', 'latin1');
  const r = parseRequestHead(big, 0, big.length);
  assert.equal(r.status, 'malformed');
  assert.equal(r.status === 'malformed' && r.reason, 'head_too_large');
});

test('a 10,000-entry X-Forwarded-For fits the bound and is returned whole', () => {
  const xff = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.1`).join(',');
  assert.ok(xff.length > MAX_HEAD_BYTES, 'this header alone is over the bound');
  const buf = Buffer.from(`GET / HTTP/1.1\r\nX-Forwarded-For: ${xff}\r\n\r\n`, 'latin1');
  const r = parseRequestHead(buf, 0, buf.length);
  assert.equal(r.status, 'malformed');
  const small = Array.from({ length: 4000 }, (_, i) => `10.0.${(i >> 8) & 255}.${i & 255}`).join(',');
  const buf2 = Buffer.from(`GET / HTTP/1.1\r\nX-Forwarded-For: ${small}\r\n\r\n`, 'latin1');
  const r2 = parseRequestHead(buf2, 0, buf2.length);
  assert.equal(r2.status, 'ok');
  assert.equal(r2.status === 'ok' && r2.value.xForwardedFor?.split(',').length, 4000);
});

test('repeated X-Forwarded-For fields are joined in order', () => {
  const buf = Buffer.from('GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n\r\n', 'latin1');
  const r = parseRequestHead(buf, 0, buf.length);
  assert.equal(r.status === 'ok' && r.value.xForwardedFor, '1.1.1.1, 2.2.2.2');
});

test('bare LF line ends are accepted', () => {
  const buf = Buffer.from('GET /x HTTP/1.0\nHost: a\n\n', 'latin1');
  const r = parseRequestHead(buf, 0, buf.length);
  assert.equal(r.status, 'ok');
  assert.equal(r.status === 'ok' && r.value.connectionClose, true);
});

test('random garbage never throws and is never ok', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const buf = randomBytes(1 + (seed % 200), seed);
    const r1 = parseRequestHead(buf, 0, buf.length);
    const r2 = parseResponseHead(buf, 0, buf.length);
    assert.notEqual(r1.status, 'ok');
    assert.notEqual(r2.status, 'ok');
  }
});

test('offsets and lengths outside the buffer are clamped, not read', () => {
  const buf = Buffer.from('GET / HTTP/1.1\r\n\r\n', 'latin1');
  assert.equal(parseRequestHead(buf, 0, 10_000).status, 'ok');
  assert.notEqual(parseRequestHead(buf, 500, 10).status, 'ok');
  assert.notEqual(parseRequestHead(buf, -3, 10).status, 'ok');
  assert.notEqual(parseRequestHead(buf, Number.NaN, 10).status, 'ok');
  assert.equal(parseResponseHead(Buffer.alloc(0), 0, 0).status, 'incomplete');
});

test('a status line yields the code; framing headers are read', () => {
  const buf = Buffer.from('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 12\r\nSet-Cookie: a=b\r\nConnection: close\r\n\r\n', 'latin1');
  const r = parseResponseHead(buf, 0, buf.length);
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.value.status, 503);
  assert.equal(r.value.contentLength, 12);
  assert.equal(r.value.connectionClose, true);
  assert.equal(r.value.hasSetCookie, true);
  assert.ok(!JSON.stringify(r.value).includes('a=b'));
});

test('a status line without a reason phrase is accepted; bad codes are not', () => {
  const ok1 = Buffer.from('HTTP/1.1 204\r\n\r\n', 'latin1');
  assert.equal(parseResponseHead(ok1, 0, ok1.length).status, 'ok');
  for (const t of ['HTTP/1.1 20 OK\r\n\r\n', 'HTTP/1.1 2x4 OK\r\n\r\n', 'HTTP/1.1 099 X\r\n\r\n', 'HTTP/1.1 2000 X\r\n\r\n', 'HTTX/1.1 200 OK\r\n\r\n']) {
    const b = Buffer.from(t, 'latin1');
    assert.equal(parseResponseHead(b, 0, b.length).status, 'malformed', t);
  }
});

test('every truncation of a response head is incomplete', () => {
  const buf = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1');
  for (let n = 0; n < buf.length; n++) assert.equal(parseResponseHead(buf, 0, n).status, 'incomplete', `n=${n}`);
  const r = parseResponseHead(buf, 0, buf.length);
  assert.equal(r.status === 'ok' && r.value.chunked, true);
});

test('conflicting Content-Length values are flagged as invalid (-2)', () => {
  const buf = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 'latin1');
  const r = parseResponseHead(buf, 0, buf.length);
  assert.equal(r.status === 'ok' && r.value.contentLength, -2);
});

test('head end is found across CRLF and LF forms', () => {
  const a = Buffer.from('GET / HTTP/1.1\r\nA: b\r\n\r\nBODY', 'latin1');
  assert.equal(findHeadEnd(a, 0, a.length), a.length - 4);
  const b = Buffer.from('GET / HTTP/1.1\nA: b\n\nBODY', 'latin1');
  assert.equal(findHeadEnd(b, 0, b.length), b.length - 4);
  assert.equal(findHeadEnd(a, 0, 10), -1);
});

test('the HTTP/2 preface is recognised whole, as a prefix, and rejected otherwise', () => {
  const p = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
  assert.equal(matchHttp2Preface(p, 0, p.length), 'yes');
  assert.equal(matchHttp2Preface(p, 0, 5), 'maybe');
  const g = Buffer.from('POST / HTTP/1.1\r\n', 'latin1');
  assert.equal(matchHttp2Preface(g, 0, g.length), 'no');
});

test('HEAD, 1xx, 204 and 304 responses have no body', () => {
  assert.equal(responseHasBody('HEAD', 200), false);
  assert.equal(responseHasBody('GET', 204), false);
  assert.equal(responseHasBody('GET', 304), false);
  assert.equal(responseHasBody('GET', 100), false);
  assert.equal(responseHasBody('GET', 200), true);
  assert.equal(responseHasBody(undefined, 500), true);
});

test('every method comes back as sent, registered or not', () => {
  for (const method of ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'GETX', 'GE', 'PROPFIND', 'M-SEARCH']) {
    // Prepare
    const buf = Buffer.from(`${method} /p HTTP/1.1\r\nHost: h\r\n\r\n`, 'latin1');
    // Act
    const r = parseRequestHead(buf, 0, buf.length);
    // Assess
    assert.equal(r.status === 'ok' && r.value.method, method);
  }
});
