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
 * linear scan for the minimum made each of those cost O(capacity).
 */
export class SpaceSaving {
  readonly #capacity: number;
  readonly #index = new Map<string, number>();
  readonly #keys: string[] = [];
  readonly #counts: Float64Array;
  readonly #errors: Float64Array;
  #size = 0;
  #total = 0;

  constructor(capacity = 1000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`SpaceSaving capacity must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
    this.#counts = new Float64Array(capacity);
    this.#errors = new Float64Array(capacity);
  }

  get total(): number { return this.#total; }
  get size(): number { return this.#size; }

  add(key: string, weight = 1): void {
    this.#total += weight;
    const at = this.#index.get(key);
    if (at !== undefined) {
      this.#counts[at] = (this.#counts[at] as number) + weight;
      this.#siftDown(at);
      return;
    }
    if (this.#size < this.#capacity) {
      const i = this.#size++;
      this.#keys[i] = key;
      this.#counts[i] = weight;
      this.#errors[i] = 0;
      this.#index.set(key, i);
      this.#siftUp(i);
      return;
    }
    // Replace the minimum (the heap's root): the newcomer inherits its count as the error bound.
    const min = this.#counts[0] as number;
    this.#index.delete(this.#keys[0] as string);
    this.#keys[0] = key;
    this.#counts[0] = min + weight;
    this.#errors[0] = min;
    this.#index.set(key, 0);
    this.#siftDown(0);
  }

  /** The n largest, biggest first. */
  top(n: number): HeavyHitter[] {
    const out: HeavyHitter[] = [];
    for (let i = 0; i < this.#size; i++) out.push({ key: this.#keys[i] as string, count: this.#counts[i] as number, error: this.#errors[i] as number });
    return out.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)).slice(0, n);
  }

  #swap(a: number, b: number): void {
    const ka = this.#keys[a] as string;
    const kb = this.#keys[b] as string;
    this.#keys[a] = kb;
    this.#keys[b] = ka;
    const c = this.#counts[a] as number;
    this.#counts[a] = this.#counts[b] as number;
    this.#counts[b] = c;
    const e = this.#errors[a] as number;
    this.#errors[a] = this.#errors[b] as number;
    this.#errors[b] = e;
    this.#index.set(kb, a);
    this.#index.set(ka, b);
  }

  #siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.#counts[parent] as number) <= (this.#counts[i] as number)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.#size) return;
      const r = l + 1;
      const c = r < this.#size && (this.#counts[r] as number) < (this.#counts[l] as number) ? r : l;
      if ((this.#counts[c] as number) >= (this.#counts[i] as number)) return;
      this.#swap(i, c);
      i = c;
    }
  }
}
