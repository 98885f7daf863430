import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseAlertRecord, parseClientHelloBody, parseClientHelloRecord, parseTlsRecordHeader, TlsAlertName,
} from '../../../agent/classify/tls/tls-parser.js';
import { alertRecord, clientHelloBody, clientHelloRecord, randomBytes, tlsRecord } from './bytes.js';
import { TlsStream } from '../../../agent/classify/tls/tls-stream.js';

test('a ClientHello yields SNI, ALPN and the highest supported version', () => {
  // Prepare
  const rec = clientHelloRecord({ sni: 'shop.example.com', alpn: ['h2', 'http/1.1'], versions: [0x0a0a, 0x0304, 0x0303] });
  // Act
  const r = parseClientHelloRecord(rec, 0, rec.length);
  // Assess
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.length, rec.length);
  assert.equal(r.value.sni, 'shop.example.com');
  assert.deepEqual(r.value.alpn, ['h2', 'http/1.1']);
  assert.equal(r.value.versionName, 'TLSv1.3');
  assert.equal(r.value.legacyVersion, 0x0303);
});

test('a ClientHello without extensions is TLS 1.2 by its legacy version and has no SNI', () => {
  const body = clientHelloBody();
  const r = parseClientHelloBody(body, 0, body.length);
  assert.equal(r.status, 'ok');
  assert.equal(r.status === 'ok' && r.value.versionName, 'TLSv1.2');
  assert.equal(r.status === 'ok' && r.value.sni, undefined);
});

test('every truncation of a ClientHello record is incomplete', () => {
  const rec = clientHelloRecord({ sni: 'a.example', alpn: ['h2'] });
  for (let n = 0; n < rec.length; n++) {
    const r = parseClientHelloRecord(rec, 0, n);
    assert.equal(r.status, 'incomplete', `n=${n} gave ${r.status}`);
  }
});

test('corrupt inner lengths of a ClientHello are malformed, not read past', () => {
  const body = clientHelloBody({ sni: 'a.example', alpn: ['h2'] });
  // Every single-byte corruption must give a verdict without throwing.
  for (let i = 4; i < body.length; i++) {
    for (const v of [0x00, 0xff]) {
      const b = Buffer.from(body);
      b[i] = v;
      const r = parseClientHelloBody(b, 0, b.length);
      assert.ok(['ok', 'malformed', 'incomplete'].includes(r.status));
    }
  }
  const bad = Buffer.from(body);
  bad[4 + 2 + 32] = 200; // session id length beyond 32
  assert.equal(parseClientHelloBody(bad, 0, bad.length).status, 'malformed');
});

test('record headers: content type and version are checked, lengths bounded', () => {
  assert.equal(parseTlsRecordHeader(Buffer.from([22, 3, 1, 0, 5]), 0, 5).status, 'ok');
  assert.equal(parseTlsRecordHeader(Buffer.from([22, 3]), 0, 2).status, 'incomplete');
  assert.equal(parseTlsRecordHeader(Buffer.from([0x47, 0x45, 0x54]), 0, 3).status, 'malformed'); // "GET"
  assert.equal(parseTlsRecordHeader(Buffer.from([22, 2, 0, 0, 5]), 0, 5).status, 'malformed');
  assert.equal(parseTlsRecordHeader(Buffer.from([22, 3, 3, 0xff, 0xff]), 0, 5).status, 'malformed');
  assert.equal(parseTlsRecordHeader(Buffer.alloc(0), 0, 0).status, 'incomplete');
});

test('a fatal alert yields its level and description name', () => {
  const rec = alertRecord(2, 40);
  const r = parseAlertRecord(rec, 0, rec.length);
  assert.equal(r.status, 'ok');
  if (r.status !== 'ok') return;
  assert.equal(r.value.levelName, 'fatal');
  assert.equal(r.value.descriptionName, 'handshake_failure');
  assert.equal(TlsAlertName[48], 'unknown_ca');
  assert.equal(TlsAlertName[112], 'unrecognized_name');
});

test('an encrypted alert (longer fragment) is recognised as such; bad levels are malformed', () => {
  const enc = tlsRecord(21, Buffer.alloc(26, 9), 0x0303);
  const r = parseAlertRecord(enc, 0, enc.length);
  assert.equal(r.status === 'malformed' && r.reason, 'encrypted_alert');
  const bad = alertRecord(7, 40);
  assert.equal(parseAlertRecord(bad, 0, bad.length).status, 'malformed');
  assert.equal(parseAlertRecord(alertRecord(2, 40), 0, 6).status, 'incomplete');
});

test('random garbage never throws', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const b = randomBytes(1 + (seed % 300), seed);
    b[0] = 22; b[1] = 3; // make it look like TLS so the inner parser runs
    parseClientHelloRecord(b, 0, b.length);
    parseClientHelloBody(b, 5, b.length - 5);
    parseAlertRecord(b, 0, b.length);
  }
  assert.ok(true);
});

test('TlsStream: ClientHellos of many streams, split and whole, interleaved, each read from its own bytes while body buffers are reused', () => {
  // Prepare: 40 streams (more than the body pool keeps), each a hello split in three segments, the
  // splits of all streams interleaved, with a whole hello of another stream between every two.
  const names: string[] = [];
  const stream = (): TlsStream => new TlsStream({
    want: (type, len) => (type === 22 ? len : 0),
    onRecord: (_type, _len, body) => {
      const h = parseClientHelloBody(body, 0, body.length);
      names.push(h.status === 'ok' ? String(h.value.sni) : `bad:${h.status}`);
    },
    onMalformed: (reason) => names.push(`malformed:${reason}`),
  });
  const split = Array.from({ length: 40 }, (_, i) => ({ s: stream(), rec: clientHelloRecord({ sni: `split-${i}.example`, padding: 300 + 37 * i }) }));
  const whole = Array.from({ length: 80 }, (_, i) => ({ s: stream(), rec: clientHelloRecord({ sni: `whole-${i}.example`, padding: 2000 + 11 * i }) }));
  const expected: string[] = [];
  // Act
  for (let part = 0; part < 3; part++) {
    for (const [i, { s, rec }] of split.entries()) {
      const a = Math.floor(rec.length / 3) * part;
      const b = part === 2 ? rec.length : Math.floor(rec.length / 3) * (part + 1);
      s.push(rec, a, b - a, b - a, 1);
      if (part === 2) expected.push(`split-${i}.example`);
      const w = whole[part * 26 + (i % 26)];
      if (w !== undefined && i % 3 === 0) {
        w.s.push(w.rec, 0, w.rec.length, w.rec.length, 1);
        expected.push(`whole-${part * 26 + (i % 26)}.example`);
      }
    }
  }
  // Assess
  assert.deepEqual(names, expected);
  assert.ok(split.every(({ s }) => s.heldBytes === 0), 'no stream keeps a hello buffer after its record');
});
