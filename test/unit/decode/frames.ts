/**
 * Link-layer wrappers and header surgery for decoder tests and the decode
 * benchmark, on top of the shared packet builder (which builds Ethernet frames
 * and bare IP packets with correct checksums).
 */
import { ethernet } from '../../helpers/packet-builder.js';

function etherTypeOf(ip: Buffer): number {
  return (ip[0] ?? 0) >> 4 === 6 ? 0x86dd : 0x0800;
}

/** Linux cooked v1 (DLT_LINUX_SLL, `-i any`): 16 bytes, protocol at 14. */
export function sll(ip: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // packet type: to us
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4); // address length
  h.writeUInt16BE(etherTypeOf(ip), 14);
  return Buffer.concat([h, ip]);
}

/** Linux cooked v2 (DLT_LINUX_SLL2): 20 bytes, protocol at 0. */
export function sll2(ip: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(etherTypeOf(ip), 0);
  h.writeUInt32BE(2, 4); // interface index
  h.writeUInt16BE(1, 8); // ARPHRD_ETHER
  h[11] = 6;
  return Buffer.concat([h, ip]);
}

/** BSD loopback (DLT_NULL): 4-byte address family in the capturing host's byte order. */
export function nullLoop(ip: Buffer, bigEndian = false): Buffer {
  const af = (ip[0] ?? 0) >> 4 === 6 ? 30 : 2;
  const h = Buffer.alloc(4);
  if (bigEndian) h.writeUInt32BE(af, 0);
  else h.writeUInt32LE(af, 0);
  return Buffer.concat([h, ip]);
}

/** Prepend 802.1ad/802.1Q tags (outermost first) to an Ethernet frame. */
export function withTags(frame: Buffer, tags: readonly { tpid: number; vlan: number }[]): Buffer {
  const parts: Buffer[] = [frame.subarray(0, 12)];
  for (const t of tags) {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(t.tpid, 0);
    b.writeUInt16BE(t.vlan & 0xfff, 2);
    parts.push(b);
  }
  parts.push(frame.subarray(12));
  return Buffer.concat(parts);
}

/** An IPv4 packet rebuilt with `options` (a multiple of 4 bytes) after the fixed header. */
export function ipv4WithOptions(ip: Buffer, options: Buffer): Buffer {
  if (options.length % 4 !== 0) throw new Error('IPv4 options must be a multiple of 4 bytes');
  const out = Buffer.concat([ip.subarray(0, 20), options, ip.subarray(20)]);
  out[0] = 0x40 | ((20 + options.length) / 4);
  out.writeUInt16BE(ip.readUInt16BE(2) + options.length, 2);
  return out;
}

/**
 * An IPv6 packet with extension headers inserted between the fixed header and the
 * upper layer. Each header is given as [type, body]; its next-header byte is filled
 * in here, and the body must make the header a legal length for its type.
 */
export function ipv6WithExt(ip: Buffer, headers: readonly (readonly [number, Buffer])[]): Buffer {
  const upper = ip[6] ?? 0;
  const exts = headers.map(([, body], i) => {
    const h = Buffer.from(body);
    h[0] = i + 1 < headers.length ? (headers[i + 1] as readonly [number, Buffer])[0] : upper;
    return h;
  });
  const out = Buffer.concat([ip.subarray(0, 40), ...exts, ip.subarray(40)]);
  out[6] = headers.length > 0 ? (headers[0] as readonly [number, Buffer])[0] : upper;
  out.writeUInt16BE(ip.readUInt16BE(4) + exts.reduce((n, e) => n + e.length, 0), 4);
  return out;
}

/** Hop-by-hop / destination options / routing header of 8 * (1 + extra8) bytes (PadN filled). */
export function optionsHeader(extra8 = 0): Buffer {
  const h = Buffer.alloc(8 * (1 + extra8));
  h[1] = extra8;
  h[2] = 1; // PadN
  h[3] = h.length - 4;
  return h;
}

/** IPv6 fragment header: offset in 8-byte units, M flag. */
export function fragmentHeader(offset8: number, more: boolean, id = 0x1234): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(((offset8 & 0x1fff) << 3) | (more ? 1 : 0), 2);
  h.writeUInt32BE(id, 4);
  return h;
}

/** Authentication header with `icv4` 4-byte words of ICV (length field = 1 + icv4). */
export function authHeader(icv4 = 1): Buffer {
  const h = Buffer.alloc(12 + 4 * (icv4 - 1));
  h[1] = (h.length / 4) - 2;
  return h;
}

export { ethernet };
