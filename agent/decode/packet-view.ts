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

/** Format an IPv4 address held as an unsigned 32-bit integer. Allocates: not for the hot path. */
export function formatIp4(a: number): string {
  return `${(a >>> 24) & 255}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
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
  const made = formatIp4(a);
  ip4TextKeys[slot] = a | 0;
  ip4Texts[slot] = made;
  return made;
}

/** Format 16 bytes at `off` as an RFC 5952 IPv6 address. Allocates: not for the hot path. */
export function formatIp6(buf: Uint8Array, off: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((buf[off + 2 * i] ?? 0) << 8) | (buf[off + 2 * i + 1] ?? 0));
  // IPv4-mapped ::ffff:a.b.c.d
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

export function srcIpString(v: PacketView): string {
  return v.ipVersion === IpVersion.V4 ? formatIp4(v.src4) : formatIp6(v.buf, v.src6Offset);
}

export function dstIpString(v: PacketView): string {
  return v.ipVersion === IpVersion.V4 ? formatIp4(v.dst4) : formatIp6(v.buf, v.dst6Offset);
}
