/**
 * The in-place head scanner must give exactly the verdicts and fields of the
 * string-building parser it replaced (kept as reference-http-parser.ts): the
 * same heads, mutated byte by byte, through both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  findHeadEnd, HeadRange, parseRequestHead, parseResponseHead, RequestHeadScan, requestHeadOf, ResponseHeadScan, responseHeadOf,
  scanRequestHead, scanResponseHead, ScanStatus,
} from '../../../agent/classify/http/http-parser.js';
import * as reference from './reference-http-parser.js';
import { rng } from './bytes.js';

const REQUESTS = [
  'GET /api/items/42?page=2 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: Mozilla/5.0\r\nX-Forwarded-For: 203.0.113.7\r\n' +
    'X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\nX-Amzn-Trace-Id: Root=1-67891233-abc\r\nAccept: */*\r\n\r\n',
  'POST /upload#frag HTTP/1.0\r\nCONTENT-LENGTH: 12\r\nconnection: Keep-Alive, close\r\nExpect: 100-Continue\r\nCookie: a=b\r\n\r\n',
  'PUT /x HTTP/1.1\nTransfer-Encoding: gzip ,  Chunked \nx-forwarded-for: 1.1.1.1\nX-Forwarded-For: [2001:db8::1]:80, 10.0.0.1\n\n',
  'GET / HTTP/1.1\r\nUpgrade: websocket\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nAuthorization: Bearer x\r\nProxy-Authorization: y\r\n' +
    'X-Amzn-Trace-Id: Self=1;Root=1-2-3\r\nX-Amzn-Trace-Id: Root=second\r\nContent-Length: 5\r\ncontent-length: 05\r\n  folded\r\n\r\n',
  'HEAD /h HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length:\t\u00a07 \u00a0\r\nHost:\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nContent-Length: 1234567890123456\r\nTransfer-Encoding: chunked, identity\r\n\r\n',
];

const RESPONSES = [
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1200\r\n\r\n',
  'HTTP/1.0 304 Not Modified\r\nConnection: keep-alive\r\nSet-Cookie: s=1\r\n\r\n',
  'HTTP/1.1 101\r\nConnection: Upgrade, CLOSE\nTransfer-Encoding: Chunked\r\n\r\n',
  'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n',
  'HTTP/1.1 404 x\r\nTransfer-Encoding: chunked\u00a0\r\nconnection: close,\r\n\r\n',
];

const INTERESTING = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x2c, 0x3f, 0x23, 0x3b, 0xa0, 0x7f, 0x00, 0x41, 0x61, 0x30, 0x2f, 0x48];

function mutate(base: Buffer, r: () => number): Buffer {
  const b = Buffer.from(base);
  const edits = 1 + Math.floor(r() * 3);
  let out = b;
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * out.length);
    const byte = r() < 0.7 ? (INTERESTING[Math.floor(r() * INTERESTING.length)] as number) : Math.floor(r() * 256);
    const kind = r();
    if (kind < 0.4) out[at] = byte;
    else if (kind < 0.7) out = Buffer.concat([out.subarray(0, at), Buffer.from([byte]), out.subarray(at)]);
    else out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
  }
  return out;
}

/** What the classifier sees: HttpStream's complete heads, delimited by findHeadEnd and scanned as whole. */
function wholeHeads(buf: Buffer, off: number, he: number, keepQuery: boolean): [unknown, unknown] {
  const q = new RequestHeadScan();
  const req = scanRequestHead(buf, off, he - off, keepQuery, false, q, HeadRange.WHOLE)
    ? { status: 'ok', value: requestHeadOf(q), length: q.length } : { status: q.status === ScanStatus.INCOMPLETE ? 'incomplete' : 'malformed', reason: q.reason };
  const a = new ResponseHeadScan();
  const res = scanResponseHead(buf, off, he - off, false, a, HeadRange.WHOLE)
    ? { status: 'ok', value: responseHeadOf(a), length: a.length } : { status: a.status === ScanStatus.INCOMPLETE ? 'incomplete' : 'malformed', reason: a.reason };
  return [req, res];
}

