/**
 * Cuts a byte stream into TCP-like segments for the stream targets, driven by one
 * control byte: segment sizes from a tiny LCG seeded by it, and (bit 7) some
 * segments arrive cut by the snaplen (wireLen > capLen), which the streams must
 * count as a capture gap.
 */
export type Segment = { off: number; capLen: number; wireLen: number };

export function segmentsOf(len: number, ctl: number, out: Segment[]): Segment[] {
  out.length = 0;
  let s = (ctl * 2654435761) >>> 0 || 1;
  const gaps = (ctl & 0x80) !== 0;
  let p = 0;
  while (p < len) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const pick = s >>> 28;
    const size = pick < 4 ? 1 + (s & 7) : pick < 12 ? 1 + (s & 0x1ff) : len - p;
    const capLen = Math.min(size, len - p);
    const cut = gaps && (s & 0x300) === 0x300;
    out.push({ off: p, capLen, wireLen: cut ? capLen + 1 + ((s >>> 12) & 0x3ff) : capLen });
    p += capLen;
  }
  return out;
}
