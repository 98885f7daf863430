/**
 * The one result shape of every classify/ parser: parsers never throw, they say
 * whether the bytes were a complete, well-formed unit, a prefix of one (wait for
 * more bytes), or not that protocol at all (count it, note why, move on).
 */
export type Parsed<T> =
  | { readonly status: 'ok'; readonly value: T; /** Bytes consumed from the offset. */ readonly length: number }
  | { readonly status: 'incomplete'; readonly reason: string }
  | { readonly status: 'malformed'; readonly reason: string };

export function ok<T>(value: T, length: number): Parsed<T> {
  return { status: 'ok', value, length };
}

export function incomplete<T>(reason: string): Parsed<T> {
  return { status: 'incomplete', reason };
}

export function malformed<T>(reason: string): Parsed<T> {
  return { status: 'malformed', reason };
}

/**
 * Clamp (offset, length) to what `buf` really holds so a wrong caller-supplied
 * length can never make a parser read past the end. Returns the exclusive end.
 */
export function boundedEnd(buf: Uint8Array, offset: number, length: number): number {
  if (!(offset >= 0) || !(length > 0) || offset >= buf.length) return Math.max(0, Math.min(offset, buf.length));
  return Math.min(buf.length, offset + length);
}

/** True when `offset` cannot index `buf` (negative, fractional, NaN): parsers refuse such ranges. */
export function badOffset(buf: Uint8Array, offset: number): boolean {
  return !Number.isInteger(offset) || offset < 0 || offset > buf.length;
}
