/**
 * Found by the fuzzer (target tls, 2026-11-25): a record whose fragment is longer
 * than the ClientHello inside it (more handshake bytes follow in the record), cut
 * before the record ends, was reported ok with a consumed length past the bytes
 * given (102 of 55).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClientHelloRecord } from '../../../agent/classify/tls/tls-parser.js';

// The fuzzer's input without its control byte: 3 bytes of lead-in, then a handshake
// record of 97 bytes (0x61) of which 50 are present; the hello in it is 47 bytes.
const INPUT = Buffer.from(
  '000300' + '1603010061' + '0100002b' + '005d0303070707070707070707070707070000070707000007070707070000070707000004' +
  '1301c02f01000a0d0d', 'hex');

test('a ClientHello in a record cut short is incomplete, never ok with bytes that are not there', () => {
  // Prepare
  const off = 3;
  // Act
  const r = parseClientHelloRecord(INPUT, off, INPUT.length - off);
  // Assess
  assert.equal(r.status, 'incomplete');
});

test('the same record, whole, is ok and consumes exactly the record', () => {
  // Prepare
  const whole = Buffer.concat([INPUT.subarray(3), Buffer.alloc(102 - (INPUT.length - 3))]);
  // Act
  const r = parseClientHelloRecord(whole, 0, whole.length);
  // Assess
  assert.equal(r.status, 'ok');
  assert.equal(r.status === 'ok' && r.length, 102);
});
