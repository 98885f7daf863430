/**
 * Shared by the classify/ parser targets: the range a parser is called with, and
 * the invariants of its Parsed<T> result.
 *
 * Input byte 0 chooses the range: bits 0-1 the offset (0..3 bytes in), bits 2-3
 * the length the caller claims (exact, 100 bytes too many, half, -1). A parser must
 * clamp a wrong length to the buffer, never read past it and never throw.
 */
import assert from 'node:assert/strict';
import type { Parsed } from '../../../agent/classify/parse-result.js';

export type Range = { buf: Buffer; off: number; length: number; end: number; ctl: number };

export function rangeOf(data: Buffer): Range | undefined {
  if (data.length === 0) return undefined;
  const ctl = data[0] as number;
  const buf = data.subarray(1);
  const off = Math.min(ctl & 3, buf.length);
  const avail = buf.length - off;
  const mode = (ctl >> 2) & 3;
  const length = mode === 0 ? avail : mode === 1 ? avail + 100 : mode === 2 ? avail >> 1 : -1;
  const end = off + Math.max(0, Math.min(length, avail));
  return { buf, off, length, end, ctl };
}

/** A Parsed result: a known status, a reason when not ok, and a length inside the range when ok. */
export function assertParsed<T>(r: Parsed<T>, range: Range, maxConsumed = range.end - range.off): T | undefined {
  switch (r.status) {
    case 'ok':
      assert.ok(Number.isInteger(r.length) && r.length >= 0 && r.length <= maxConsumed, `consumed ${r.length} of ${maxConsumed}`);
      return r.value;
    case 'incomplete':
    case 'malformed':
      assert.equal(typeof r.reason, 'string');
      assert.ok(r.reason.length > 0, 'empty reason');
      return undefined;
    default:
      assert.fail(`unknown status ${String((r as { status: unknown }).status)}`);
  }
}
