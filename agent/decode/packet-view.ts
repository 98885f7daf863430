/**
 * One decoded packet. A single instance is allocated per pipeline and reused for
 * every packet (no per-packet object churn): decode() overwrites every field.
 * Offsets index into `buf`, which is only valid during the synchronous handling
 * of the packet (capture engines reuse it).
 */
export const IpVersion = { NONE: 0, V4: 4, V6: 6 } as const;
export type IpVersion = (typeof IpVersion)[keyof typeof IpVersion];

export const IpProto = { TCP: 6, UDP: 17, ICMP: 1, ICMPV6: 58 } as const;

/** TCP flag bits as they sit in byte 13 of the TCP header. */
export const TcpFlag = {
  FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80,
} as const;

export class PacketView {
  buf: Buffer = Buffer.alloc(0);
  /** Where the frame starts in buf (0 unless the engine hands over a whole batch). */
  frameOffset = 0;
  /** Bytes captured (may be less than wireLen when the snaplen cut the packet). */
  capLen = 0;
  /** Bytes on the wire. */
  wireLen = 0;
  /** libpcap timestamp in microseconds since the epoch (fits a double exactly). */
  tsMicros = 0;
  /** 802.1Q VLAN id of the outermost tag, or -1. */
  vlan = -1;

  ipVersion: IpVersion = IpVersion.NONE;
  ipOffset = 0;
  ipHeaderLen = 0;
  /** Total IP length from the header (IPv4 total length, IPv6 40 + payload length). */
  ipTotalLen = 0;
  ttl = 0;
  /** IPv4 identification (0 for IPv6). */
  ipId = 0;
  /** Upper-layer protocol (after IPv6 extension headers). */
  proto = 0;
  /** True for a non-first fragment or a first fragment with more to come. */
  fragment = false;
  /** IPv4 addresses as unsigned 32-bit integers (0 for IPv6). */
  src4 = 0;
  dst4 = 0;
  /** Offsets of the 16-byte IPv6 addresses in buf (-1 for IPv4). */
  src6Offset = -1;
  dst6Offset = -1;

  srcPort = 0;
  dstPort = 0;
  /** Offset of the TCP/UDP header. */
  l4Offset = 0;

  // TCP only
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  /** Raw window field (not scaled). */
  window = 0;
  tcpHeaderLen = 0;
  /** Options seen on this segment; -1 when absent. */
  optMss = -1;
  optWscale = -1;
  optSackPermitted = false;
  optTsVal = -1;
  optTsEcr = -1;
  /** Number of SACK blocks carried (0 if none). */
  optSackBlocks = 0;

  /** Offset of the L4 payload in buf. */
  payloadOffset = 0;
  /** Payload bytes present in buf (may be cut by the snaplen). */
  payloadCapLen = 0;
  /** Payload length on the wire, from the IP and TCP/UDP headers. */
  payloadLen = 0;

  /** Reset every field before decoding the next packet. */
  reset(buf: Buffer, capLen: number, wireLen: number, tsMicros: number): void {
    this.buf = buf;
    this.frameOffset = 0;
    this.capLen = capLen;
    this.wireLen = wireLen;
    this.tsMicros = tsMicros;
    this.vlan = -1;
    this.ipVersion = IpVersion.NONE;
    this.ipOffset = 0;
    this.ipHeaderLen = 0;
    this.ipTotalLen = 0;
    this.ttl = 0;
    this.ipId = 0;
    this.proto = 0;
    this.fragment = false;
    this.src4 = 0;
    this.dst4 = 0;
    this.src6Offset = -1;
    this.dst6Offset = -1;
    this.srcPort = 0;
    this.dstPort = 0;
    this.l4Offset = 0;
    this.tcpFlags = 0;
    this.seq = 0;
    this.ack = 0;
    this.window = 0;
    this.tcpHeaderLen = 0;
    this.optMss = -1;
    this.optWscale = -1;
    this.optSackPermitted = false;
    this.optTsVal = -1;
    this.optTsEcr = -1;
    this.optSackBlocks = 0;
    this.payloadOffset = 0;
    this.payloadCapLen = 0;
    this.payloadLen = 0;
  }
}

/**
 * Where address texts are written before they become one string: a text built by joining
 * pieces is a tree of strings (V8 joins a result of 13 characters or more by reference),
 * 60-90 bytes kept per address where the flat text is 32-48. Connections keep their
 * addresses' texts (issue 6: 100k open IPv6 connections).
 */
const TEXT = Buffer.alloc(64);

function putDecimal(v: number, at: number): number {
  if (v >= 100) TEXT[at++] = 0x30 + Math.floor(v / 100);
  if (v >= 10) TEXT[at++] = 0x30 + (Math.floor(v / 10) % 10);
  TEXT[at++] = 0x30 + (v % 10);
  return at;
}

/** A 16-bit group in lower-case hexadecimal without leading zeros (RFC 5952 4.1, 4.3). */
function putHex(w: number, at: number): number {
  for (let sh = 12; sh > 0; sh -= 4) {
    if (w >>> sh === 0) continue;
    const d = (w >>> sh) & 15;
    TEXT[at++] = d < 10 ? 0x30 + d : 0x57 + d;
  }
  const d = w & 15;
  TEXT[at++] = d < 10 ? 0x30 + d : 0x57 + d;
  return at;
}

