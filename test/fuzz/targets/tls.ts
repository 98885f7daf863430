/**
 * TLS: the record-header, ClientHello (SNI, ALPN, supported_versions) and alert
 * parsers on the input, then the same bytes as a client-to-server stream through
 * TlsStream in segments, with the classifier's want() and ClientHello parsing.
 */
import assert from 'node:assert/strict';
import {
  looksLikeTlsHandshake, MAX_RECORD_LENGTH, parseAlertRecord, parseClientHelloBody, parseClientHelloRecord,
  parseTlsRecordHeader, TlsContentType,
} from '../../../agent/classify/tls/tls-parser.js';
import { TlsStream } from '../../../agent/classify/tls/tls-stream.js';
import { within, type FuzzTarget } from '../target.js';
import { assertParsed, rangeOf, type Range } from './parsed-common.js';
import { segmentsOf, type Segment } from './segments.js';

const segs: Segment[] = [];
let wanted = 0;
let records = 0;

const stream = (): TlsStream => new TlsStream({
  want: (type, len) => {
    within('record length', len, 0, MAX_RECORD_LENGTH);
    wanted = type === TlsContentType.HANDSHAKE ? len : type === TlsContentType.ALERT ? 2 : 0;
    return wanted;
  },
  onRecord: (type, len, body, truncated) => {
    records++;
    within('record body', body.length, 0, Math.min(len, Math.max(wanted, 0)));
    if (!truncated && type === TlsContentType.HANDSHAKE) assert.equal(body.length, len, 'untruncated body is whole');
    if (type === TlsContentType.HANDSHAKE) {
      const whole: Range = { buf: Buffer.from(body.buffer, body.byteOffset, body.length), off: 0, length: body.length, end: body.length, ctl: 0 };
      assertParsed(parseClientHelloBody(body, 0, body.length), whole);
    }
  },
  onMalformed: (reason) => assert.ok(reason.length > 0),
});

function checkHello(range: Range): void {
  const h = assertParsed(parseClientHelloRecord(range.buf, range.off, range.length), range);
  if (h === undefined) return;
  assert.equal(typeof h.versionName, 'string');
  if (h.sni !== undefined) assert.equal(typeof h.sni, 'string');
  for (const a of h.alpn) assert.equal(typeof a, 'string');
}

export const target: FuzzTarget = {
  name: 'tls',
  maxLen: 20000,
  dictionary: [
    Uint8Array.of(0x16, 0x03, 0x01), Uint8Array.of(0x16, 0x03, 0x03), Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02),
    Uint8Array.of(0x17, 0x03, 0x03), Uint8Array.of(0x14, 0x03, 0x03, 0x00, 0x01, 0x01), Uint8Array.of(0x01, 0x00),
    Uint8Array.of(0x00, 0x00), Uint8Array.of(0x00, 0x10), Uint8Array.of(0x00, 0x2b), Uint8Array.of(0x03, 0x04),
    Uint8Array.of(0x0a, 0x0a), Uint8Array.of(0x02, 0x28), Uint8Array.of(0x01, 0x00), 'h2', 'http/1.1', 'example.com',
  ],
  fuzz(data: Buffer): void {
    const range = rangeOf(data);
    if (range === undefined) return;
    const { buf, off, length } = range;
    const hdr = assertParsed(parseTlsRecordHeader(buf, off, length), range);
    if (hdr !== undefined) within('record length', hdr.length, 0, MAX_RECORD_LENGTH);
    assert.equal(typeof looksLikeTlsHandshake(buf, off, length), 'boolean');
    checkHello(range);
    assertParsed(parseAlertRecord(buf, off, length), range);
    // The stream: all of buf from `off`, in segments chosen by the control byte.
    const s = stream();
    records = 0;
    let ts = 1;
    for (const g of segmentsOf(buf.length - off, range.ctl, segs)) {
      s.push(buf, off + g.off, g.capLen, g.wireLen, ts++);
      if (s.stopped) break;
    }
    within('records', records, 0, buf.length);
  },
};
