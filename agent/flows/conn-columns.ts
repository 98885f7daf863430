/** Column layout of the connection store (see conn-store.ts). */
/** Uint32 fields per endpoint. */
export const EU = { ISN: 0, NEXT_SEQ: 1, LAST_SEQ: 2, LAST_ACK: 3 } as const;
export const EU_STRIDE = 4;
/** Float64 fields per endpoint. */
export const EF = { LAST_ACK_MICROS: 0, NEXT_SEQ_MICROS: 1, BYTES: 2 } as const;
export const EF_STRIDE = 3;
/** Int32 fields per endpoint; PACK holds the small ones (EP below). */
export const EI = { PACK: 0, DUP_ACKS: 1, WINDOW: 2, SYNS: 3 } as const;
export const EI_STRIDE = 4;
/** Bit fields of EI.PACK: [shift, width]. State 0-6, two flags, SegmentKind 0-9, ten history letters. */
export const EP = { STATE: [0, 3], FLAGS: [3, 2], LAST_KIND: [5, 4], HISTORY_BITS: [9, 10] } as const;
/**
 * Uint32 fields per connection. SYNACK_AT and MRU_SYN_AT are µs after FIRST_SEEN plus
 * one (0 = none; a time more than 71 minutes after the first packet is not kept: only
 * handshake timings use them); FIRST_RTT is µs (saturating).
 */
export const CU = { ORIG_IP4: 0, RESP_IP4: 1, HASH: 2, SYNACK_AT: 3, MRU_SYN_AT: 4, FIRST_RTT: 5 } as const;
export const CU_STRIDE = 6;
/** Float64 fields per connection. */
export const CF = { FIRST_SEEN: 0, LAST_SEEN: 1 } as const;
export const CF_STRIDE = 2;
/** Bytes of IPv6 addresses per connection (originator then responder). */
export const V6_STRIDE = 32;
/**
 * Int32 fields per connection. Links hold the other connection's index + 1, so a
 * zeroed slot has no links (0 = none).
 */
export const CI = { HASH_NEXT: 0, PREV: 1, NEXT: 2, ORIG_PORT: 3, RESP_PORT: 4, BITS: 5 } as const;
export const CI_STRIDE = 6;
/** Bits of CI.BITS; the list the connection is on sits above them (CI_LIST_SHIFT). */
export const CB = { V6: 1, SYN_SEEN: 2, LOCAL_ORIG: 4, SAMPLED: 8, REPORTED: 16, HANDSHAKE_DONE: 32 } as const;
export const CI_LIST_SHIFT = 8;
/**
 * Bytes of history per connection: one letter code per byte in the order seen (0 =
 * end). Each of the ten letters appears at most once per side, so 20 always suffice.
 */
export const HIST_STRIDE = 20;
