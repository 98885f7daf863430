/**
 * Figures CloudWatch metrics need beyond the cumulative counters: response times
 * as a statistic set per metrics interval (count, sum, min, max since the last
 * drain), and the main counters per load balancer / target group, keyed by their
 * CloudWatch dimension values so they sit beside the load balancer's own metrics.
 */
import type { LbBinding } from './lb-knowledge.js';

export type IntervalStatSet = Readonly<{ count: number; sum: number; min: number; max: number }>;

/** A running statistic set, emptied by drain(). */
export class IntervalStat {
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  add(x: number): void {
    this.#count++;
    this.#sum += x;
    if (x < this.#min) this.#min = x;
    if (x > this.#max) this.#max = x;
  }

  /** The set since the last drain, or undefined when nothing was added. */
  drain(): IntervalStatSet | undefined {
    if (this.#count === 0) return undefined;
    const s = { count: this.#count, sum: this.#sum, min: this.#min, max: this.#max };
    this.#count = 0;
    this.#sum = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
    return s;
  }
}

export type TargetCounters = {
  readonly loadBalancer: string;
  readonly targetGroup: string | undefined;
  requests: number;
  http4xx: number;
  http5xx: number;
  healthChecksOk: number;
  healthChecksFailed: number;
  readonly responseTime: IntervalStat;
};

/** Bound on distinct LB/TG pairs (an instance serves a handful; the bound only guards memory). */
const MAX_TARGETS = 256;

export class ByTarget {
  readonly #map = new Map<string, TargetCounters>();
  /** Counts for pairs beyond the bound (never expected). */
  overflow = 0;
  /** The last pair asked for: every request asks, and behind one LB it is nearly always the same pair. */
  #lastLb: string | undefined;
  #lastTg: string | undefined;
  #last: TargetCounters | undefined;

  /** Counters for a binding with a CloudWatch dimension, or undefined when unknown. */
  of(binding: LbBinding | undefined): TargetCounters | undefined {
    const lb = binding?.lb.dimension;
    if (lb === undefined) return undefined;
    const tg = binding?.targetGroup?.dimension;
    if (this.#last !== undefined && lb === this.#lastLb && tg === this.#lastTg) return this.#last;
    const key = `${lb}|${tg ?? ''}`;
    let c = this.#map.get(key);
    if (c === undefined) {
      if (this.#map.size >= MAX_TARGETS) {
        this.overflow++;
        return undefined;
      }
      c = { loadBalancer: lb, targetGroup: tg, requests: 0, http4xx: 0, http5xx: 0, healthChecksOk: 0, healthChecksFailed: 0, responseTime: new IntervalStat() };
      this.#map.set(key, c);
    }
    this.#lastLb = lb;
    this.#lastTg = tg;
    this.#last = c;
    return c;
  }

  values(): IterableIterator<TargetCounters> {
    return this.#map.values();
  }
}
