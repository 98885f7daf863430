/**
 * The decoder: captured bytes → the reused PacketView. Every header field is read
 * only after checking that it was captured; a packet that is too short or
 * inconsistent is counted by reason and reported MALFORMED, never thrown. No
 * allocation: plain byte reads into preallocated counters and the view.
 */
import { LinkType } from '../capture/packet-source.js';
import { DecodeStats, Malformed, Skipped } from './decode-stats.js';
import { IpProto, IpVersion, type PacketView } from './packet-view.js';

export const DecodeStatus = { OK: 0, SKIPPED: 1, MALFORMED: 2 } as const;
export type DecodeStatus = (typeof DecodeStatus)[keyof typeof DecodeStatus];

export { DecodeStats } from './decode-stats.js';

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD = 0x9100;
const ETH_ARP = 0x0806;
/** Tags we unwrap before giving up: QinQ is two, a third would be odd but harmless. */
const MAX_VLAN_TAGS = 4;

function u16(b: Buffer, o: number): number {
  return ((b[o] as number) << 8) | (b[o + 1] as number);
}

function u32(b: Buffer, o: number): number {
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}

/**
 * Decode one frame of link type `linkType`, buf[offset, offset + capLen), into `view`.
 * OK: an IPv4/IPv6 TCP or UDP packet with complete headers (the payload may be cut by
 * the snaplen). The view's offsets index `buf`.
 */
export function decode(
  view: PacketView,
  linkType: number,
  buf: Buffer,
  capLen: number,
  wireLen: number,
  tsMicros: number,
  stats: DecodeStats,
  offset = 0,
): DecodeStatus {
  view.tsMicros = tsMicros;
  return decodeFrame(view, linkType, buf, capLen, wireLen, stats, offset);
}

/**
 * decode() for a view whose tsMicros the caller has already set: the per-packet path passes
 * no timestamp, because a double argument to a call V8 does not inline is boxed (a heap
 * number per packet, seen with allocation sampling).
 */
export function decodeFrame(view: PacketView, linkType: number, buf: Buffer, capLen: number, wireLen: number, stats: DecodeStats, offset = 0): DecodeStatus {
  view.reset(buf, capLen, wireLen, view.tsMicros);
  view.frameOffset = offset;
  stats.packets++;
  stats.bytes += wireLen;
  const room = buf.length - offset;
  const len = capLen < room ? capLen : room > 0 ? room : 0;
  view.capLen = len;
  // From here on, offsets index buf and `end` bounds what was captured.
  const o = offset;
  const end = o + len;

  switch (linkType) {
    case LinkType.ETHERNET:
      return decodeEthernet(view, buf, o, end, stats);
    case LinkType.RAW:
    case LinkType.RAW_ALT:
    case 14:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return decodeIpByVersion(view, buf, o, end, stats);
    case LinkType.LINUX_SLL: {
      // 16-byte header, protocol (ethertype) at 14.
      if (len < 16) return malformed(stats, Malformed.truncated_link);
      return decodeEtherType(view, buf, u16(buf, o + 14), o + 16, end, stats);
    }
    case LinkType.LINUX_SLL2: {
      // 20-byte header, protocol at 0.
      if (len < 20) return malformed(stats, Malformed.truncated_link);
      return decodeEtherType(view, buf, u16(buf, o), o + 20, end, stats);
    }
    case LinkType.NULL:
    case LinkType.LOOP: {
      // 4-byte address family in host byte order of the capturing machine.
      if (len < 4) return malformed(stats, Malformed.truncated_link);
      const le = (buf[o] as number) | ((buf[o + 1] as number) << 8);
      const be = u16(buf, o + 2);
      const af = le !== 0 ? le : be;
      if (af === 2) return decodeIpv4(view, buf, o + 4, end, stats);
      // BSD variants use 24, 28 or 30 for IPv6.
      if (af === 24 || af === 28 || af === 30) return decodeIpv6(view, buf, o + 4, end, stats);
      return skipped(stats, Skipped.other_ethertype);
    }
    default:
      stats.unknownLinkType++;
      return malformed(stats, Malformed.unknown_link_type);
  }
}

