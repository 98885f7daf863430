/**
 * libFuzzer-style byte mutations: bit and byte changes, interesting integers in both
 * byte orders, ASCII number rewrites (Content-Length, chunk sizes, PROXY ports),
 * erase/insert/copy of ranges, dictionary tokens and crossover with another corpus
 * entry. Each call stacks 1..5 of them. Deterministic for a given seed so a run can
 * be repeated with --seed.
 */

/** xorshift32: fast, seedable, good enough to pick mutations. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s;
  }
  /** Uniform in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }
  chance(oneIn: number): boolean {
    return this.below(oneIn) === 0;
  }
}

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0x0d, 0x0a, 0x3a, 0x20] as const;
const INTERESTING_16 = [0, 1, 0x7fff, 0x8000, 0xffff, 0x0100, 0x00ff, 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0101, 8, 20, 40, 0x05dc] as const;
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x00010000, 0x0000ffff, 0xa1b2c3d4, 0x0a0d0d0a, 0x1a2b3c4d, 262144, 262145] as const;

export type MutatorOptions = Readonly<{
  maxLen: number;
  dictionary: readonly Uint8Array[];
}>;

/**
 * Mutates `buf[0, len)` in place (buf has room for maxLen bytes) and returns the new
 * length. `other` is another corpus entry for crossover (may be the same input).
 */
export class Mutator {
  readonly #rng: Rng;
  readonly #maxLen: number;
  readonly #dict: readonly Uint8Array[];
  readonly #tmp: Uint8Array;

  constructor(rng: Rng, opts: MutatorOptions) {
    this.#rng = rng;
    this.#maxLen = opts.maxLen;
    this.#dict = opts.dictionary;
    this.#tmp = new Uint8Array(opts.maxLen);
  }

  mutate(buf: Uint8Array, len: number, other: Uint8Array): number {
    const rounds = 1 + this.#rng.below(5);
    for (let i = 0; i < rounds; i++) len = this.#once(buf, len, other);
    return len;
  }

