/**
 * HTTP/1.x message heads: start line and header fields of requests and responses
 * (framing headers, X-Forwarded-For, trace id, upgrade), with and without the
 * partial (capture cut) mode, plus the detectors the stream uses.
 */
import assert from 'node:assert/strict';
import {
  findHeadEnd, looksLikeRequestStart, looksLikeResponseStart, matchHttp2Preface, MAX_HEAD_BYTES, MAX_PATH_CHARS,
  parseRequestHead, parseResponseHead,
} from '../../../agent/classify/http/http-parser.js';
import { within, type FuzzTarget } from '../target.js';
import { assertParsed, rangeOf } from './parsed-common.js';

export const HTTP_DICTIONARY: readonly string[] = [
  'GET ', 'POST ', 'HEAD ', 'CONNECT ', 'OPTIONS * ', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', ' HTTP/1.1\r\n', ' HTTP/1.0\r\n',
  'HTTP/1.1 200 OK\r\n', 'HTTP/1.1 101 Switching Protocols\r\n', 'HTTP/1.0 502 ', 'HTTP/1.1 100 Continue\r\n\r\n',
  '\r\n', '\r\n\r\n', '\n\n', ': ', 'Host: ', 'Content-Length: ', 'Content-Length: 0\r\n', 'Transfer-Encoding: chunked\r\n',
  'Connection: close\r\n', 'Connection: upgrade\r\n', 'Upgrade: websocket\r\n', 'Expect: 100-continue\r\n',
  'X-Forwarded-For: ', 'X-Forwarded-Proto: https\r\n', 'X-Forwarded-Port: 443\r\n', 'X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\n',
  'User-Agent: ELB-HealthChecker/2.0\r\n', 'Authorization: Bearer x\r\n', 'Cookie: a=b\r\n', 'Set-Cookie: a=b\r\n',
  '/health?token=1', '10.0.0.1, 192.0.2.7', '2001:db8::1', ' \t', '0\r\n\r\n', 'a;ext=1\r\n', 'ffffffffff\r\n',
];

export const target: FuzzTarget = {
  name: 'http-head',
  maxLen: MAX_HEAD_BYTES + 512,
  dictionary: HTTP_DICTIONARY,
  fuzz(data: Buffer): void {
    const range = rangeOf(data);
    if (range === undefined) return;
    const { buf, off, length, end, ctl } = range;
    const opts = { keepQuery: (ctl & 0x10) !== 0, partial: (ctl & 0x20) !== 0 };
    const he = findHeadEnd(buf, off, end);
    assert.ok(he === -1 || (he > off && he <= end), `head end ${he} outside (${off}, ${end}]`);
    assert.equal(typeof looksLikeRequestStart(buf, off, length), 'boolean');
    assert.equal(typeof looksLikeResponseStart(buf, off, length), 'boolean');
    const h2 = matchHttp2Preface(buf, off, length);
    assert.ok(h2 === 'yes' || h2 === 'maybe' || h2 === 'no');
    const req = assertParsed(parseRequestHead(buf, off, length, opts), range);
    if (req !== undefined) {
      assert.ok(req.method.length > 0);
      within('path chars', req.path.length, 0, MAX_PATH_CHARS + 3);
      if (!opts.keepQuery) assert.ok(!req.path.includes('?'), `query kept: ${req.path}`);
      assert.ok(req.contentLength >= -2 && Number.isSafeInteger(req.contentLength), `content-length ${req.contentLength}`);
      within('trace id fields', req.traceIdFields, 0, MAX_HEAD_BYTES);
    }
    const res = assertParsed(parseResponseHead(buf, off, length, opts), range);
    if (res !== undefined) {
      within('status', res.status, 100, 999);
      assert.ok(res.contentLength >= -2 && Number.isSafeInteger(res.contentLength), `content-length ${res.contentLength}`);
    }
  },
};