/** Decode a bare IP packet at `off` (for GENEVE inner packets and raw-IP captures). */
export function decodeIpAt(view: PacketView, buf: Buffer, off: number, len: number, stats: DecodeStats): DecodeStatus {
  return decodeIpByVersion(view, buf, off, len, stats);
}

function malformed(stats: DecodeStats, reason: number): DecodeStatus {
  stats.malformed[reason] = (stats.malformed[reason] as number) + 1;
  stats.malformedTotal++;
  return DecodeStatus.MALFORMED;
}

function skipped(stats: DecodeStats, kind: number): DecodeStatus {
  stats.skipped[kind] = (stats.skipped[kind] as number) + 1;
  stats.skippedTotal++;
  return DecodeStatus.SKIPPED;
}

function decodeEthernet(view: PacketView, buf: Buffer, start: number, len: number, stats: DecodeStats): DecodeStatus {
  if (start + 14 > len) return malformed(stats, Malformed.truncated_link);
  let type = u16(buf, start + 12);
  let off = start + 14;
  let tags = 0;
  while (type === ETH_VLAN || type === ETH_QINQ || type === ETH_QINQ_OLD) {
    if (off + 4 > len) return malformed(stats, Malformed.truncated_vlan);
    if (tags === 0) {
      view.vlan = u16(buf, off) & 0x0fff;
      stats.vlanTagged++;
    }
    if (++tags > MAX_VLAN_TAGS) return malformed(stats, Malformed.too_many_vlan_tags);
    type = u16(buf, off + 2);
    off += 4;
  }
  return decodeEtherType(view, buf, type, off, len, stats);
}

function decodeEtherType(view: PacketView, buf: Buffer, type: number, off: number, len: number, stats: DecodeStats): DecodeStatus {
  if (type === ETH_IPV4) return decodeIpv4(view, buf, off, len, stats);
  if (type === ETH_IPV6) return decodeIpv6(view, buf, off, len, stats);
  if (type === ETH_ARP) return skipped(stats, Skipped.arp);
  if (type < 0x0600) return skipped(stats, Skipped.non_ethernet_ii); // 802.3 length field (LLC, STP)
  return skipped(stats, Skipped.other_ethertype);
}

function decodeIpByVersion(view: PacketView, buf: Buffer, off: number, len: number, stats: DecodeStats): DecodeStatus {
  if (off >= len) return malformed(stats, Malformed.truncated_ip);
  const version = (buf[off] as number) >> 4;
  if (version === 4) return decodeIpv4(view, buf, off, len, stats);
  if (version === 6) return decodeIpv6(view, buf, off, len, stats);
  return malformed(stats, Malformed.bad_ip_version);
}

function decodeIpv4(view: PacketView, buf: Buffer, off: number, len: number, stats: DecodeStats): DecodeStatus {
  if (off + 20 > len) return malformed(stats, Malformed.truncated_ipv4);
  const vihl = buf[off] as number;
  if (vihl >> 4 !== 4) return malformed(stats, Malformed.bad_ipv4_version);
  const ihl = (vihl & 0x0f) * 4;
  if (ihl < 20) return malformed(stats, Malformed.bad_ipv4_ihl);
  if (off + ihl > len) return malformed(stats, Malformed.truncated_ipv4);
  let total = u16(buf, off + 2);
  if (total === 0) {
    // A zero total length is what Linux writes into IPv4 super-packets over 64 KiB
    // (BIG TCP GSO/TSO, seen when capturing outgoing traffic): the wire length is
    // the only length there is, as tcpdump and Wireshark also assume.
    total = view.wireLen - (off - view.frameOffset);
    stats.lengthFromWire++;
  }
  if (total < ihl) return malformed(stats, Malformed.bad_ipv4_total_length);
  stats.ipv4++;
  view.ipVersion = IpVersion.V4;
  view.ipOffset = off;
  view.ipHeaderLen = ihl;
  view.ipTotalLen = total;
  view.ipId = u16(buf, off + 4);
  view.ttl = buf[off + 8] as number;
  view.proto = buf[off + 9] as number;
  view.src4 = u32(buf, off + 12);
  view.dst4 = u32(buf, off + 16);
  const frag = u16(buf, off + 6);
  const fragOffset = frag & 0x1fff;
  const moreFragments = (frag & 0x2000) !== 0;
  if (fragOffset !== 0) {
    stats.fragmentsNonFirst++;
    view.fragment = true;
    return skipped(stats, Skipped.non_first_fragment);
  }
  if (moreFragments) {
    stats.fragmentsFirst++;
    view.fragment = true;
  }
  // The IP total length bounds the transport data (Ethernet pads short frames).
  const end = off + total;
  return decodeTransport(view, buf, off + ihl, end, len, stats);
}

