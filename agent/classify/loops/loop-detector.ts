/**
 * Forwarding-loop evidence that needs memory across connections and packets:
 * the same X-Amzn-Trace-Id Root coming back again and again, and the same packet
 * seen repeatedly with a decreasing TTL (a routing loop through this host).
 * Both tables are fixed-size: memory does not grow with traffic.
 */
import { IpVersion, word32, type PacketView } from '../../decode/packet-view.js';
import { wordView } from '../../decode/word-view.js';
import { avalanche } from '../../flows/flow-hash.js';

/** A Root seen this many times within the window is a loop. */
export const TRACE_REPEAT_THRESHOLD = 3;
export const TRACE_REPEAT_WINDOW_MICROS = 10_000_000;
const TRACE_TABLE_MAX = 10_000;

/** The same packet seen this many times, each with a lower TTL, is a loop. */
export const TTL_REPEAT_THRESHOLD = 3;
/** Copies of one looping packet arrive within microseconds; a second is generous. */
const TTL_WINDOW_MICROS = 1_000_000;
const TTL_SLOTS = 4096;
const TTL_HISTORY = 16;

/** Longest Root kept (longer ones are cut, as the Root pattern below does). */
const ROOT_MAX = 64;
const TRACE_HASH_SLOTS = 32768; // power of two, >= 3 x TRACE_TABLE_MAX: short probe runs

/** Extract "1-5759e988-bd862e3fe1be46a994272793" from "Root=1-...;Parent=...;Sampled=1" or a bare id. */
export function traceRoot(traceId: string): string | undefined {
  const m = /(?:^|;)\s*Root=([^;\s]{1,64})/.exec(traceId);
  if (m) return m[1];
  return undefined;
}

/** JavaScript's \s restricted to latin1 (header bytes are decoded as latin1). */
function isJsSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

/**
 * Whether each of the four bytes of w is visible ASCII (0x21-0x7e) and not ';': no byte that
 * ends a Root. On the low seven bits, two additions that cannot carry across bytes test
 * 0x21 <= b and b <= 0x7e; the top bit must be clear; ';' by an exact zero-byte test.
 */
function visibleNoSemicolon(w: number): boolean {
  const m = w & 0x7f7f7f7f;
  const x = w ^ 0x3b3b3b3b;
  const notSemi = (((x & 0x7f7f7f7f) + 0x7f7f7f7f) | 0) | x;
  const ok = ~w & ((m + 0x5f5f5f5f) | 0) & ~((m + 0x01010101) | 0) & notSemi;
  return (~ok & 0x80808080) === 0;
}

/**
 * traceRoot() on the bytes buf[start, end) without making a string: the same
 * leftmost match as its regular expression. True when there is a Root; its bytes
 * are then buf[out[0], out[1]) (1 to 64 of them).
 */
export function findTraceRoot(buf: Uint8Array, start: number, end: number, out: Int32Array): boolean {
  let p = start;
  for (;;) {
    let q = p;
    while (q < end && isJsSpace(buf[q] ?? 0)) q++;
    if (q + 5 <= end && buf[q] === 0x52 && buf[q + 1] === 0x6f && buf[q + 2] === 0x6f && buf[q + 3] === 0x74 && buf[q + 4] === 0x3d) {
      const rs = q + 5;
      let re = rs;
      // Four bytes at a time while all four are visible ASCII other than ';' (an ALB Root is
      // hex digits and '-'); the word holding another byte is read byte by byte below.
      const dv = wordView(buf);
      while (re + 4 <= end && re - rs <= ROOT_MAX - 4 && visibleNoSemicolon(dv.getInt32(re, true))) re += 4;
      while (re < end && re - rs < ROOT_MAX) {
        const c = buf[re] ?? 0;
        if (c === 0x3b || isJsSpace(c)) break;
        re++;
      }
      if (re > rs) { out[0] = rs; out[1] = re; return true; }
    }
    // Next candidate: just after the next ';'.
    while (p < end && buf[p] !== 0x3b) p++;
    if (p >= end) return false;
    p++;
  }
}

/** MurmurHash3's x86_32 scrambling of one 32-bit block before it is mixed into the hash. */
function scramble(k: number): number {
  const m = Math.imul(k, 0xcc9e2d51);
  return Math.imul((m << 15) | (m >>> 17), 0x1b873593);
}

/**
 * Counts arrivals per trace Root in a fixed table of TRACE_TABLE_MAX Roots: an
 * open-addressing hash of the Root bytes plus a list in insertion order, so the
 * oldest Root is dropped in O(1) when the table is full. A Root is known by its
 * length and two independent 32-bit hashes of its bytes, not by the bytes: two
 * Roots are taken for one only when 64 hash bits and the length agree (about one
 * chance in 10^15 per arrival at a full table), and no Root is copied or compared
 * byte by byte, which kept 640 KB of Root bytes (a cache miss per request).
 * Nothing is allocated per observation.
 */