/**
 * What HttpStream's one-pass path sees: a head that starts at `off`, scanned OPEN over
 * everything after it. It may decline (not OK), but when it answers OK it must be WHOLE's
 * answer for the head findHeadEnd delimits, and its length must end the head there.
 */
function openHeads(buf: Buffer, off: number, len: number, keepQuery: boolean): [unknown, unknown] {
  const q = new RequestHeadScan();
  const req = scanRequestHead(buf, off, len, keepQuery, false, q, HeadRange.OPEN)
    ? { status: 'ok', value: requestHeadOf(q), length: q.length } : undefined;
  const a = new ResponseHeadScan();
  const res = scanResponseHead(buf, off, len, false, a, HeadRange.OPEN)
    ? { status: 'ok', value: responseHeadOf(a), length: a.length } : undefined;
  return [req, res];
}

function compareOpen(buf: Buffer, off: number, len: number, keepQuery: boolean, he: number, label: string): void {
  const [oreq, ores] = openHeads(buf, off, len, keepQuery);
  if (oreq === undefined && ores === undefined) return;
  assert.ok(he > off, `open scan accepted a head findHeadEnd does not delimit: ${label}`);
  const [req, res] = wholeHeads(buf, off, he, keepQuery);
  if (oreq !== undefined) assert.deepEqual(oreq, req, `open request ${label}`);
  if (ores !== undefined) assert.deepEqual(ores, res, `open response ${label}`);
}

function compare(buf: Buffer, off: number, len: number, r: () => number, label: string): void {
  const opts = { keepQuery: r() < 0.3, partial: r() < 0.3 };
  assert.deepEqual(parseRequestHead(buf, off, len, opts), reference.parseRequestHead(buf, off, len, opts), `request ${label} ${JSON.stringify(opts)}`);
  assert.deepEqual(parseResponseHead(buf, off, len, opts), reference.parseResponseHead(buf, off, len, opts), `response ${label} ${JSON.stringify(opts)}`);
  const he = findHeadEnd(buf, off, Math.min(buf.length, off + len));
  assert.equal(he, reference.findHeadEnd(buf, off, Math.min(buf.length, off + len)), `head end ${label}`);
  compareOpen(buf, off, Math.min(buf.length - off, len), opts.keepQuery, he, label);
  if (he > off) {
    const [req, res] = wholeHeads(buf, off, he, opts.keepQuery);
    assert.deepEqual(req, reference.parseRequestHead(buf, off, he - off, { keepQuery: opts.keepQuery }), `whole request ${label}`);
    assert.deepEqual(res, reference.parseResponseHead(buf, off, he - off), `whole response ${label}`);
  }
}

test('the scanner and the reference parser agree on every head, every truncation and thousands of mutations', () => {
  // Prepare
  const r = rng(20261125);
  const bases = [...REQUESTS, ...RESPONSES].map((s) => Buffer.from(s, 'latin1'));
  let cases = 0;
  for (const base of bases) {
    // Act + Assess: every truncation (complete heads, partial ones, nothing yet)...
    for (let n = 0; n <= base.length; n++) { compare(base, 0, n, r, `${JSON.stringify(base.toString('latin1'))} cut at ${n}`); cases++; }
    // ...at an offset inside a larger buffer...
    const padded = Buffer.concat([Buffer.from('xyz'), base, Buffer.from('body')]);
    compare(padded, 3, base.length + 4, r, 'at offset 3'); cases++;
    // ...and mutations of the bytes that steer the parser.
    for (let i = 0; i < 1500; i++) {
      const m = mutate(base, r);
      compare(m, 0, m.length, r, JSON.stringify(m.toString('latin1'))); cases++;
    }
  }
  assert.ok(cases > 15_000);
});