function decodeIpv6(view: PacketView, buf: Buffer, off: number, len: number, stats: DecodeStats): DecodeStatus {
  if (off + 40 > len) return malformed(stats, Malformed.truncated_ipv6);
  if ((buf[off] as number) >> 4 !== 6) return malformed(stats, Malformed.bad_ipv6_version);
  stats.ipv6++;
  let payloadLen = u16(buf, off + 4);
  if (payloadLen === 0 && buf[off + 6] !== 59) {
    // IPv6 BIG TCP super-packets (and jumbograms) carry 0 here; take the wire length.
    payloadLen = view.wireLen - (off - view.frameOffset) - 40;
    if (payloadLen < 0) payloadLen = 0;
    stats.lengthFromWire++;
  }
  view.ipVersion = IpVersion.V6;
  view.ipOffset = off;
  view.ipTotalLen = 40 + payloadLen;
  view.ttl = buf[off + 7] as number;
  view.src6Offset = off + 8;
  view.dst6Offset = off + 24;
  let next = buf[off + 6] as number;
  let p = off + 40;
  const end = off + 40 + payloadLen;
  // Walk the extension headers; each is bounds-checked against what was captured and the payload length.
  for (let hops = 0; ; hops++) {
    if (hops > 16) return malformed(stats, Malformed.bad_ipv6_ext);
    if (next === 0 || next === 43 || next === 60) {
      // Hop-by-hop, routing, destination options: length in 8-octet units, not counting the first 8.
      if (p + 8 > end) return malformed(stats, Malformed.bad_ipv6_ext);
      if (p + 8 > len) return malformed(stats, Malformed.truncated_ipv6_ext);
      const hlen = ((buf[p + 1] as number) + 1) * 8;
      if (p + hlen > end) return malformed(stats, Malformed.bad_ipv6_ext);
      if (p + hlen > len) return malformed(stats, Malformed.truncated_ipv6_ext);
      next = buf[p] as number;
      p += hlen;
    } else if (next === 44) {
      if (p + 8 > end) return malformed(stats, Malformed.bad_ipv6_ext);
      if (p + 8 > len) return malformed(stats, Malformed.truncated_ipv6_ext);
      const fo = u16(buf, p + 2);
      view.ipId = u32(buf, p + 4) & 0xffff;
      view.fragment = true;
      if ((fo & 0xfff8) !== 0) {
        stats.fragmentsNonFirst++;
        view.proto = buf[p] as number;
        return skipped(stats, Skipped.non_first_fragment);
      }
      if ((fo & 1) !== 0) stats.fragmentsFirst++;
      next = buf[p] as number;
      p += 8;
    } else if (next === 51) {
      // AH: length in 4-octet units, not counting the first 2.
      if (p + 8 > end) return malformed(stats, Malformed.bad_ipv6_ext);
      if (p + 8 > len) return malformed(stats, Malformed.truncated_ipv6_ext);
      const hlen = ((buf[p + 1] as number) + 2) * 4;
      if (p + hlen > end) return malformed(stats, Malformed.bad_ipv6_ext);
      if (p + hlen > len) return malformed(stats, Malformed.truncated_ipv6_ext);
      next = buf[p] as number;
      p += hlen;
    } else {
      break;
    }
  }
  view.ipHeaderLen = p - off;
  view.proto = next;
  if (next === 50) return skipped(stats, Skipped.esp);
  if (next === 59) return skipped(stats, Skipped.no_next_header);
  return decodeTransport(view, buf, p, end, len, stats);
}