export class TraceRepeatDetector {
  readonly #len = new Uint8Array(TRACE_TABLE_MAX);
  readonly #hash = new Int32Array(TRACE_TABLE_MAX);
  /** The second hash of each Root's bytes (see the class comment). */
  readonly #hash2 = new Int32Array(TRACE_TABLE_MAX);
  readonly #first = new Float64Array(TRACE_TABLE_MAX);
  readonly #count = new Int32Array(TRACE_TABLE_MAX);
  readonly #reported = new Uint8Array(TRACE_TABLE_MAX);
  readonly #prev = new Int32Array(TRACE_TABLE_MAX);
  readonly #next = new Int32Array(TRACE_TABLE_MAX);
  /**
   * Per hash slot: entry + 1 (0 = empty), then the entry's hash. The hash beside the link lets
   * a probe pass over other Roots, and deletion move them, without reading their entries.
   */
  readonly #table = new Int32Array(TRACE_HASH_SLOTS * 2);
  readonly #freeList = new Int32Array(TRACE_TABLE_MAX);
  #free = TRACE_TABLE_MAX;
  #head = -1;
  #tail = -1;
  #size = 0;
  readonly #scratch = new Uint8Array(ROOT_MAX);

  constructor() {
    for (let i = 0; i < TRACE_TABLE_MAX; i++) this.#freeList[i] = TRACE_TABLE_MAX - 1 - i;
  }

