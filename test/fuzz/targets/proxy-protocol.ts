/** Proxy protocol v1 (text) and v2 (binary, TLVs incl. AWS VPC endpoint id) headers. */
import assert from 'node:assert/strict';
import {
  detectProxyHeader, parseProxyHeader, parseProxyV1, parseProxyV2, PROXY_V1_MAX_LENGTH, PROXY_V2_SIGNATURE,
} from '../../../agent/classify/proxy-protocol/proxy-parser.js';
import { within, type FuzzTarget } from '../target.js';
import { assertParsed, rangeOf } from './parsed-common.js';

export const target: FuzzTarget = {
  name: 'proxy-protocol',
  maxLen: 1024,
  dictionary: [
    'PROXY ', 'TCP4 ', 'TCP6 ', 'UNKNOWN', '\r\n', ' ', '192.0.2.1', '::1', 'ffff:', '65535', '0', '255.255.255.255',
    PROXY_V2_SIGNATURE, Uint8Array.of(0x21), Uint8Array.of(0x20), Uint8Array.of(0x11), Uint8Array.of(0x21, 0x11),
    Uint8Array.of(0x21, 0x21), Uint8Array.of(0x21, 0x31), Uint8Array.of(0x00, 0x0c), Uint8Array.of(0x00, 0x24),
    Uint8Array.of(0xea, 0x00, 0x05, 0x01), Uint8Array.of(0x02, 0x00, 0x04), Uint8Array.of(0x04), Uint8Array.of(0x20, 0x00),
  ],
  fuzz(data: Buffer): void {
    const range = rangeOf(data);
    if (range === undefined) return;
    const { buf, off, length } = range;
    const kind = detectProxyHeader(buf, off, length);
    assert.ok(kind === 'v1' || kind === 'v2' || kind === 'maybe' || kind === 'no', kind);
    const h = assertParsed(parseProxyHeader(buf, off, length), range);
    const r1 = parseProxyV1(buf, off, length);
    const v1 = assertParsed(r1, range);
    if (v1 !== undefined && r1.status === 'ok') within('v1 header length', r1.length, 8, PROXY_V1_MAX_LENGTH);
    assertParsed(parseProxyV2(buf, off, length), range);
    if (h === undefined) return;
    assert.ok(h.version === 1 || h.version === 2);
    if (h.srcPort !== undefined) within('srcPort', h.srcPort, 0, 65535);
    if (h.dstPort !== undefined) within('dstPort', h.dstPort, 0, 65535);
    for (const t of h.tlvs) within('tlv length', t.length, 0, range.end - range.off);
  },
};
