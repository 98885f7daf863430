/**
 * Space-Saving heavy hitters (Metwally, Agrawal, El Abbadi, 2005): the top clients
 * in memory bounded by `capacity`. Every item whose true count exceeds N/capacity
 * is guaranteed to be tracked, and a tracked item's count overestimates the truth
 * by at most its `error`: under skew the leaders are exact.
 */
export type HeavyHitter = Readonly<{ key: string; count: number; error: number }>;

/**
 * The counters live in a binary min-heap ordered by count, so a known key's
 * increment and the replacement of the minimum by a new key cost O(log capacity):
 * behind a load balancer every request can come from a new client address, and a
 * linear scan for the minimum made each of those cost O(capacity). A counter keeps
 * its slot for as long as its key is tracked; the heap orders slot numbers, so moving
 * a counter up or down writes two typed arrays, and the key's map entry is only read
 * once per add (and rewritten when the minimum is replaced).
 */
export class SpaceSaving {
  readonly #capacity: number;
  /** Key to slot. */
  readonly #index = new Map<string, number>();
  /** Per slot. */
  readonly #keys: string[] = [];
  readonly #counts: Float64Array;
  readonly #errors: Float64Array;
  /** Heap position to slot, and slot to heap position. */
  readonly #heap: Int32Array;
  readonly #pos: Int32Array;
  #size = 0;
  #total = 0;

  constructor(capacity = 1000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`SpaceSaving capacity must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
    this.#counts = new Float64Array(capacity);
    this.#errors = new Float64Array(capacity);
    this.#heap = new Int32Array(capacity);
    this.#pos = new Int32Array(capacity);
  }

  get total(): number { return this.#total; }
  get size(): number { return this.#size; }

  add(key: string, weight = 1): void {
    this.#total += weight;
    const slot = this.#index.get(key);
    if (slot !== undefined) {
      this.#counts[slot] = (this.#counts[slot] as number) + weight;
      this.#siftDown(this.#pos[slot] as number);
      return;
    }
    if (this.#size < this.#capacity) {
      const i = this.#size++;
      this.#keys[i] = key;
      this.#counts[i] = weight;
      this.#errors[i] = 0;
      this.#heap[i] = i;
      this.#pos[i] = i;
      this.#index.set(key, i);
      this.#siftUp(i);
      return;
    }
    // Replace the minimum (the heap's root): the newcomer inherits its count as the error bound.
    const root = this.#heap[0] as number;
    const min = this.#counts[root] as number;
    this.#index.delete(this.#keys[root] as string);
    this.#keys[root] = key;
    this.#counts[root] = min + weight;
    this.#errors[root] = min;
    this.#index.set(key, root);
    this.#siftDown(0);
  }

  /** The n largest, biggest first. */
  top(n: number): HeavyHitter[] {
    const out: HeavyHitter[] = [];
    for (let i = 0; i < this.#size; i++) out.push({ key: this.#keys[i] as string, count: this.#counts[i] as number, error: this.#errors[i] as number });
    return out.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)).slice(0, n);
  }

  /** The count of the slot at heap position i. */
  #at(i: number): number {
    return this.#counts[this.#heap[i] as number] as number;
  }

  #swap(a: number, b: number): void {
    const sa = this.#heap[a] as number;
    const sb = this.#heap[b] as number;
    this.#heap[a] = sb;
    this.#heap[b] = sa;
    this.#pos[sb] = a;
    this.#pos[sa] = b;
  }

  #siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#at(parent) <= this.#at(i)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.#size) return;
      const r = l + 1;
      const c = r < this.#size && this.#at(r) < this.#at(l) ? r : l;
      if (this.#at(c) >= this.#at(i)) return;
      this.#swap(i, c);
      i = c;
    }
  }
}
