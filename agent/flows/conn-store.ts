/**
 * Every connection's state in typed-array columns, one slot per connection index;
 * no JavaScript object per connection. Measured (issue 6): a pooled object per
 * connection cost 168 bytes of old space, its history string ~30 more, and because
 * every one of them survived its first scavenge V8 grew the young generation to its
 * 32 MB maximum while a table filled. With columns a connection is 141 bytes of array
 * buffers (small fields share words, times other than first and last seen are 32-bit
 * offsets, the history is 5 bits a letter, the table hash is not kept: see
 * conn-columns.ts), 8 more in its chunk's classifier-state array and 12 in its app words
 * once one of the chunk's connections carries payload, and the heap stays small. Plain object fields
 * holding sequence numbers and microsecond times would also each be a boxed double.
 * The columns grow a chunk at a time up to the table's bound.
 */

import { Bytes, CF, CI, CU, EI, EU } from './conn-columns.js';
import type { Connection } from './tcp-connection.js';

/** Slots per chunk (a power of two): the store grows a chunk at a time, so a small table stays small. */
export const CHUNK_SHIFT = 12;
export const CHUNK_SLOTS = 1 << CHUNK_SHIFT;
export const CHUNK_MASK = CHUNK_SLOTS - 1;

/** The columns of CHUNK_SLOTS connections. */
export class ConnChunk {
  readonly eu32: Uint32Array;
  readonly ei32: Int32Array;
  readonly cu32: Uint32Array;
  readonly cf64: Float64Array;
  readonly ci32: Int32Array;
  readonly hist: Uint8Array;
  /**
   * Classifier state per slot (TcpConnection.app): made at the chunk's first, at its full
   * size so it never grows. Connections without payload (handshakes, a SYN flood, idle
   * pools) have none, and their chunks no array (8 bytes a slot).
   */
  apps: unknown[] | undefined;
  readonly #slots: number;
  #v6: Uint8Array | undefined;
  #appWords: Int32Array | undefined;

  constructor(slots: number = CHUNK_SLOTS) {
    this.#slots = slots;
    this.eu32 = new Uint32Array(slots * 2 * EU.STRIDE);
    this.ei32 = new Int32Array(slots * 2 * EI.STRIDE);
    this.cu32 = new Uint32Array(slots * CU.STRIDE);
    this.cf64 = new Float64Array(slots * CF.STRIDE);
    this.ci32 = new Int32Array(slots * CI.STRIDE);
    this.hist = new Uint8Array(slots * Bytes.HIST);
  }

