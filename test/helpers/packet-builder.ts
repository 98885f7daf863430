/**
 * Builds real frames byte by byte (with correct IP, TCP and UDP checksums) for
 * decoder tests, golden pcaps, benchmarks and replay onto a veth with tcpreplay.
 */
export type TcpSpec = {
  src: string; // IPv4 dotted or IPv6
  dst: string;
  sport: number;
  dport: number;
  flags: string; // letters: S A F R P U E C, e.g. "SA", "PA", "R"
  seq?: number;
  ack?: number;
  window?: number;
  ttl?: number;
  ipId?: number;
  /** Raw TCP options bytes (padded to a multiple of 4 automatically). */
  options?: Uint8Array;
  payload?: Uint8Array | string;
  vlan?: number;
};

export type UdpSpec = {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  ttl?: number;
  ipId?: number;
  payload?: Uint8Array | string;
  vlan?: number;
};

const MAC_A = Buffer.from([0x02, 0, 0, 0, 0, 0x01]);
const MAC_B = Buffer.from([0x02, 0, 0, 0, 0, 0x02]);

export function parseIp(addr: string): Buffer {
  if (addr.includes(':')) {
    const out = Buffer.alloc(16);
    const [head, tail] = addr.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const words = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    if (tail === undefined && h.length !== 8) throw new Error(`bad IPv6 ${addr}`);
    words.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
    return out;
  }
  const parts = addr.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`bad IPv4 ${addr}`);
  return Buffer.from(parts);
}

function checksum(bufs: readonly Uint8Array[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const b of bufs) {
    for (let i = 0; i < b.length; i++) {
      const byte = b[i] ?? 0;
      if (odd === undefined) odd = byte;
      else { sum += (odd << 8) | byte; odd = undefined; }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function toBytes(p: Uint8Array | string | undefined): Buffer {
  if (p === undefined) return Buffer.alloc(0);
  return typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p);
}

const FLAG_BITS: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32, E: 64, C: 128 };

export function tcpFlags(letters: string): number {
  let f = 0;
  for (const ch of letters) {
    const bit = FLAG_BITS[ch];
    if (bit === undefined) throw new Error(`unknown TCP flag ${ch}`);
    f |= bit;
  }
  return f;
}

/** IP header (v4 or v6) + L4 segment with pseudo-header checksum. */
function ipPacket(src: string, dst: string, proto: number, l4: Buffer, ttl: number, ipId: number, csumOffset: number): Buffer {
  const s = parseIp(src);
  const d = parseIp(dst);
  if (s.length !== d.length) throw new Error('mixed IPv4/IPv6 addresses');
  if (s.length === 4) {
    const pseudo = Buffer.alloc(12);
    s.copy(pseudo, 0); d.copy(pseudo, 4); pseudo[9] = proto; pseudo.writeUInt16BE(l4.length, 10);
    l4.writeUInt16BE(0, csumOffset);
    l4.writeUInt16BE(checksum([pseudo, l4]) || (proto === 17 ? 0xffff : 0), csumOffset);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45; ip.writeUInt16BE(20 + l4.length, 2); ip.writeUInt16BE(ipId & 0xffff, 4);
    ip.writeUInt16BE(0x4000, 6); ip[8] = ttl; ip[9] = proto; s.copy(ip, 12); d.copy(ip, 16);
    ip.writeUInt16BE(checksum([ip]), 10);
    return Buffer.concat([ip, l4]);
  }
  const pseudo = Buffer.alloc(40);
  s.copy(pseudo, 0); d.copy(pseudo, 16); pseudo.writeUInt32BE(l4.length, 32); pseudo[39] = proto;
  l4.writeUInt16BE(0, csumOffset);
  l4.writeUInt16BE(checksum([pseudo, l4]) || 0xffff, csumOffset);
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0); ip.writeUInt16BE(l4.length, 4); ip[6] = proto; ip[7] = ttl;
  s.copy(ip, 8); d.copy(ip, 24);
  return Buffer.concat([ip, l4]);
}

/** Ethernet (optionally 802.1Q-tagged) frame around an IP packet. */
export function ethernet(ip: Buffer, opts: { vlan?: number | undefined; reverse?: boolean } = {}): Buffer {
  const v6 = (ip[0] ?? 0) >> 4 === 6;
  const ethType = v6 ? 0x86dd : 0x0800;
  const hdr = Buffer.alloc(opts.vlan !== undefined ? 18 : 14);
  (opts.reverse ? MAC_A : MAC_B).copy(hdr, 0);
  (opts.reverse ? MAC_B : MAC_A).copy(hdr, 6);
  if (opts.vlan !== undefined) {
    hdr.writeUInt16BE(0x8100, 12); hdr.writeUInt16BE(opts.vlan & 0xfff, 14); hdr.writeUInt16BE(ethType, 16);
  } else hdr.writeUInt16BE(ethType, 12);
  return Buffer.concat([hdr, ip]);
}

