/**
 * Space-Saving heavy hitters (Metwally, Agrawal, El Abbadi, 2005): the top clients
 * in memory bounded by `capacity`. Every item whose true count exceeds N/capacity
 * is guaranteed to be tracked, and a tracked item's count overestimates the truth
 * by at most its `error`: under skew the leaders are exact.
 */
export type HeavyHitter = Readonly<{ key: string; count: number; error: number }>;

export class SpaceSaving {
  readonly #capacity: number;
  readonly #counts = new Map<string, { count: number; error: number }>();
  #total = 0;

  constructor(capacity = 1000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`SpaceSaving capacity must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
  }

  get total(): number { return this.#total; }
  get size(): number { return this.#counts.size; }

  add(key: string, weight = 1): void {
    this.#total += weight;
    const cur = this.#counts.get(key);
    if (cur !== undefined) { cur.count += weight; return; }
    if (this.#counts.size < this.#capacity) { this.#counts.set(key, { count: weight, error: 0 }); return; }
    // Replace the minimum: the newcomer inherits its count as the error bound.
    // A linear scan over `capacity` entries happens only for new keys once full;
    // with capacity ~1000 that is a few microseconds per new client.
    let minKey = '';
    let min = Infinity;
    for (const [k, v] of this.#counts) if (v.count < min) { min = v.count; minKey = k; }
    this.#counts.delete(minKey);
    this.#counts.set(key, { count: min + weight, error: min });
  }

  /** The n largest, biggest first. */
  top(n: number): HeavyHitter[] {
    return [...this.#counts.entries()]
      .map(([key, v]) => ({ key, count: v.count, error: v.error }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1))
      .slice(0, n);
  }
}