/**
 * TCP or UDP at `off`; `end` is where the IP packet ends by its header, `len` what was captured.
 */
function decodeTransport(view: PacketView, buf: Buffer, off: number, end: number, len: number, stats: DecodeStats): DecodeStatus {
  const proto = view.proto;
  view.l4Offset = off;
  if (proto === IpProto.TCP) {
    if (off + 20 > len) return malformed(stats, Malformed.truncated_tcp);
    if (off + 20 > end) return malformed(stats, Malformed.bad_ip_total_length);
    const doff = ((buf[off + 12] as number) >> 4) * 4;
    if (doff < 20) return malformed(stats, Malformed.bad_tcp_offset);
    if (off + doff > end) return malformed(stats, Malformed.bad_tcp_offset);
    if (off + doff > len) return malformed(stats, Malformed.truncated_tcp);
    stats.tcp++;
    view.srcPort = u16(buf, off);
    view.dstPort = u16(buf, off + 2);
    view.seq = u32(buf, off + 4);
    view.ack = u32(buf, off + 8);
    view.tcpFlags = buf[off + 13] as number;
    view.window = u16(buf, off + 14);
    view.tcpHeaderLen = doff;
    if (doff > 20 && !parseTcpOptions(view, buf, off + 20, off + doff)) {
      return malformed(stats, Malformed.bad_tcp_option);
    }
    const payloadOff = off + doff;
    view.payloadOffset = payloadOff;
    view.payloadLen = end - payloadOff;
    view.payloadCapLen = (len < end ? len : end) - payloadOff;
    stats.ok++;
    return DecodeStatus.OK;
  }
  if (proto === IpProto.UDP) {
    if (off + 8 > len) return malformed(stats, Malformed.truncated_udp);
    const ulen = u16(buf, off + 4);
    // A UDP length of 0 is legal only for IPv6 jumbograms; smaller than the header or past the IP packet is bad.
    if (ulen < 8 || off + ulen > end) return malformed(stats, Malformed.bad_udp_length);
    stats.udp++;
    view.srcPort = u16(buf, off);
    view.dstPort = u16(buf, off + 2);
    const payloadOff = off + 8;
    const uend = off + ulen;
    view.payloadOffset = payloadOff;
    view.payloadLen = ulen - 8;
    view.payloadCapLen = (len < uend ? len : uend) - payloadOff;
    if (view.payloadCapLen < 0) view.payloadCapLen = 0;
    stats.ok++;
    return DecodeStatus.OK;
  }
  if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) return skipped(stats, Skipped.icmp);
  return skipped(stats, Skipped.other_ip_protocol);
}

/** Parse TCP options between [p, end). Returns false on a malformed option. */
function parseTcpOptions(view: PacketView, buf: Buffer, p: number, end: number): boolean {
  while (p < end) {
    const kind = buf[p] as number;
    if (kind === 0) return true; // end of option list
    if (kind === 1) { p++; continue; } // NOP
    if (p + 2 > end) return false;
    const olen = buf[p + 1] as number;
    if (olen < 2 || p + olen > end) return false;
    switch (kind) {
      case 2:
        if (olen !== 4) return false;
        view.optMss = u16(buf, p + 2);
        break;
      case 3:
        if (olen !== 3) return false;
        view.optWscale = buf[p + 2] as number;
        break;
      case 4:
        if (olen !== 2) return false;
        view.optSackPermitted = true;
        break;
      case 5:
        if ((olen - 2) % 8 !== 0) return false;
        view.optSackBlocks = (olen - 2) / 8;
        break;
      case 8:
        if (olen !== 10) return false;
        view.optTsVal = u32(buf, p + 2);
        view.optTsEcr = u32(buf, p + 6);
        break;
      default:
        break; // unknown options are skipped by their length
    }
    p += olen;
  }
  return true;
}