export function tcpSegment(spec: TcpSpec): Buffer {
  const opts = toBytes(spec.options);
  const optLen = (opts.length + 3) & ~3;
  const payload = toBytes(spec.payload);
  const tcp = Buffer.alloc(20 + optLen + payload.length);
  tcp.writeUInt16BE(spec.sport, 0); tcp.writeUInt16BE(spec.dport, 2);
  tcp.writeUInt32BE((spec.seq ?? 0) >>> 0, 4); tcp.writeUInt32BE((spec.ack ?? 0) >>> 0, 8);
  tcp[12] = ((20 + optLen) / 4) << 4; tcp[13] = tcpFlags(spec.flags);
  tcp.writeUInt16BE(spec.window ?? 65535, 14);
  opts.copy(tcp, 20); // padding bytes stay 0 (EOL)
  payload.copy(tcp, 20 + optLen);
  return tcp;
}

/** A TCP packet as raw IP (no link header). */
export function ipTcp(spec: TcpSpec): Buffer {
  return ipPacket(spec.src, spec.dst, 6, tcpSegment(spec), spec.ttl ?? 64, spec.ipId ?? 1, 16);
}

/** A TCP packet in an Ethernet frame. */
export function tcp(spec: TcpSpec): Buffer {
  return ethernet(ipTcp(spec), { vlan: spec.vlan });
}

export function ipUdp(spec: UdpSpec): Buffer {
  const payload = toBytes(spec.payload);
  const udp = Buffer.alloc(8 + payload.length);
  udp.writeUInt16BE(spec.sport, 0); udp.writeUInt16BE(spec.dport, 2); udp.writeUInt16BE(udp.length, 4);
  payload.copy(udp, 8);
  return ipPacket(spec.src, spec.dst, 17, udp, spec.ttl ?? 64, spec.ipId ?? 1, 6);
}

export function udp(spec: UdpSpec): Buffer {
  return ethernet(ipUdp(spec), { vlan: spec.vlan });
}

/** TCP option bytes helpers. */
export const TcpOpt = {
  mss: (v: number) => Buffer.from([2, 4, (v >> 8) & 255, v & 255]),
  wscale: (v: number) => Buffer.from([1, 3, 3, v]),
  sackPermitted: () => Buffer.from([4, 2]),
  timestamps: (val: number, ecr: number) => {
    const b = Buffer.alloc(10); b[0] = 8; b[1] = 10; b.writeUInt32BE(val >>> 0, 2); b.writeUInt32BE(ecr >>> 0, 6); return b;
  },
  nop: () => Buffer.from([1]),
};

/**
 * A scripted TCP conversation that keeps sequence numbers right, for building
 * flows in tests: c = client (originator), s = server.
 */
export class TcpConversation {
  cseq: number;
  sseq: number;
  constructor(
    readonly client: string,
    readonly server: string,
    readonly cport: number,
    readonly sport: number,
    isn: { c?: number; s?: number } = {},
  ) {
    this.cseq = isn.c ?? 1000;
    this.sseq = isn.s ?? 5000;
  }

  /** A segment from the client (fromClient) or the server, advancing sequence numbers. */
  seg(fromClient: boolean, flags: string, payload: Uint8Array | string = '', extra: Partial<TcpSpec> = {}): Buffer {
    const data = toBytes(payload);
    const spec: TcpSpec = fromClient
      ? { src: this.client, dst: this.server, sport: this.cport, dport: this.sport, flags, seq: this.cseq, ack: flags.includes('A') ? this.sseq : 0, payload: data, ...extra }
      : { src: this.server, dst: this.client, sport: this.sport, dport: this.cport, flags, seq: this.sseq, ack: flags.includes('A') ? this.cseq : 0, payload: data, ...extra };
    const adv = data.length + (flags.includes('S') ? 1 : 0) + (flags.includes('F') ? 1 : 0);
    if (fromClient) this.cseq = (this.cseq + adv) >>> 0; else this.sseq = (this.sseq + adv) >>> 0;
    return tcp(spec);
  }

  /**
   * The same bytes again at sequence number `seq` (a retransmission), leaving the conversation's
   * sequence numbers where they are: seg() with an explicit seq still advances them by the payload.
   */
  resend(fromClient: boolean, flags: string, payload: Uint8Array | string, seq: number): Buffer {
    const next = fromClient ? this.cseq : this.sseq;
    const b = this.seg(fromClient, flags, payload, { seq });
    if (fromClient) this.cseq = next; else this.sseq = next;
    return b;
  }

  handshake(): Buffer[] {
    return [this.seg(true, 'S'), this.seg(false, 'SA'), this.seg(true, 'A')];
  }
}