/** Format an IPv4 address held as an unsigned 32-bit integer. Allocates: not for the hot path. */
export function formatIp4(a: number): string {
  return `${(a >>> 24) & 255}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** The dotted quad of an IPv4 address (a 32-bit integer) into TEXT at `at`; returns the end. */
function putIp4(a: number, at: number): number {
  let p = putDecimal((a >>> 24) & 255, at);
  TEXT[p++] = 0x2e;
  p = putDecimal((a >>> 16) & 255, p);
  TEXT[p++] = 0x2e;
  p = putDecimal((a >>> 8) & 255, p);
  TEXT[p++] = 0x2e;
  return putDecimal(a & 255, p);
}

/**
 * formatIp4 as one flat string, for a text that is kept: ~30 ns slower than the template
 * above (a call into the runtime), whose texts of 13 characters or more are two strings.
 */
function flatIp4(a: number): string {
  return TEXT.toString('latin1', 0, putIp4(a, 0));
}

const IP4_TEXT_BITS = 14;
const ip4TextKeys = new Int32Array(1 << IP4_TEXT_BITS);
const ip4Texts: Array<string | undefined> = new Array<string | undefined>(1 << IP4_TEXT_BITS).fill(undefined);

/**
 * formatIp4 through a direct-mapped cache (16,384 slots): a connection's addresses are mostly
 * the same few (load-balancer nodes, this instance), and X-Forwarded-For clients repeat, so
 * the text is usually made already. A colliding address replaces the one in its slot. No Map:
 * an address above 2^30 is not a small integer, so a Map keyed by it hashes a heap number.
 * For texts that are kept; see keptIpText.
 */
export function ip4Text(a: number): string {
  const slot = Math.imul(a, 0x9e3779b1) >>> (32 - IP4_TEXT_BITS);
  const text = ip4Texts[slot];
  if (text !== undefined && ip4TextKeys[slot] === (a | 0)) return text;
  const made = flatIp4(a);
  ip4TextKeys[slot] = a | 0;
  ip4Texts[slot] = made;
  return made;
}

/** Format 16 bytes at `off` as an RFC 5952 IPv6 address (one flat string). Allocates: not for the hot path. */
export function formatIp6(buf: Uint8Array, off: number): string {
  let zeroFirst5 = true;
  for (let i = 0; i < 10; i++) if ((buf[off + i] ?? 0) !== 0) { zeroFirst5 = false; break; }
  let p = 0;
  // IPv4-mapped ::ffff:a.b.c.d (RFC 5952 5)
  if (zeroFirst5 && buf[off + 10] === 0xff && buf[off + 11] === 0xff) {
    p = putIp4(word32(buf, off + 12), TEXT.write('::ffff:', 0, 'latin1'));
    return TEXT.toString('latin1', 0, p);
  }
  // The longest run of two or more zero groups, the first of equal ones, becomes "::" (RFC 5952 4.2).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (group(buf, off, i) !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && group(buf, off, j) === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      TEXT[p++] = 0x3a;
      TEXT[p++] = 0x3a;
      i += bestLen - 1;
      continue;
    }
    if (p > 0 && TEXT[p - 1] !== 0x3a) TEXT[p++] = 0x3a;
    p = putHex(group(buf, off, i), p);
  }
  return TEXT.toString('latin1', 0, p);
}

function group(buf: Uint8Array, off: number, i: number): number {
  return ((buf[off + 2 * i] ?? 0) << 8) | (buf[off + 2 * i + 1] ?? 0);
}

const IP6_TEXT_BITS = 12;
/** Per slot, the address's four 32-bit words. */
const ip6TextKeys = new Int32Array(4 << IP6_TEXT_BITS);
const ip6Texts: Array<string | undefined> = new Array<string | undefined>(1 << IP6_TEXT_BITS).fill(undefined);

/**
 * formatIp6 through a direct-mapped cache (4,096 slots), as ip4Text: every connection to this
 * instance keeps its address's text, one string for all of them instead of one each.
 */
export function ip6Text(buf: Uint8Array, off: number): string {
  const w0 = word32(buf, off);
  const w1 = word32(buf, off + 4);
  const w2 = word32(buf, off + 8);
  const w3 = word32(buf, off + 12);
  const slot = Math.imul(w0 ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x9e3779b1), 0x27d4eb2d) >>> (32 - IP6_TEXT_BITS);
  const k = slot * 4;
  const text = ip6Texts[slot];
  if (text !== undefined && ip6TextKeys[k] === w0 && ip6TextKeys[k + 1] === w1 && ip6TextKeys[k + 2] === w2 && ip6TextKeys[k + 3] === w3) return text;
  const made = formatIp6(buf, off);
  ip6TextKeys[k] = w0;
  ip6TextKeys[k + 1] = w1;
  ip6TextKeys[k + 2] = w2;
  ip6TextKeys[k + 3] = w3;
  ip6Texts[slot] = made;
  return made;
}

/** The big-endian 32-bit word at buf[p] (an address's), as a signed 32-bit integer. */
export function word32(buf: Uint8Array, p: number): number {
  return ((buf[p] ?? 0) << 24) | ((buf[p + 1] ?? 0) << 16) | ((buf[p + 2] ?? 0) << 8) | (buf[p + 3] ?? 0);
}

export function srcIpString(v: PacketView): string {
  return v.ipVersion === IpVersion.V4 ? formatIp4(v.src4) : formatIp6(v.buf, v.src6Offset);
}

export function dstIpString(v: PacketView): string {
  return v.ipVersion === IpVersion.V4 ? formatIp4(v.dst4) : formatIp6(v.buf, v.dst6Offset);
}
