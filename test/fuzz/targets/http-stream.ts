/**
 * HTTP/1.x stream reassembly: one direction of a connection in segments (heads
 * spanning segments, Content-Length and chunked bodies, capture gaps, resync),
 * with the classifier's framing decisions in the handler. Byte 0 picks the
 * direction (bit 6) and the segmentation; the head callbacks must stay inside the
 * buffers they are given and within MAX_HEAD_BYTES.
 */
import assert from 'node:assert/strict';
import {
  looksLikeRequestStart, looksLikeResponseStart, MAX_HEAD_BYTES, parseRequestHead, parseResponseHead,
} from '../../../agent/classify/http/http-parser.js';
import { CHUNKED, HttpStream, NO_BODY, RESYNC, type Framing, type HttpStreamHandler } from '../../../agent/classify/http/http-stream.js';
import { within, type FuzzTarget } from '../target.js';
import { HTTP_DICTIONARY } from './http-head.js';
import { segmentsOf, type Segment } from './segments.js';

const segs: Segment[] = [];
let heads = 0;

function framing(contentLength: number, chunked: boolean): Framing {
  if (contentLength === -2) return RESYNC;
  if (chunked) return CHUNKED;
  if (contentLength > 0) return { kind: 'length', length: contentLength };
  return NO_BODY;
}

function onHead(request: boolean, buf: Uint8Array, off: number, len: number, partial: boolean): Framing {
  heads++;
  within('head offset', off, 0, buf.length);
  within('head length', len, 1, Math.min(MAX_HEAD_BYTES, buf.length - off));
  if (request) {
    const r = parseRequestHead(buf, off, len, { partial });
    if (r.status !== 'ok') return RESYNC;
    if (r.value.method === 'CONNECT' || r.value.upgrade !== undefined) return { kind: 'opaque' };
    return framing(r.value.contentLength, r.value.chunked);
  }
  const r = parseResponseHead(buf, off, len, { partial });
  if (r.status !== 'ok') return RESYNC;
  if (r.value.status === 101) return { kind: 'opaque' };
  if (r.value.status < 200 || r.value.status === 204 || r.value.status === 304) return NO_BODY;
  if (!r.value.chunked && r.value.contentLength === -1) return { kind: 'close' };
  return framing(r.value.contentLength, r.value.chunked);
}

export const target: FuzzTarget = {
  name: 'http-stream',
  maxLen: 4 * MAX_HEAD_BYTES,
  dictionary: HTTP_DICTIONARY,
  fuzz(data: Buffer): void {
    if (data.length === 0) return;
    const ctl = data[0] as number;
    const request = (ctl & 0x40) === 0;
    const handler: HttpStreamHandler<null> = {
      looksLikeStart: request ? looksLikeRequestStart : looksLikeResponseStart,
      onHead: (_o, buf, off, len, partial) => onHead(request, buf, off, len, partial),
      onMalformed: (_o, reason) => assert.ok(reason.length > 0),
      onBodyEnd: (_o, ts) => assert.ok(ts > 0),
    };
    const stream = new HttpStream<null>();
    heads = 0;
    let ts = 1;
    for (const g of segmentsOf(data.length - 1, ctl, segs)) stream.push(handler, null, data, 1 + g.off, g.capLen, g.wireLen, ts++);
    // At most one head per 2 bytes of input ("\n\n"), plus one flushed by a gap.
    within('heads', heads, 0, data.length);
    assert.equal(typeof stream.idle, 'boolean');
  },
};
