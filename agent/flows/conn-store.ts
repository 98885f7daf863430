/**
 * Numeric state of every connection in typed-array columns, one slot per pooled
 * connection. Plain object fields holding sequence numbers and microsecond times
 * would each be a boxed double in V8 (16 bytes plus a pointer); here they cost 4
 * or 8 bytes, which keeps 100k connections well inside the RSS budget. The columns
 * grow a chunk at a time up to the table's bound.
 */

import { EU, EU_STRIDE, EF, EF_STRIDE, EI, EI_STRIDE, CU, CU_STRIDE, CF, CF_STRIDE, V6_STRIDE } from './conn-columns.js';
import { Endpoint } from './endpoint.js';

/** Slots per chunk: the store grows a chunk at a time, so a small table stays small. */
export const CHUNK_SLOTS = 4096;

/** The columns of CHUNK_SLOTS connections. */
export class ConnChunk {
  readonly eu32 = new Uint32Array(CHUNK_SLOTS * 2 * EU_STRIDE);
  readonly ef64 = new Float64Array(CHUNK_SLOTS * 2 * EF_STRIDE);
  readonly ei32 = new Int32Array(CHUNK_SLOTS * 2 * EI_STRIDE);
  readonly cu32 = new Uint32Array(CHUNK_SLOTS * CU_STRIDE);
  readonly cf64 = new Float64Array(CHUNK_SLOTS * CF_STRIDE);
  #v6: Uint8Array | undefined;

  /** IPv6 address bytes, allocated on the chunk's first IPv6 connection (IPv4-only hosts never pay). */
  get v6(): Uint8Array {
    this.#v6 ??= new Uint8Array(CHUNK_SLOTS * V6_STRIDE);
    return this.#v6;
  }

  /** Zero one slot's columns (slot local to the chunk) before it is reused. */
  clear(slot: number): void {
    const e = slot * 2;
    this.eu32.fill(0, e * EU_STRIDE, (e + 2) * EU_STRIDE);
    this.ef64.fill(0, e * EF_STRIDE, (e + 2) * EF_STRIDE);
    this.ei32.fill(0, e * EI_STRIDE, (e + 2) * EI_STRIDE);
    this.cu32.fill(0, slot * CU_STRIDE, (slot + 1) * CU_STRIDE);
    this.cf64.fill(0, slot * CF_STRIDE, (slot + 1) * CF_STRIDE);
    if (this.#v6 !== undefined) this.#v6.fill(0, slot * V6_STRIDE, (slot + 1) * V6_STRIDE);
  }
}

/** All chunks of one table; a chunk is made when its first slot is. */
export class ConnStore {
  readonly #chunks: ConnChunk[] = [];
  readonly origCursor = new Endpoint();
  readonly respCursor = new Endpoint();

  chunkOf(slot: number): ConnChunk {
    const i = Math.floor(slot / CHUNK_SLOTS);
    while (this.#chunks.length <= i) this.#chunks.push(new ConnChunk());
    return this.#chunks[i] as ConnChunk;
  }
}
