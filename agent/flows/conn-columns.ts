/** Column layout of the connection store (see conn-store.ts). */
/** Uint32 fields per endpoint. */
export const EU = { ISN: 0, NEXT_SEQ: 1, LAST_SEQ: 2, LAST_ACK: 3 } as const;
export const EU_STRIDE = 4;
/** Float64 fields per endpoint. */
export const EF = { LAST_ACK_MICROS: 0, NEXT_SEQ_MICROS: 1, BYTES: 2 } as const;
export const EF_STRIDE = 3;
/** Int32 fields per endpoint. */
export const EI = { STATE: 0, HISTORY_BITS: 1, FLAGS: 2, DUP_ACKS: 3, WINDOW: 4, SYNS: 5, LAST_KIND: 6 } as const;
export const EI_STRIDE = 8;
/** Uint32 fields per connection. */
export const CU = { ORIG_IP4: 0, RESP_IP4: 1, HASH: 2 } as const;
export const CU_STRIDE = 3;
/** Float64 fields per connection. */
export const CF = { FIRST_SEEN: 0, LAST_SEEN: 1, SYNACK_AT: 2, MRU_SYN_AT: 3, FIRST_RTT: 4 } as const;
export const CF_STRIDE = 5;
/** Bytes of IPv6 addresses per connection (originator then responder). */
export const V6_STRIDE = 32;
