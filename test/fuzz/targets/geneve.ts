/** parseGeneve on the payload of a GENEVE datagram (GWLB): options, AWS TLVs, the inner packet's range. */
import assert from 'node:assert/strict';
import { GENEVE_HEADER_LENGTH, parseGeneve } from '../../../agent/classify/geneve/geneve-parser.js';
import { within, type FuzzTarget } from '../target.js';
import { assertParsed, rangeOf } from './parsed-common.js';

export const target: FuzzTarget = {
  name: 'geneve',
  maxLen: 2048,
  dictionary: [
    Uint8Array.of(0x01, 0x08), Uint8Array.of(0x08, 0x00), Uint8Array.of(0x86, 0xdd), Uint8Array.of(0x65, 0x58),
    Uint8Array.of(0x01, 0x08, 0x01, 0x02), Uint8Array.of(0x01, 0x08, 0x02, 0x02), Uint8Array.of(0x01, 0x08, 0x03, 0x01),
    Uint8Array.of(0x3f), Uint8Array.of(0x80), Uint8Array.of(0x40), Uint8Array.of(0x1f),
  ],
  fuzz(data: Buffer): void {
    const range = rangeOf(data);
    if (range === undefined) return;
    const r = parseGeneve(range.buf, range.off, range.length);
    const h = assertParsed(r, range);
    if (h === undefined) return;
    assert.ok(r.status === 'ok' && r.length >= GENEVE_HEADER_LENGTH);
    within('innerOffset', h.innerOffset, range.off + GENEVE_HEADER_LENGTH, range.end);
    within('innerLength', h.innerLength, 0, range.end - h.innerOffset);
    assert.equal(h.innerOffset, range.off + r.length);
    within('options', h.options.length, 0, 16);
    for (const o of h.options) within('option length', o.length, 0, 124);
    for (const id of [h.awsEndpointId, h.awsAttachmentId]) if (id !== undefined) assert.match(id, /^[0-9a-f]{16}$/);
    if (h.awsFlowCookie !== undefined) assert.match(h.awsFlowCookie, /^[0-9a-f]{8}$/);
  },
};
