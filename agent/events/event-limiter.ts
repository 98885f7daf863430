/**
 * A rate limit for per-connection events, so that a flood (a million unanswered
 * SYNs, a reset storm) cannot become a million log lines and CloudWatch events.
 *
 * Policy (documented in README.md, "Events"): per event type and reason, at most
 * `perWindow` events are written in each window of `windowMicros` of packet time
 * (fixed windows aligned to the epoch: 50 per second by default). The rest of the
 * window's events of that type and reason are not built at all; they are counted,
 * and when the window has passed one summary event of the same type and reason
 * says how many were left out (`suppressed`), and between which times. Counters
 * and metrics are kept by the code that calls `admit`, before asking, so they stay
 * exact; the lines in the log add up exactly too: events without `suppressed`
 * count one each, a summary counts `suppressed`.
 *
 * Time is packet time (as everywhere in the analysis), so a capture file read in
 * a second and the same traffic live give the same log.
 */
import type { EventFactory } from './event-factory.js';
import { formatMicros, type EventSink, type EventType } from './schema.js';

export const EVENT_LIMIT_DEFAULTS = {
  /**
   * 50 per second per type and reason: a person reads a few dozen connection
   * events to see a pattern, never thousands; 50/s of ~600-byte lines is ~30 KB/s
   * per reason at worst (~2.6 GB a day), against ~600 MB/s for a 1M-SYN/s flood
   * unlimited. A burst of a few dozen resets (a deploy, a crashed worker) is
   * still logged one line per connection.
   */
  perWindow: 50,
  windowMicros: 1_000_000,
} as const;

export type EventLimiterOptions = Readonly<{
  sink: EventSink;
  events: EventFactory;
  /** Events of one type and reason written per window; the rest are summarised. */
  perWindow?: number;
  windowMicros?: number;
}>;

/** One type+reason's current window. */
class Bucket {
  window = -1;
  admitted = 0;
  suppressed = 0;
  firstSuppressed = 0;
  lastSuppressed = 0;
  /** Every event of this kind suppressed so far (all windows). */
  totalSuppressed = 0;
  constructor(readonly type: EventType, readonly reason: string) {}
}

export class EventLimiter {
  readonly #sink: EventSink;
  readonly #events: EventFactory;
  readonly #perWindow: number;
  readonly #window: number;
  /** type → reason → bucket: looked up without building a key string. */
  readonly #buckets = new Map<EventType, Map<string, Bucket>>();
  /** Earliest end of a window that has suppressed events waiting for their summary. */
  #nextDue = Infinity;
  #summaries = 0;

  constructor(opts: EventLimiterOptions) {
    this.#sink = opts.sink;
    this.#events = opts.events;
    this.#perWindow = opts.perWindow ?? EVENT_LIMIT_DEFAULTS.perWindow;
    this.#window = opts.windowMicros ?? EVENT_LIMIT_DEFAULTS.windowMicros;
    if (!Number.isInteger(this.#perWindow) || this.#perWindow < 1) {
      throw new Error(`event limiter: perWindow must be a positive integer, got ${this.#perWindow}`);
    }
    if (!Number.isInteger(this.#window) || this.#window < 1) {
      throw new Error(`event limiter: windowMicros must be a positive integer, got ${this.#window}`);
    }
  }

  /**
   * May the caller build and write this event? false: it was counted for the
   * window's summary (and nothing else should be done with it).
   */
  admit(type: EventType, reason: string, tsMicros: number): boolean {
    this.tick(tsMicros);
    const b = this.#bucket(type, reason);
    const w = Math.floor(tsMicros / this.#window);
    if (w > b.window) {
      if (b.suppressed > 0) this.#summarise(b);
      b.window = w;
      b.admitted = 0;
    }
    if (b.admitted < this.#perWindow) {
      b.admitted++;
      return true;
    }
    if (b.suppressed === 0) {
      b.firstSuppressed = tsMicros;
      const due = (b.window + 1) * this.#window;
      if (due < this.#nextDue) this.#nextDue = due;
    }
    b.suppressed++;
    b.totalSuppressed++;
    if (tsMicros > b.lastSuppressed) b.lastSuppressed = tsMicros;
    return false;
  }

  /** Write the summaries of windows that ended by `nowMicros` (cheap when none is due). */
  tick(nowMicros: number): void {
    if (nowMicros < this.#nextDue) return;
    this.#summariseDue(nowMicros);
  }

  /** End of input or shutdown: every pending summary is written now. */
  flush(): void {
    this.#summariseDue(Infinity);
  }

  /** Events left out so far, by "TYPE/reason" (every window, summaries written or not). */
  suppressedByKind(): Readonly<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const m of this.#buckets.values()) {
      for (const b of m.values()) if (b.totalSuppressed > 0) out[`${b.type}/${b.reason}`] = b.totalSuppressed;
    }
    return out;
  }

  /** Summary events written so far. */
  get summaries(): number {
    return this.#summaries;
  }

  #bucket(type: EventType, reason: string): Bucket {
    let m = this.#buckets.get(type);
    if (m === undefined) {
      m = new Map();
      this.#buckets.set(type, m);
    }
    let b = m.get(reason);
    if (b === undefined) {
      b = new Bucket(type, reason);
      m.set(reason, b);
    }
    return b;
  }

  #summariseDue(nowMicros: number): void {
    let next = Infinity;
    for (const m of this.#buckets.values()) {
      for (const b of m.values()) {
        if (b.suppressed === 0) continue;
        const end = (b.window + 1) * this.#window;
        if (end <= nowMicros) this.#summarise(b);
        else if (end < next) next = end;
      }
    }
    this.#nextDue = next;
  }

  #summarise(b: Bucket): void {
    const n = b.suppressed;
    const windowStart = b.window * this.#window;
    const windowEnd = windowStart + this.#window;
    b.suppressed = 0;
    this.#summaries++;
    // Stamped with the last suppressed event's time: never later than the packets that caused it.
    this.#sink.emit(this.#events.create(b.type, b.reason,
      `${n} more ${b.type} ${b.reason} events in this ${this.#window / 1_000_000} s were not written one by one ` +
      `(limit ${this.#perWindow} per ${this.#window / 1_000_000} s per type and reason); counters and metrics include them`,
      b.lastSuppressed, {
        suppressed: n,
        limit: this.#perWindow,
        window_start: formatMicros(windowStart),
        window_end: formatMicros(windowEnd),
        first_suppressed: formatMicros(b.firstSuppressed),
      }));
  }
}