  #once(buf: Uint8Array, len: number, other: Uint8Array): number {
    const r = this.#rng;
    const max = this.#maxLen;
    if (len === 0) return this.#insertRandom(buf, 0, max);
    switch (r.below(16)) {
      case 0: { const p = r.below(len); buf[p] = (buf[p] as number) ^ (1 << r.below(8)); return len; }
      case 1: { buf[r.below(len)] = r.below(256); return len; }
      case 2: { buf[r.below(len)] = INTERESTING_8[r.below(INTERESTING_8.length)] as number; return len; }
      case 3: return this.#int16(buf, len);
      case 4: return this.#int32(buf, len);
      case 5: { const p = r.below(len); buf[p] = ((buf[p] as number) + r.below(33) - 16) & 0xff; return len; }
      case 6: return this.#erase(buf, len);
      case 7: return this.#insertRandom(buf, len, max);
      case 8: return this.#insertRepeated(buf, len, max);
      case 9: return this.#copyPart(buf, len);
      case 10: return this.#insertPart(buf, len, max);
      case 11: return this.#crossover(buf, len, other, max);
      case 12:
      case 13: return this.#dictionary(buf, len, max);
      case 14: return this.#asciiNumber(buf, len, max);
      default: return 1 + r.below(len); // truncate
    }
  }

  #int16(buf: Uint8Array, len: number): number {
    if (len < 2) return len;
    const r = this.#rng;
    const p = r.below(len - 1);
    let v = r.chance(3) ? (len + r.below(9) - 4) & 0xffff : (INTERESTING_16[r.below(INTERESTING_16.length)] as number);
    if (r.chance(2)) v = ((v & 0xff) << 8) | (v >> 8);
    buf[p] = v >> 8;
    buf[p + 1] = v & 0xff;
    return len;
  }

  #int32(buf: Uint8Array, len: number): number {
    if (len < 4) return len;
    const r = this.#rng;
    const p = r.below(len - 3);
    let v = INTERESTING_32[r.below(INTERESTING_32.length)] as number;
    if (r.chance(2)) v = (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
    buf[p] = v >>> 24;
    buf[p + 1] = (v >>> 16) & 0xff;
    buf[p + 2] = (v >>> 8) & 0xff;
    buf[p + 3] = v & 0xff;
    return len;
  }

  #erase(buf: Uint8Array, len: number): number {
    if (len < 2) return len;
    const r = this.#rng;
    const n = 1 + r.below(Math.min(len - 1, r.chance(4) ? len : 16));
    const p = r.below(len - n + 1);
    buf.copyWithin(p, p + n, len);
    return len - n;
  }

  /** Open a gap of n bytes at p (clamped to maxLen); returns n actually opened. */
  #gap(buf: Uint8Array, len: number, max: number, p: number, n: number): number {
    n = Math.min(n, max - len);
    if (n <= 0) return 0;
    buf.copyWithin(p + n, p, len);
    return n;
  }

  #insertRandom(buf: Uint8Array, len: number, max: number): number {
    const r = this.#rng;
    const p = r.below(len + 1);
    const n = this.#gap(buf, len, max, p, 1 + r.below(8));
    for (let i = 0; i < n; i++) buf[p + i] = r.below(256);
    return len + n;
  }

  #insertRepeated(buf: Uint8Array, len: number, max: number): number {
    const r = this.#rng;
    const p = r.below(len + 1);
    const n = this.#gap(buf, len, max, p, 1 + r.below(r.chance(8) ? 4096 : 64));
    const b = r.chance(2) ? (buf[r.below(len)] as number) : INTERESTING_8[r.below(INTERESTING_8.length)] as number;
    buf.fill(b, p, p + n);
    return len + n;
  }

  #copyPart(buf: Uint8Array, len: number): number {
    const r = this.#rng;
    const from = r.below(len);
    const to = r.below(len);
    const n = 1 + r.below(Math.min(len - from, len - to));
    this.#tmp.set(buf.subarray(from, from + n));
    buf.set(this.#tmp.subarray(0, n), to);
    return len;
  }

  #insertPart(buf: Uint8Array, len: number, max: number): number {
    const r = this.#rng;
    const from = r.below(len);
    const want = 1 + r.below(len - from);
    this.#tmp.set(buf.subarray(from, from + want));
    const p = r.below(len + 1);
    const n = this.#gap(buf, len, max, p, want);
    buf.set(this.#tmp.subarray(0, n), p);
    return len + n;
  }

  #crossover(buf: Uint8Array, len: number, other: Uint8Array, max: number): number {
    if (other.length === 0) return len;
    const r = this.#rng;
    const from = r.below(other.length);
    const want = 1 + r.below(other.length - from);
    const p = r.below(len + 1);
    if (r.chance(2)) {
      // overwrite
      const n = Math.min(want, len - p);
      buf.set(other.subarray(from, from + n), p);
      return len;
    }
    const n = this.#gap(buf, len, max, p, want);
    buf.set(other.subarray(from, from + n), p);
    return len + n;
  }

  #dictionary(buf: Uint8Array, len: number, max: number): number {
    if (this.#dict.length === 0) return this.#insertRandom(buf, len, max);
    const r = this.#rng;
    const word = this.#dict[r.below(this.#dict.length)] as Uint8Array;
    const p = r.below(len + 1);
    if (r.chance(2) && p + word.length <= len) {
      buf.set(word, p);
      return len;
    }
    const n = this.#gap(buf, len, max, p, word.length);
    buf.set(word.subarray(0, n), p);
    return len + n;
  }

  /** Rewrite a run of ASCII digits as another number (a length, a size, a port). */
  #asciiNumber(buf: Uint8Array, len: number, max: number): number {
    const r = this.#rng;
    let p = r.below(len);
    let tries = 0;
    while (tries < len && !isDigit(buf[p] as number)) { p = (p + 1) % len; tries++; }
    if (tries === len) return len;
    let s = p;
    while (s > 0 && isDigit(buf[s - 1] as number)) s--;
    let e = p;
    while (e < len && isDigit(buf[e] as number)) e++;
    const old = Number(String.fromCharCode(...buf.subarray(s, Math.min(e, s + 15))));
    const choices = [0, 1, old + 1, old - 1, old * 2, Math.floor(old / 2), 65535, 65536, 2 ** 31, 2 ** 53, r.next(), 99999999999999999999];
    const v = choices[r.below(choices.length)] as number;
    const text = new TextEncoder().encode(String(Math.abs(v)).replace(/e\+?/, ''));
    const newLen = len - (e - s) + text.length;
    if (newLen > max) return len;
    buf.copyWithin(s + text.length, e, len);
    buf.set(text, s);
    return newLen;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
