/**
 * Direction-independent hashes of a 5-tuple: both directions of a connection
 * give the same value, so one lookup finds the connection whichever way the
 * packet goes, and a sampled flow is sampled in both directions.
 */

/**
 * The -s sampling hash: XOR of the addresses' 32-bit words and the two ports, as
 * an unsigned 32-bit value. The kernel filter (agent/capture/bpf-filter.ts) computes
 * exactly this with classic BPF loads, XOR and MOD:
 * `(ip[12:4] ^ ip[16:4] ^ tcp[0:2] ^ tcp[2:2]) % N = 0` (IPv6: the eight words at
 * ip6[8..36] and the ports at ip6[40], ip6[42]). A flow is analysed per segment
 * when `sampleHash % N === 0`; change both together or sampled flows lose packets.
 */
export function sampleHash4(src: number, dst: number, sport: number, dport: number): number {
  return (src ^ dst ^ sport ^ dport) >>> 0;
}

/** sampleHash4 for IPv6: the eight 32-bit words of both addresses XOR-ed with the ports. */
export function sampleHash6(buf: Uint8Array, srcOff: number, dstOff: number, sport: number, dport: number): number {
  let h = sport ^ dport;
  for (let i = 0; i < 16; i += 4) h ^= word(buf, srcOff + i) ^ word(buf, dstOff + i);
  return h >>> 0;
}

/** MurmurHash3's 32-bit finaliser (fmix32): every input bit moves about half the output bits. */
export function avalanche(x: number): number {
  let h = x ^ (x >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Table hash: well mixed (symmetric parts only), for bucket selection. */
export function tableHash(addrXor: number, addrSum: number, sport: number, dport: number): number {
  return avalanche(addrXor ^ Math.imul(addrSum | 0, 0x9e3779b1) ^ Math.imul((sport ^ dport) | ((sport + dport) << 16), 0x85ebca6b)) >>> 0;
}

/** tableHash of an IPv4 5-tuple: the addresses' xor and sum (symmetric), with the ports. */
export function tableHash4(a: number, b: number, sport: number, dport: number): number {
  return tableHash((a ^ b) | 0, (a + b) | 0, sport, dport);
}

/** Symmetric mix of two IPv6 addresses: (xor, sum) of their 32-bit words, folded. */
export function tableHash6(buf: Uint8Array, srcOff: number, dstOff: number, sport: number, dport: number): number {
  let x = 0;
  let s = 0;
  for (let i = 0; i < 16; i += 4) {
    const a = word(buf, srcOff + i);
    const b = word(buf, dstOff + i);
    x = Math.imul(x ^ (a ^ b), 0x01000193);
    s = (Math.imul(s, 31) + a + b) | 0;
  }
  return tableHash(x, s, sport, dport);
}

function word(buf: Uint8Array, off: number): number {
  return ((buf[off] ?? 0) << 24) | ((buf[off + 1] ?? 0) << 16) | ((buf[off + 2] ?? 0) << 8) | (buf[off + 3] ?? 0);
}
