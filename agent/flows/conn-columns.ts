/**
 * Column layout of the connection store (see conn-store.ts).
 *
 * These are `const enum`s on purpose: tsc writes their members as number literals, so
 * an accessor such as `Endpoint.nextSeq` compiles to a few bytecodes without module
 * variable loads. V8 always inlines functions under 27 bytes of bytecode; the accessors
 * of Endpoint and Connection stay under it, which keeps them out of the inlining budget
 * of the per-packet code that calls them dozens of times (measured: ~9 % of the offline
 * CPU was these accessors, called instead of inlined, when they read `as const` objects).
 */

/** Uint32 fields per endpoint. */
export const enum EU { ISN = 0, NEXT_SEQ = 1, LAST_SEQ = 2, LAST_ACK = 3, STRIDE = 4 }
/** Float64 fields per endpoint. */
export const enum EF { LAST_ACK_MICROS = 0, NEXT_SEQ_MICROS = 1, BYTES = 2, STRIDE = 3 }
/** Int32 fields per endpoint; PACK holds the small ones (EP below). */
export const enum EI { PACK = 0, DUP_ACKS = 1, WINDOW = 2, SYNS = 3, STRIDE = 4 }
/**
 * Bit fields of EI.PACK, each a shift and a mask (of the shifted-down value): state 0-6,
 * two flags, SegmentKind 0-9, ten history letters.
 */
export const enum EP {
  STATE_SHIFT = 0, STATE_MASK = 0x7,
  FLAGS_SHIFT = 3, FLAGS_MASK = 0x3,
  KIND_SHIFT = 5, KIND_MASK = 0xf,
  HISTORY_SHIFT = 9, HISTORY_MASK = 0x3ff,
}
/**
 * Uint32 fields per connection. SYNACK_AT and MRU_SYN_AT are µs after FIRST_SEEN plus
 * one (0 = none; a time more than 71 minutes after the first packet is not kept: only
 * handshake timings use them); FIRST_RTT is µs (saturating).
 */
export const enum CU { ORIG_IP4 = 0, RESP_IP4 = 1, HASH = 2, SYNACK_AT = 3, MRU_SYN_AT = 4, FIRST_RTT = 5, STRIDE = 6 }
/** Float64 fields per connection. */
export const enum CF { FIRST_SEEN = 0, LAST_SEEN = 1, STRIDE = 2 }
/**
 * Int32 fields per connection. Links hold the other connection's index + 1, so a
 * zeroed slot has no links (0 = none). The list the connection is on sits in BITS
 * above LIST_SHIFT.
 */
export const enum CI { HASH_NEXT = 0, PREV = 1, NEXT = 2, ORIG_PORT = 3, RESP_PORT = 4, BITS = 5, STRIDE = 6, LIST_SHIFT = 8 }
/** Bits of CI.BITS (below CI.LIST_SHIFT). */
export const enum CB { V6 = 1, SYN_SEEN = 2, LOCAL_ORIG = 4, SAMPLED = 8, REPORTED = 16, HANDSHAKE_DONE = 32 }
/**
 * Bytes per connection of the other columns: IPv6 addresses (originator then responder),
 * and history, one letter code per byte in the order seen (0 = end). Each of the ten
 * letters appears at most once per side, so 20 always suffice.
 */
export const enum Bytes { V6 = 32, HIST = 20 }