test('a well-formed head is read in one pass wherever its segment ends after it (body, a pipelined head, a cut blank line)', () => {
  let accepted = 0;
  for (const base of [...REQUESTS, ...RESPONSES].map((t) => Buffer.from(t, 'latin1'))) {
    for (const tail of ['', 'x'.repeat(1200), 'GET /next HTTP/1.1\r\n\r\n', '\r\n\r\n', '\n']) {
      const buf = Buffer.concat([Buffer.from('ab'), base, Buffer.from(tail, 'latin1')]);
      const he = findHeadEnd(buf, 2, buf.length);
      // Act + Assess: wherever the range ends, an OK open scan is the whole scan.
      for (let end = 2; end <= buf.length; end++) compareOpen(buf, 2, end - 2, false, findHeadEnd(buf, 2, end), `${JSON.stringify(base.toString('latin1'))} + ${tail.length} bytes, cut at ${end}`);
      const [oreq, ores] = openHeads(buf, 2, buf.length - 2, false);
      const [req, res] = wholeHeads(buf, 2, he, false);
      // Every head the whole scan accepts, the open scan accepts too when all of it is there.
      if ((req as { status: string }).status === 'ok') { assert.deepEqual(oreq, req); accepted++; }
      if ((res as { status: string }).status === 'ok') { assert.deepEqual(ores, res); accepted++; }
    }
  }
  assert.ok(accepted >= 40, `accepted ${accepted}`);
});

test('the head end is found at the same place for every short run of CR, LF and other bytes', () => {
  // Prepare: every string of up to 7 bytes over {CR, LF, 'a'}, at every offset and end.
  const alphabet = [0x0d, 0x0a, 0x61];
  let checked = 0;
  for (let n = 0; n <= 7; n++) {
    for (let code = 0; code < 3 ** n; code++) {
      const buf = Buffer.alloc(n);
      for (let k = 0, c = code; k < n; k++, c = Math.floor(c / 3)) buf[k] = alphabet[c % 3] as number;
      for (let off = 0; off <= n; off++) {
        for (let end = off; end <= n; end++) {
          // Act + Assess
          assert.equal(findHeadEnd(buf, off, end), reference.findHeadEnd(buf, off, end), `${JSON.stringify(buf.toString('latin1'))} [${off}, ${end})`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 50_000);
});

test('the scanner and the reference parser agree on a 64 KB head, a 10,000-entry X-Forwarded-For and a head too large', () => {
  const r = rng(7);
  const xff = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.1`).join(', ');
  const big = Buffer.from(`GET /${'p'.repeat(3000)}?q=1 HTTP/1.1\r\nX-Forwarded-For: ${xff}\r\n\r\n`, 'latin1');
  compare(big, 0, big.length, r, 'big xff');
  const huge = Buffer.from(`GET / HTTP/1.1\r\nX-Pad: ${'a'.repeat(70_000)}\r\n\r\n`, 'latin1');
  compare(huge, 0, huge.length, r, 'huge');
  compare(huge, 0, 65_536, r, 'huge cut');
});

test('every byte value at every position of a field value, and at every alignment, gets the reference verdict', () => {
  // Field values are checked four bytes at a time until a word holds a control byte or DEL:
  // each byte (0-255) is put at each place of a value, with the head at offsets 0-3.
  const r = rng(11);
  let checked = 0;
  for (const value of ['abcdefghijklmno', '1.2.3.4, 5.6.7.8', 'x']) {
    for (let at = 0; at < value.length; at++) {
      for (let byte = 0; byte < 256; byte++) {
        const v = Buffer.from(value, 'latin1');
        v[at] = byte;
        for (let off = 0; off < 4; off++) {
          const head = Buffer.concat([Buffer.alloc(off, 0x61), Buffer.from('GET / HTTP/1.1\r\nX-Forwarded-For: ', 'latin1'), v, Buffer.from('\r\nHost: h\r\n\r\n', 'latin1')]);
          // Act + Assess
          compare(head, off, head.length - off, r, `byte ${byte} at ${at} of ${JSON.stringify(value)}, offset ${off}`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 30_000, `checked ${checked}`);
});
