import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHUNKED, HttpStream, NO_BODY, UNTIL_CLOSE, type Framing, type HttpStreamHandler } from '../../../agent/classify/http/http-stream.js';
import { looksLikeResponseStart } from '../../../agent/classify/http/http-parser.js';

/** A response stream whose heads say their framing in an X-Frame header: "len:N", "chunked", "close" or none. */
function stream() {
  const heads: string[] = [];
  const malformed: string[] = [];
  let bodies = 0;
  const owner = { name: 'the connection' };
  const owners = new Set<unknown>();
  const handler: HttpStreamHandler<typeof owner> = {
    looksLikeStart: looksLikeResponseStart,
    onHead(o, buf, off, len, partial): Framing {
      owners.add(o);
      const text = Buffer.from(buf.subarray(off, off + len)).toString('latin1');
      heads.push((partial ? 'partial:' : '') + (text.split('\r\n')[0] ?? ''));
      const m = /X-Frame: (\S+)/.exec(text);
      if (!m) return NO_BODY;
      if (m[1] === 'chunked') return CHUNKED;
      if (m[1] === 'close') return UNTIL_CLOSE;
      return { kind: 'length', length: Number(m[1]?.slice(4)) };
    },
    onMalformed(o, reason) { owners.add(o); malformed.push(reason); },
    onBodyEnd(o) { owners.add(o); bodies++; },
  };
  const stream = new HttpStream<typeof owner>();
  // The stream as the classifier drives it: its handler and owner given at each call.
  const s = {
    push: (buf: Uint8Array, off: number, capLen: number, wireLen: number, ts: number) => stream.push(handler, owner, buf, off, capLen, wireLen, ts),
    gap: (n: number, ts: number) => stream.gap(handler, owner, n, ts),
    get idle() { return stream.idle; },
    get resyncing() { return stream.resyncing; },
    get heldBytes() { return stream.heldBytes; },
  };
  const push = (text: string, wire?: number) => {
    const b = Buffer.from(text, 'latin1');
    s.push(b, 0, b.length, wire ?? b.length, 0);
  };
  return { s, heads, malformed, push, bodies: () => bodies, owners, owner };
}

test('chunked bodies are skipped across segments, with extensions and trailers', () => {
  // Prepare
  const t = stream();
  // Act: chunk sizes, data and the terminating CRLFs split at awkward places.
  t.push('HTTP/1.1 200 OK\r\nX-Frame: chunked\r\n\r\n1');
  t.push('0;name=val\r\n0123456789');
  t.push('abcdef\r');
  t.push('\n0\r\nTrailer: x\r\n');
  t.push('\r\nHTTP/1.1 204 No\r\n\r\n');
  // Assess
  assert.deepEqual(t.heads, ['HTTP/1.1 200 OK', 'HTTP/1.1 204 No']);
  assert.deepEqual(t.malformed, []);
  assert.equal(t.bodies(), 2);
  assert.deepEqual([...t.owners], [t.owner], 'every callback is given the stream\'s owner');
});

test('Content-Length bodies cut by the snaplen are skipped by wire length', () => {
  const t = stream();
  const head = 'HTTP/1.1 200 OK\r\nX-Frame: len:3000\r\n\r\n';
  // 100 body bytes captured of 1400 on the wire, then a segment with none captured, then the rest.
  t.push(head + 'x'.repeat(100), head.length + 1400);
  t.s.push(Buffer.alloc(0), 0, 0, 1400, 0);
  t.push('y'.repeat(200));
  assert.ok(t.s.idle, 'exactly at the end of the body');
  t.push('HTTP/1.1 500 E\r\n\r\n');
  assert.deepEqual(t.heads, ['HTTP/1.1 200 OK', 'HTTP/1.1 500 E']);
  assert.deepEqual(t.malformed, []);
});

test('a gap inside a head reports the partial head, then resynchronises at the next message', () => {
  const t = stream();
  t.push('HTTP/1.1 502 Bad\r\nServer: x\r\nX-Pad: ', 2000);
  t.push('more garbage that is not a start line');
  t.push('HTTP/1.1 200 OK\r\n\r\n');
  assert.deepEqual(t.heads, ['partial:HTTP/1.1 502 Bad', 'HTTP/1.1 200 OK']);
  assert.ok(t.s.idle);
});

test('a bad chunk size is malformed and the stream resynchronises', () => {
  const t = stream();
  t.push('HTTP/1.1 200 OK\r\nX-Frame: chunked\r\n\r\nzz\r\n');
  assert.deepEqual(t.malformed, ['bad_chunk_size']);
  assert.deepEqual([...t.owners], [t.owner]);
  assert.ok(t.s.resyncing);
  t.push('HTTP/1.1 200 OK\r\n\r\n');
  assert.equal(t.heads.length, 2);
});

test('a body read until close swallows everything after it', () => {
  const t = stream();
  t.push('HTTP/1.0 200 OK\r\nX-Frame: close\r\n\r\nHTTP/1.1 200 looks like a head but is body\r\n\r\n');
  assert.deepEqual(t.heads, ['HTTP/1.0 200 OK']);
});

test('the head buffer never exceeds the bound with a head fed one byte at a time', () => {
  const t = stream();
  t.push('HTTP/1.1 200 OK\r\n');
  for (let i = 0; i < 70_000; i++) t.push('a');
  assert.deepEqual(t.malformed, ['head_too_large']);
});

test('a head that spans segments is buffered only until it is complete', () => {
  // Prepare: a 3 KB head (a large cookie) in two segments, then one in a single segment.
  const t = stream();
  const big = `HTTP/1.1 200 OK\r\nSet-Cookie: s=${'x'.repeat(3000)}\r\nX-Frame: len:2\r\n\r\nok`;
  // Act and assess
  t.push(big.slice(0, 1400));
  assert.ok(t.s.heldBytes >= 1400, 'the first part waits in a buffer');
  t.push(big.slice(1400));
  assert.equal(t.s.heldBytes, 0, 'the buffer is let go once the head is complete');
  t.push('HTTP/1.1 204 No\r\n\r\n');
  assert.equal(t.s.heldBytes, 0);
  // A head cut by a capture gap: its partial head is reported and its buffer let go too.
  t.push('HTTP/1.1 200 OK\r\nX-Frame: len:5');
  assert.ok(t.s.heldBytes > 0);
  t.s.gap(100, 1);
  assert.equal(t.s.heldBytes, 0);
  assert.deepEqual(t.heads, ['HTTP/1.1 200 OK', 'HTTP/1.1 204 No', 'partial:HTTP/1.1 200 OK']);
  assert.equal(t.bodies(), 2);
});
