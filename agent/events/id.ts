import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

/** Random bytes are drawn 4 KB at a time: one system call per ~400 ids instead of one per id. */
const POOL_BYTES = 4096;

/**
 * Fills `pool` from the kernel's random source. Not node:crypto: loading it costs
 * resident memory (issue 6: with the logging library it went with, 3.3 MB of peak RSS
 * on Node.js 24 with 100k connections) that the agent otherwise needs only to ship to
 * CloudWatch. node:crypto only where /dev/urandom cannot be read.
 */
export function fillRandom(pool: Uint8Array): void {
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      let at = 0;
      while (at < pool.length) {
        const n = readSync(fd, pool, at, pool.length - at, null);
        if (n <= 0) throw new Error('short read from /dev/urandom');
        at += n;
      }
      return;
    } finally {
      closeSync(fd);
    }
  } catch {
    const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
    crypto.randomFillSync(pool);
  }
}

const ALPHABET_CODES = Buffer.from('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 'latin1');

/**
 * ULID generator (time-ordered, 26 characters, Crockford base32). Monotonic within
 * one millisecond so ids sort in emission order. Ids let readers of CloudWatch Logs
 * drop the duplicates that at-least-once shipping can produce.
 */
export class UlidFactory {
  #lastMs = -1;
  readonly #rand = new Uint8Array(10);
  readonly #pool = new Uint8Array(POOL_BYTES);
  #poolAt = POOL_BYTES;
  readonly #out = Buffer.alloc(26);

  next(nowMs: number = Date.now()): string {
    if (nowMs <= this.#lastMs) {
      // Same (or earlier: the clock went back) millisecond: increment the random part.
      for (let i = 9; i >= 0; i--) {
        const b = this.#rand[i] ?? 0;
        if (b < 255) { this.#rand[i] = b + 1; break; }
        this.#rand[i] = 0;
      }
      nowMs = this.#lastMs;
    } else {
      if (this.#poolAt + 10 > POOL_BYTES) { fillRandom(this.#pool); this.#poolAt = 0; }
      for (let i = 0; i < 10; i++) this.#rand[i] = this.#pool[this.#poolAt++] ?? 0;
      this.#lastMs = nowMs;
    }
    // Written as character codes into one buffer, made a string once (no 26 concatenations).
    const out = this.#out;
    let t = nowMs;
    for (let i = 9; i >= 0; i--) {
      out[i] = ALPHABET_CODES[t % 32] ?? 0;
      t = Math.floor(t / 32);
    }
    // 80 bits -> 16 base32 characters, 5 bits at a time.
    let acc = 0;
    let bits = 0;
    let o = 10;
    for (let i = 0; i < 10; i++) {
      acc = (acc << 8) | (this.#rand[i] ?? 0);
      bits += 8;
      while (bits >= 5) {
        bits -= 5;
        out[o++] = ALPHABET_CODES[(acc >>> bits) & 31] ?? 0;
      }
      acc &= (1 << bits) - 1;
    }
    return out.toString('latin1');
  }
}