  /** Returns the count when this arrival makes the Root a loop (reported once per window), else 0. */
  observe(root: string, tsMicros: number): number {
    const n = Math.min(root.length, ROOT_MAX);
    for (let i = 0; i < n; i++) this.#scratch[i] = root.charCodeAt(i) & 0xff;
    return this.observeBytes(this.#scratch, 0, n, tsMicros);
  }

  /** observe() for the Root at buf[start, end) (at most 64 bytes are used). */
  observeBytes(buf: Uint8Array, start: number, end: number, tsMicros: number): number {
    const len = Math.min(end - start, ROOT_MAX);
    // Two hashes of the bytes four at a time: MurmurHash3's x86_32 rounds, and a polynomial hash
    // with another seed and multiplier; the last one to three bytes go in as one more word. Both
    // are finished with MurmurHash3's avalanche and the length.
    const dv = wordView(buf);
    const stop = start + len;
    let h = 0x811c9dc5;
    let g = 0x9747b28c;
    let i = start;
    for (; i + 4 <= stop; i += 4) {
      const k = dv.getInt32(i, true);
      h ^= scramble(k);
      h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
      g = Math.imul(g + k, 0x5bd1e995);
      g ^= g >>> 13;
    }
    if (i < stop) {
      let k = 0;
      for (let sh = 0; i < stop; i++, sh += 8) k |= (buf[i] ?? 0) << sh;
      h ^= scramble(k);
      g = Math.imul(g + k, 0x5bd1e995);
    }
    h = avalanche(h ^ len);
    g = avalanche(g ^ (len << 8)) ^ len;
    const mask = TRACE_HASH_SLOTS - 1;
    let slot = (h ^ (h >>> 15)) & mask;
    let e = -1;
    for (;;) {
      const v = this.#table[2 * slot] ?? 0;
      if (v === 0) break;
      const cand = v - 1;
      if (this.#table[2 * slot + 1] === h && this.#hash2[cand] === g && this.#len[cand] === len) { e = cand; break; }
      slot = (slot + 1) & mask;
    }
    if (e >= 0 && tsMicros - (this.#first[e] ?? 0) > TRACE_REPEAT_WINDOW_MICROS) {
      this.#remove(e);
      e = -1;
    }
    if (e < 0) {
      // Map semantics of the original: a full table drops its oldest Root first.
      if (this.#size >= TRACE_TABLE_MAX && this.#head >= 0) this.#remove(this.#head);
      this.#insert(h, g, len, tsMicros);
      return 0;
    }
    const count = (this.#count[e] ?? 0) + 1;
    this.#count[e] = count;
    if (this.#reported[e] === 0 && count >= TRACE_REPEAT_THRESHOLD) { this.#reported[e] = 1; return count; }
    return 0;
  }

  #insert(h: number, g: number, len: number, ts: number): void {
    const e = this.#freeList[--this.#free] ?? 0;
    this.#len[e] = len;
    this.#hash[e] = h;
    this.#hash2[e] = g;
    this.#first[e] = ts;
    this.#count[e] = 1;
    this.#reported[e] = 0;
    this.#prev[e] = this.#tail;
    this.#next[e] = -1;
    if (this.#tail >= 0) this.#next[this.#tail] = e; else this.#head = e;
    this.#tail = e;
    this.#size++;
    const mask = TRACE_HASH_SLOTS - 1;
    let slot = (h ^ (h >>> 15)) & mask;
    while ((this.#table[2 * slot] ?? 0) !== 0) slot = (slot + 1) & mask;
    this.#table[2 * slot] = e + 1;
    this.#table[2 * slot + 1] = h;
  }

  #remove(e: number): void {
    const mask = TRACE_HASH_SLOTS - 1;
    const h = this.#hash[e] ?? 0;
    let slot = (h ^ (h >>> 15)) & mask;
    while ((this.#table[2 * slot] ?? 0) !== e + 1) slot = (slot + 1) & mask;
    // Backward-shift deletion keeps every probe run unbroken (no tombstones).
    let hole = slot;
    let j = slot;
    for (;;) {
      j = (j + 1) & mask;
      const v = this.#table[2 * j] ?? 0;
      if (v === 0) break;
      const hj = this.#table[2 * j + 1] ?? 0;
      const home = (hj ^ (hj >>> 15)) & mask;
      // Move v into the hole unless its home lies cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) { this.#table[2 * hole] = v; this.#table[2 * hole + 1] = hj; hole = j; }
    }
    this.#table[2 * hole] = 0;
    const p = this.#prev[e] ?? -1;
    const n = this.#next[e] ?? -1;
    if (p >= 0) this.#next[p] = n; else this.#head = n;
    if (n >= 0) this.#prev[n] = p; else this.#tail = p;
    this.#size--;
    this.#freeList[this.#free++] = e;
  }
}

export type TtlLoopEvidence = Readonly<{ ipId: number; seq: number; length: number; ttls: number[] }>;

/**
 * The same packet (addresses, IP id, length, protocol, ports, sequence number) seen again
 * within a second with a lower TTL. One slot per hash of the packet's identity; what every
 * packet reads and writes (two 32-bit hashes of its identity, a count with its first TTL,
 * and the time) sits in one 16-byte row, four to a cache line (the table is 64 KB); the TTL
 * history only once a packet repeats: a new packet, the usual case, touches one line.
 */
export class TtlLoopDetector {
  /** Per slot (ROW words): K1, K2 (identity hashes), META (count, reported flag, first TTL), TIME (µs, mod 2^32). */
  readonly #rows = new Uint32Array(TTL_SLOTS * ROW);
  /** Up to TTL_HISTORY TTLs per slot, filled from the second sighting on. */
  readonly #ttls = new Uint8Array(TTL_SLOTS * TTL_HISTORY);

  /** Returns evidence the first time a packet crosses the repeat threshold, else undefined. */
  observe(v: PacketView): TtlLoopEvidence | undefined {
    if (v.ipVersion === IpVersion.NONE) return undefined;
    let a = v.src4 >>> 0;
    let b = v.dst4 >>> 0;
    if (v.ipVersion === IpVersion.V6) {
      a = word32(v.buf, v.src6Offset + 12) >>> 0;
      b = word32(v.buf, v.dst6Offset + 12) >>> 0;
    }
    const k1 = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
    const k2 = ((v.ipId << 16) ^ v.ipTotalLen ^ (v.proto << 8) ^ v.srcPort) >>> 0;
    const k3 = (v.seq ^ Math.imul(v.dstPort, 0x85ebca6b)) >>> 0;
    const k23 = (Math.imul(k2 ^ (k2 >>> 16), 0x7feb352d) ^ k3) >>> 0;
    const slot = (Math.imul(k1 ^ k23, 0x27d4eb2d) >>> 20) & (TTL_SLOTS - 1);
    const rows = this.#rows;
    const r = slot * ROW;
    // The time wraps every 71.6 minutes; only distances under a second are asked about.
    const t32 = v.tsMicros >>> 0;
    if (rows[r] !== k1 || rows[r + 1] !== k23 || ((t32 - (rows[r + 3] ?? 0)) >>> 0) > TTL_WINDOW_MICROS) {
      rows[r] = k1; rows[r + 1] = k23;
      rows[r + 2] = 1 | (v.ttl << META_FIRST_TTL_SHIFT);
      rows[r + 3] = t32;
      return undefined;
    }
    const meta = rows[r + 2] ?? 0;
    let n = meta & META_COUNT_MASK;
    const base = slot * TTL_HISTORY;
    if (n === 1) this.#ttls[base] = meta >>> META_FIRST_TTL_SHIFT;
    const last = this.#ttls[base + n - 1] ?? 0;
    // Retransmissions and the same packet captured twice (in and out) keep their TTL: only a drop counts.
    if (v.ttl >= last) return undefined;
    if (n < TTL_HISTORY) this.#ttls[base + n++] = v.ttl;
    rows[r + 3] = t32;
    const reported = (meta & META_REPORTED) !== 0;
    rows[r + 2] = (meta & ~META_COUNT_MASK) | n | (n >= TTL_REPEAT_THRESHOLD ? META_REPORTED : 0);
    if (!reported && n >= TTL_REPEAT_THRESHOLD) {
      return { ipId: v.ipId, seq: v.seq >>> 0, length: v.ipTotalLen, ttls: Array.from(this.#ttls.subarray(base, base + n)) };
    }
    return undefined;
  }
}

/** Uint32 words per TTL slot (four slots per 64-byte cache line). */
const ROW = 4;
/** Bits of a TTL slot's META word. */
const META_COUNT_MASK = 0xff;
const META_REPORTED = 0x100;
const META_FIRST_TTL_SHIFT = 16;
