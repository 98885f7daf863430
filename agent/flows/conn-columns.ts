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

/** Uint32 fields per endpoint; BYTES_LO is the low 32 bits of the side's payload bytes (EW below). */
export const enum EU { ISN = 0, NEXT_SEQ = 1, LAST_SEQ = 2, LAST_ACK = 3, BYTES_LO = 4, STRIDE = 5 }
/**
 * Int32 fields per endpoint: the packed small fields (EP below); the raw window of the
 * side's last segment plus one (0: none yet) and the high bits of its payload bytes (EW);
 * and two times in µs after the connection's time base (TB below; 0 = none): when the
 * side's last ACK was seen and when its next expected sequence number last advanced.
 */
export const enum EI { PACK = 0, WINDOW = 1, ACK_AT = 2, NEXT_SEQ_AT = 3, STRIDE = 4 }
/**
 * EI.WINDOW: the window plus one (0-65536) in the low 17 bits; above them, the side's payload
 * bytes divided by 2^32 (EU.BYTES_LO holds the rest): exact up to 2^47 bytes (140 TB) per
 * side of one connection, where the count stays. A Float64 column of bytes cost 8 bytes per
 * side (issue 6: RSS with 100k connections); these 15 bits were unused.
 */
export const enum EW { WINDOW_MASK = 0x1ffff, HIGH_SHIFT = 17, HIGH_MAX = 0x7fff }
/**
 * Bit fields of EI.PACK, each a shift and a mask (of the shifted-down value): state 0-6,
 * two flags, SegmentKind 0-9, ten history letters, consecutive duplicate ACKs (only "two
 * or more" matters: saturating at 3), SYNs sent (saturating at 2047).
 */
export const enum EP {
  STATE_SHIFT = 0, STATE_MASK = 0x7,
  FLAGS_SHIFT = 3, FLAGS_MASK = 0x3,
  KIND_SHIFT = 5, KIND_MASK = 0xf,
  HISTORY_SHIFT = 9, HISTORY_MASK = 0x3ff,
  DUP_SHIFT = 19, DUP_MASK = 0x3,
  SYNS_SHIFT = 21, SYNS_MASK = 0x7ff,
}
/**
 * The per-endpoint times (EI.ACK_AT, EI.NEXT_SEQ_AT) are 32-bit: µs after the connection's
 * time base, FIRST_SEEN - SLACK + epoch * STEP (the epoch sits in CI.BITS). Only their
 * distance to the current packet matters, and only when it is under the fast-retransmission
 * window or the out-of-order threshold (an RTT). When a packet comes more than MAX µs after
 * the base the epoch advances, the stored times move down with it, and a time that falls
 * below 1 (more than ~18 minutes old) becomes "none", which those comparisons treat as
 * long ago, as they would the real distance. SLACK leaves ~9 minutes for timestamps that
 * go back before the first packet. Halves the bytes of the two times (issue 6: RSS with
 * 100k connections) and keeps every answer exact.
 */
export const enum TB { SLACK = 0x20000000, STEP = 0x40000000, MAX = 0x7fffffff }
/**
 * Uint32 fields per connection. SYNACK_AT and MRU_SYN_AT are µs after FIRST_SEEN plus
 * one (0 = none; a time more than 71 minutes after the first packet is not kept: only
 * handshake timings use them); FIRST_RTT is µs (saturating).
 */
export const enum CU { ORIG_IP4 = 0, RESP_IP4 = 1, SYNACK_AT = 2, MRU_SYN_AT = 3, FIRST_RTT = 4, STRIDE = 5 }
/** Float64 fields per connection. */
export const enum CF { FIRST_SEEN = 0, LAST_SEEN = 1, STRIDE = 2 }
/**
 * Int32 fields per connection. Links hold the other connection's index + 1, so a
 * zeroed slot has no links (0 = none). BITS holds the flags (CB) below LIST_SHIFT, the
 * list the connection is on (LIST_MASK) above it, and the time base's epoch (TB) above
 * EPOCH_SHIFT.
 */
export const enum CI { HASH_NEXT = 0, PREV = 1, NEXT = 2, PORTS = 3, BITS = 4, STRIDE = 5, LIST_SHIFT = 6, LIST_MASK = 0x7, EPOCH_SHIFT = 9, EPOCH_MAX = 0x7fffff }
/** CI.PORTS: the originator's port in the high 16 bits, the responder's in the low 16. */
export const enum CP { ORIG_SHIFT = 16, RESP_MASK = 0xffff }
/** Bits of CI.BITS (below CI.LIST_SHIFT). */
export const enum CB { V6 = 1, SYN_SEEN = 2, LOCAL_ORIG = 4, SAMPLED = 8, REPORTED = 16, HANDSHAKE_DONE = 32 }
/**
 * Bytes per connection of the other columns: IPv6 addresses (originator then responder),
 * and history, one 5-bit letter code (1-26) per letter in the order seen (0 = end), packed
 * little-endian. Each of the ten letters appears at most once per side, so 20 always
 * suffice: 100 bits in 13 bytes (a byte per letter was 20).
 */
export const enum Bytes { V6 = 32, HIST = 13 }