  /** Set a slot's classifier state, making the chunk's array when the first is set. */
  setApp(slot: number, v: unknown): void {
    if (this.apps === undefined) {
      if (v === undefined) return;
      this.apps = new Array<unknown>(this.#slots).fill(undefined);
    }
    this.apps[slot] = v;
  }

  /**
   * Three words of classifier state per slot (TcpConnection.appWord), for state that rests
   * between segments without an object; made at the chunk's first.
   */
  get appWords(): Int32Array {
    this.#appWords ??= new Int32Array(this.#slots * APP_WORDS);
    return this.#appWords;
  }
  /** The words of a slot before any was set: zero. */
  appWord(slot: number, i: number): number {
    const w = this.#appWords;
    return w === undefined ? 0 : w[slot * APP_WORDS + i] as number;
  }

  /** IPv6 address bytes, allocated on the chunk's first IPv6 connection (IPv4-only hosts never pay). */
  get v6(): Uint8Array {
    this.#v6 ??= new Uint8Array(this.#slots * Bytes.V6);
    return this.#v6;
  }

  /** Zero one slot's columns (slot local to the chunk) before it is reused. */
  clear(slot: number): void {
    const e = slot * 2;
    this.eu32.fill(0, e * EU.STRIDE, (e + 2) * EU.STRIDE);
    this.ei32.fill(0, e * EI.STRIDE, (e + 2) * EI.STRIDE);
    this.cu32.fill(0, slot * CU.STRIDE, (slot + 1) * CU.STRIDE);
    this.cf64.fill(0, slot * CF.STRIDE, (slot + 1) * CF.STRIDE);
    this.ci32.fill(0, slot * CI.STRIDE, (slot + 1) * CI.STRIDE);
    this.hist.fill(0, slot * Bytes.HIST, (slot + 1) * Bytes.HIST);
    if (this.apps !== undefined) this.apps[slot] = undefined;
    if (this.#v6 !== undefined) this.#v6.fill(0, slot * Bytes.V6, (slot + 1) * Bytes.V6);
    if (this.#appWords !== undefined) this.#appWords.fill(0, slot * APP_WORDS, (slot + 1) * APP_WORDS);
  }
}

/** Words of classifier state per slot (ConnChunk.appWords). */
export const APP_WORDS = 3;

/** What a Connection view points at before its first point(): no slots, so an empty table costs nothing. */
export const NO_CHUNK = new ConnChunk(0);

/**
 * All chunks of one table, addressed by connection index, with the intrusive links
 * (hash chain, time-ordered lists) the table and its queues follow by index.
 */
export class ConnStore {
  readonly #chunks: ConnChunk[] = [];
  /** The view Connection.reader() gives out, made at its first call (one per store). */
  reader: Connection | undefined = undefined;

  /** The chunk of a connection index; made when its first slot is. */
  chunkOf(index: number): ConnChunk {
    const i = index >>> CHUNK_SHIFT;
    while (this.#chunks.length <= i) this.#chunks.push(new ConnChunk());
    return this.#chunks[i] as ConnChunk;
  }

  /** The chunk of an existing connection index. */
  chunkAt(index: number): ConnChunk {
    return this.#chunks[index >>> CHUNK_SHIFT] as ConnChunk;
  }

  #ci(index: number): Int32Array {
    return (this.#chunks[index >>> CHUNK_SHIFT] as ConnChunk).ci32;
  }
  #get(index: number, field: number): number {
    return (this.#ci(index)[(index & CHUNK_MASK) * CI.STRIDE + field] as number) - 1;
  }
  #set(index: number, field: number, to: number): void {
    this.#ci(index)[(index & CHUNK_MASK) * CI.STRIDE + field] = to + 1;
  }

  /** Next connection index in the same hash bucket, -1 at the end. */
  hashNext(index: number): number { return this.#get(index, CI.HASH_NEXT); }
  setHashNext(index: number, to: number): void { this.#set(index, CI.HASH_NEXT, to); }
  /** Neighbours on the connection's time-ordered list, -1 at either end. */
  prev(index: number): number { return this.#get(index, CI.PREV); }
  setPrev(index: number, to: number): void { this.#set(index, CI.PREV, to); }
  next(index: number): number { return this.#get(index, CI.NEXT); }
  setNext(index: number, to: number): void { this.#set(index, CI.NEXT, to); }

  /** The list (ConnList) the connection is on. */
  list(index: number): number {
    return ((this.#ci(index)[(index & CHUNK_MASK) * CI.STRIDE + CI.BITS] as number) >>> CI.LIST_SHIFT) & CI.LIST_MASK;
  }
  setList(index: number, list: number): void {
    const ci = this.#ci(index);
    const k = (index & CHUNK_MASK) * CI.STRIDE + CI.BITS;
    ci[k] = ((ci[k] as number) & ~(CI.LIST_MASK << CI.LIST_SHIFT)) | (list << CI.LIST_SHIFT);
  }

  /** Time the connection was last seen (µs), read without a Connection view. */
  lastSeen(index: number): number {
    return (this.#chunks[index >>> CHUNK_SHIFT] as ConnChunk).cf64[(index & CHUNK_MASK) * CF.STRIDE + CF.LAST_SEEN] as number;
  }
}
