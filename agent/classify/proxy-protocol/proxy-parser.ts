/**
 * PROXY protocol headers (haproxy's proxy-protocol.txt): v1, the text line a CLB
 * TCP listener sends, and v2, the binary header an NLB sends, with its TLVs
 * (AWS type 0xEA, subtype 0x01: the VPC endpoint id of a PrivateLink client).
 * https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#proxy-protocol
 */
import { formatIp6, ip4Text } from '../../decode/packet-view.js';
import { badOffset, boundedEnd, incomplete, malformed, ok, type Parsed } from '../parse-result.js';

/** v1: "PROXY " ... CRLF, at most 107 bytes including the CRLF (spec 2.1). */
export const PROXY_V1_MAX_LENGTH = 107;
/** v2 signature (spec 2.2). */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
export const PROXY_V2_HEADER_LENGTH = 16;
const PROXY_V1_PREFIX = Buffer.from('PROXY ', 'latin1');

export const Pp2Type = {
  ALPN: 0x01, AUTHORITY: 0x02, CRC32C: 0x03, NOOP: 0x04, UNIQUE_ID: 0x05, SSL: 0x20, NETNS: 0x30,
  /** AWS-specific TLV (NLB). */
  AWS: 0xea,
} as const;
/** Subtype of PP2_TYPE_AWS carrying the VPC endpoint id (e.g. "vpce-08d2bf15fac5001c9"). */
export const PP2_SUBTYPE_AWS_VPCE_ID = 0x01;

export type ProxyTlv = { type: number; length: number };

export type ProxyHeader = {
  version: 1 | 2;
  /** LOCAL (v2 command 0): sent by the proxy itself, e.g. a health check; addresses are meaningless. */
  local: boolean;
  /** 'TCP4' | 'TCP6' | 'UNKNOWN' (v1) or 'inet' | 'inet6' | 'unix' | 'unspec' (v2). */
  family: string;
  srcIp: string | undefined;
  /** A v2 header's IPv4 source (not LOCAL) as a signed 32-bit integer, as the header carries it; undefined otherwise. */
  srcIp4: number | undefined;
  dstIp: string | undefined;
  srcPort: number | undefined;
  dstPort: number | undefined;
  /** From TLV 0xEA/0x01. */
  vpceId: string | undefined;
  /** From TLV 0x02 (v2 only): the host name the client asked for (SNI). */
  authority: string | undefined;
  /** Types and lengths of every TLV seen (values are not kept). */
  tlvs: ProxyTlv[];
};

/** 'v1' / 'v2' when the bytes start (or could start, when short) with a header; 'no' otherwise. */
export function detectProxyHeader(buf: Uint8Array, off: number, length: number): 'v1' | 'v2' | 'maybe' | 'no' {
  const end = boundedEnd(buf, off, length);
  const n = end - off;
  if (n <= 0) return 'maybe';
  let v1 = true;
  for (let k = 0; k < Math.min(n, PROXY_V1_PREFIX.length); k++) if (buf[off + k] !== PROXY_V1_PREFIX[k]) { v1 = false; break; }
  let v2 = true;
  for (let k = 0; k < Math.min(n, PROXY_V2_SIGNATURE.length); k++) if (buf[off + k] !== PROXY_V2_SIGNATURE[k]) { v2 = false; break; }
  if (v1) return n >= PROXY_V1_PREFIX.length ? 'v1' : 'maybe';
  if (v2) return n >= PROXY_V2_SIGNATURE.length ? 'v2' : 'maybe';
  return 'no';
}

/** Parse a v1 or v2 header at the start of the range. */
export function parseProxyHeader(buf: Uint8Array, off: number, length: number): Parsed<ProxyHeader> {
  if (badOffset(buf, off)) return malformed('bad_offset');
  switch (detectProxyHeader(buf, off, length)) {
    case 'v1': return parseProxyV1(buf, off, length);
    case 'v2': return parseProxyV2(buf, off, length);
    case 'maybe': return incomplete('short_signature');
    default: return malformed('no_signature');
  }
}

const IPV4_RE = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const IPV6_RE = /^[0-9A-Fa-f:.]{2,45}$/;
const PORT_RE = /^(0|[1-9][0-9]{0,4})$/;

export function parseProxyV1(buf: Uint8Array, off: number, length: number): Parsed<ProxyHeader> {
  if (badOffset(buf, off)) return malformed('bad_offset');
  const end = boundedEnd(buf, off, length);
  let crlf = -1;
  const limit = Math.min(end, off + PROXY_V1_MAX_LENGTH);
  for (let i = off; i + 1 < limit; i++) {
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a) { crlf = i; break; }
  }
  if (crlf < 0) return end - off >= PROXY_V1_MAX_LENGTH ? malformed('v1_too_long') : incomplete('v1_no_crlf_yet');
  for (let i = off; i < crlf; i++) {
    const c = buf[i] ?? 0;
    if (c < 0x20 || c > 0x7e) return malformed('v1_bad_character');
  }
  const line = Buffer.from(buf.buffer, buf.byteOffset + off, crlf - off).toString('latin1');
  const parts = line.split(' ');
  const header: ProxyHeader = {
    version: 1, local: false, family: parts[1] ?? '', srcIp: undefined, srcIp4: undefined, dstIp: undefined,
    srcPort: undefined, dstPort: undefined, vpceId: undefined, authority: undefined, tlvs: [],
  };
  // "PROXY UNKNOWN" may carry anything up to the CRLF (spec 2.1): the receiver ignores it.
  if (parts[1] === 'UNKNOWN') return ok(header, crlf + 2 - off);
  if (parts.length !== 6) return malformed('v1_bad_field_count');
  const [, fam, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  if (fam === 'TCP4') {
    if (!IPV4_RE.test(src) || !IPV4_RE.test(dst)) return malformed('v1_bad_address');
  } else if (fam === 'TCP6') {
    if (!IPV6_RE.test(src) || !IPV6_RE.test(dst) || !src.includes(':') || !dst.includes(':')) return malformed('v1_bad_address');
  } else return malformed('v1_bad_family');
  if (!PORT_RE.test(sport) || !PORT_RE.test(dport) || Number(sport) > 65535 || Number(dport) > 65535) return malformed('v1_bad_port');
  header.srcIp = fam === 'TCP6' ? src.toLowerCase() : src;
  header.dstIp = fam === 'TCP6' ? dst.toLowerCase() : dst;
  header.srcPort = Number(sport);
  header.dstPort = Number(dport);
  return ok(header, crlf + 2 - off);
}

export function parseProxyV2(buf: Uint8Array, off: number, length: number): Parsed<ProxyHeader> {
  if (badOffset(buf, off)) return malformed('bad_offset');
  const end = boundedEnd(buf, off, length);
  if (end - off < PROXY_V2_HEADER_LENGTH) return incomplete('v2_short_header');
  for (let k = 0; k < PROXY_V2_SIGNATURE.length; k++) if (buf[off + k] !== PROXY_V2_SIGNATURE[k]) return malformed('no_signature');
  const verCmd = buf[off + 12] ?? 0;
  if (verCmd >> 4 !== 2) return malformed('v2_bad_version');
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return malformed('v2_bad_command');
  const famProto = buf[off + 13] ?? 0;
  const fam = famProto >> 4;
  const proto = famProto & 0x0f;
  if (fam > 3 || proto > 2) return malformed('v2_bad_family');
  const len = ((buf[off + 14] ?? 0) << 8) | (buf[off + 15] ?? 0);
  const total = PROXY_V2_HEADER_LENGTH + len;
  if (end - off < total) return incomplete('v2_short_body');
  const header: ProxyHeader = {
    version: 2, local: cmd === 0, family: V2_FAMILIES[fam] ?? 'unspec',
    srcIp: undefined, srcIp4: undefined, dstIp: undefined, srcPort: undefined, dstPort: undefined,
    vpceId: undefined, authority: undefined, tlvs: [],
  };
  let p = off + PROXY_V2_HEADER_LENGTH;
  const bodyEnd = off + total;
  const addrLen = fam === 1 ? 12 : fam === 2 ? 36 : fam === 3 ? 216 : 0;
  if (len < addrLen) return malformed('v2_short_address_block');
  if (fam === 1 || fam === 2) {
    const ipLen = fam === 1 ? 4 : 16;
    if (fam === 1) {
      // Through ip4Text's cache: formatIp4's template made ~400 bytes of garbage per header.
      header.srcIp4 = readU32(buf, p) | 0;
      header.srcIp = ip4Text(header.srcIp4);
      header.dstIp = ip4Text(readU32(buf, p + 4));
    } else {
      header.srcIp = formatIp6(buf, p);
      header.dstIp = formatIp6(buf, p + 16);
    }
    header.srcPort = ((buf[p + 2 * ipLen] ?? 0) << 8) | (buf[p + 2 * ipLen + 1] ?? 0);
    header.dstPort = ((buf[p + 2 * ipLen + 2] ?? 0) << 8) | (buf[p + 2 * ipLen + 3] ?? 0);
  }
  // A LOCAL header's addresses are ignored by the receiver (spec 2.2): keep them out of client identity.
  if (header.local) { header.srcIp = undefined; header.srcIp4 = undefined; header.dstIp = undefined; header.srcPort = undefined; header.dstPort = undefined; }
  p += addrLen;
  while (p < bodyEnd) {
    if (p + 3 > bodyEnd) return malformed('v2_truncated_tlv');
    const type = buf[p] ?? 0;
    const tlen = ((buf[p + 1] ?? 0) << 8) | (buf[p + 2] ?? 0);
    const vs = p + 3;
    if (vs + tlen > bodyEnd) return malformed('v2_truncated_tlv');
    if (header.tlvs.length < 32) header.tlvs.push({ type, length: tlen });
    if (type === Pp2Type.AWS && tlen >= 1 && buf[vs] === PP2_SUBTYPE_AWS_VPCE_ID) {
      header.vpceId = printable(buf, vs + 1, vs + tlen);
    } else if (type === Pp2Type.AUTHORITY) {
      header.authority = printable(buf, vs, vs + tlen);
    }
    p = vs + tlen;
  }
  return ok(header, total);
}

/** v2 address families by their number (the high four bits of byte 13). */
const V2_FAMILIES: readonly string[] = ['unspec', 'inet', 'inet6', 'unix'];

function readU32(buf: Uint8Array, p: number): number {
  return (((buf[p] ?? 0) << 24) | ((buf[p + 1] ?? 0) << 16) | ((buf[p + 2] ?? 0) << 8) | (buf[p + 3] ?? 0)) >>> 0;
}

/** Printable ASCII of a TLV value, non-printable bytes replaced, at most 255 characters. */
function printable(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end && i - start < 255; i++) {
    const c = buf[i] ?? 0;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return s;
}
