import { PutMetricDataCommand, StandardUnit, type CloudWatchClient, type Dimension, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { DimensionName, MetricName } from '../events/metric-names.js';
import { METRICS_MAX_ABS_VALUE, METRICS_MAX_PER_CALL, METRICS_MAX_REQUEST_BYTES } from './aws-limits.js';
import { classifyAwsError, ErrorKind, failureFields, LogOnce, withDeadline } from './cloudwatch-retry.js';
import { ZERO_COUNTERS, type ShipLogger, type StatSet, type StatsCounters, type StatsSource } from './shipping-types.js';

/** Counter → metric name; the catalogue lives in events/metric-names.ts. */
const COUNTER_METRICS: ReadonlyArray<readonly [keyof StatsCounters, MetricName]> = [
  ['requests', MetricName.Requests],
  ['http4xx', MetricName.HTTP4xx],
  ['http5xx', MetricName.HTTP5xx],
  ['resetsByTarget', MetricName.ResetsByTarget],
  ['resetsByPeer', MetricName.ResetsByPeer],
  ['refused', MetricName.ConnectionsRefused],
  ['unanswered', MetricName.ConnectionsUnanswered],
  ['retransmissions', MetricName.Retransmissions],
  ['zeroWindows', MetricName.ZeroWindows],
  ['healthChecksOk', MetricName.HealthChecksOk],
  ['healthChecksFailed', MetricName.HealthChecksFailed],
  ['loops', MetricName.LoopsDetected],
  ['captureDrops', MetricName.CaptureDrops],
  ['captureGaps', MetricName.CaptureGaps],
  ['localLogLost', MetricName.LocalLogEventsLost],
];

/** What the Logs shipper contributes to each interval. */
export type ShippingFigures = () => Promise<{ eventsPending: number; eventsRejectedTotal: number }>;

/**
 * Retry policy for metrics (metrics are a view, the local log is the source of truth):
 * an interval whose PutMetricData fails with a retryable error is kept and tried again
 * at each following interval, oldest first, up to `maxAttempts` times in all; then it
 * is dropped and counted. At most `maxQueuedIntervals` intervals wait; beyond that the
 * oldest is dropped and counted. Requests CloudWatch refuses as invalid are dropped at
 * once and counted. The SDK's own retries (3 attempts) come on top of this.
 * PutMetricData is not idempotent: when CloudWatch stored a call but the answer was
 * lost (timeout, connection closed after the request), the resend counts that
 * interval again. Measured against the double: up to 3 extra copies of one interval
 * when all three SDK attempts lost their answers. Sending again is chosen over
 * dropping the interval, because a missing Heartbeat raises the alarm.
 */
export const METRICS_RETRY_POLICY = Object.freeze({ maxAttempts: 4, maxQueuedIntervals: 10 });

export type MetricsPublisherOptions = Readonly<{
  client: CloudWatchClient;
  namespace: string;
  instanceId: string;
  intervalMs: number;
  statsSource: StatsSource;
  shipping?: ShippingFigures;
  logger: ShipLogger;
  maxAttempts?: number;
  maxQueuedIntervals?: number;
  /** Whole-call deadline of each PutMetricData, SDK retries included (default 60 s; see withDeadline). */
  callDeadlineMs?: number;
  now?: () => number;
}>;

export type MetricsStatus = {
  intervalsSent: number;
  datumsSent: number;
  calls: number;
  failedCalls: number;
  /** Intervals given up after maxAttempts or for lack of room, and their datums. */
  intervalsDropped: number;
  datumsDropped: number;
  /** Values that were NaN, ±Infinity or out of CloudWatch's range, left out. */
  invalidValuesDropped: number;
  queued: number;
  lastError: string | undefined;
  /** Set (ISO time) while PutMetricData fails; cleared by the next interval sent. */
  degradedSince: string | undefined;
  /** Failed calls since start, by kind (failureKind()). */
  failuresByKind: Record<string, number>;
};

type QueuedInterval = { at: Date; data: MetricDatum[]; sent: number; attempts: number };

/** Publishes one aggregated set of data per interval with PutMetricData. */
export class MetricsPublisher {
  readonly #o: MetricsPublisherOptions;
  readonly #queue: QueuedInterval[] = [];
  readonly #errorLog = new LogOnce(5 * 60_000);
  readonly #status: MetricsStatus = {
    intervalsSent: 0, datumsSent: 0, calls: 0, failedCalls: 0, intervalsDropped: 0, datumsDropped: 0,
    invalidValuesDropped: 0, queued: 0, lastError: undefined, degradedSince: undefined, failuresByKind: {},
  };
  #previous: StatsCounters = ZERO_COUNTERS;
  #previousByTarget = new Map<string, Partial<StatsCounters>>();
  #previousRejected = 0;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> | undefined;

  constructor(options: MetricsPublisherOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.tick(), this.#o.intervalMs);
  }

  status(): Readonly<MetricsStatus> {
    return { ...this.#status, failuresByKind: { ...this.#status.failuresByKind }, queued: this.#queue.length };
  }

  /** Collects one interval and sends what is queued. Never rejects. */
  async tick(): Promise<void> {
    while (this.#busy) await this.#busy;
    this.#busy = this.#tick().finally(() => {
      this.#busy = undefined;
    });
    return this.#busy;
  }

  /** Publishes the last partial interval once, within the budget; then stops. */
  async flush(budgetMs: number): Promise<void> {
    this.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.tick(), new Promise((r) => (timer = setTimeout(r, budgetMs)))]);
    clearTimeout(timer);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    const at = new Date((this.#o.now ?? Date.now)());
    try {
      const data = await this.#collect();
      this.#queue.push({ at, data, sent: 0, attempts: 0 });
    } catch (err) {
      this.#o.logger.warn({ err: String(err) }, 'could not collect statistics for CloudWatch metrics');
    }
    const maxQueued = this.#o.maxQueuedIntervals ?? METRICS_RETRY_POLICY.maxQueuedIntervals;
    while (this.#queue.length > maxQueued) this.#drop(this.#queue.shift(), 'too many intervals waiting');
    await this.#sendQueued();
  }

  async #collect(): Promise<MetricDatum[]> {
    const snap = this.#o.statsSource();
    const at = new Date((this.#o.now ?? Date.now)());
    const base: Dimension[] = [{ Name: DimensionName.InstanceId, Value: this.#o.instanceId }];
    const out: MetricDatum[] = [];
    const count = (name: string, value: number, dims = base): void => {
      this.#push(out, { MetricName: name, Dimensions: dims, Timestamp: at, Unit: StandardUnit.Count, Value: value });
    };
    for (const [key, name] of COUNTER_METRICS) count(name, delta(snap.counters[key], this.#previous[key]));
    // The 5xx rate the alarms watch: a fleet alarm cannot divide two Metrics Insights queries.
    const requests = delta(snap.counters.requests, this.#previous.requests);
    if (requests > 0) {
      this.#push(out, {
        MetricName: MetricName.HTTP5xxRate, Dimensions: base, Timestamp: at, Unit: StandardUnit.Percent,
        Value: Math.min(100, (100 * delta(snap.counters.http5xx, this.#previous.http5xx)) / requests),
      });
    }
    this.#previous = snap.counters;
    this.#pushStatSet(out, snap.responseTime, base, at);

    const seen = new Map<string, Partial<StatsCounters>>();
    for (const t of snap.byTarget ?? []) {
      const dims: Dimension[] = [...base];
      if (t.loadBalancer) dims.push({ Name: DimensionName.LoadBalancer, Value: t.loadBalancer });
      if (t.targetGroup) dims.push({ Name: DimensionName.TargetGroup, Value: t.targetGroup });
      if (dims.length === 1) continue; // nothing known beyond the instance: already counted above
      const key = `${t.loadBalancer ?? ''}|${t.targetGroup ?? ''}`;
      const prev = this.#previousByTarget.get(key) ?? {};
      for (const [k, name] of COUNTER_METRICS) {
        const now = t.counters[k];
        if (now !== undefined) count(name, delta(now, prev[k] ?? 0), dims);
      }
      seen.set(key, t.counters);
      this.#pushStatSet(out, t.responseTime, dims, at);
    }
    this.#previousByTarget = seen;

    count(MetricName.Heartbeat, 1);
    if (this.#o.shipping) {
      const figures = await this.#o.shipping();
      count(MetricName.EventsPending, figures.eventsPending);
      count(MetricName.EventsRejected, delta(figures.eventsRejectedTotal, this.#previousRejected));
      this.#previousRejected = figures.eventsRejectedTotal;
    }
    return out;
  }

  #pushStatSet(out: MetricDatum[], set: StatSet | undefined, dims: MetricDatum['Dimensions'], at: Date): void {
    if (set === undefined || !(set.count > 0)) return;
    this.#push(out, {
      MetricName: MetricName.TargetResponseTime, Dimensions: dims, Timestamp: at, Unit: StandardUnit.Seconds,
      StatisticValues: { SampleCount: set.count, Sum: set.sum, Minimum: set.min, Maximum: set.max },
    });
  }

  #push(out: MetricDatum[], datum: MetricDatum): void {
    if (datumIsValid(datum)) out.push(datum);
    else this.#status.invalidValuesDropped++;
  }

  async #sendQueued(): Promise<void> {
    const maxAttempts = this.#o.maxAttempts ?? METRICS_RETRY_POLICY.maxAttempts;
    while (this.#queue.length > 0) {
      const item = this.#queue[0];
      if (item === undefined) break;
      item.attempts++;
      const ok = await this.#sendInterval(item);
      if (ok === 'sent') {
        this.#queue.shift();
        this.#status.intervalsSent++;
        continue;
      }
      if (ok === 'invalid') {
        this.#drop(this.#queue.shift(), 'refused as invalid');
        continue;
      }
      if (item.attempts >= maxAttempts) this.#drop(this.#queue.shift(), `failed ${item.attempts} times`);
      // Try the rest at the next interval: CloudWatch is failing now.
      return;
    }
  }

  async #sendInterval(item: QueuedInterval): Promise<'sent' | 'retry' | 'invalid'> {
    while (item.sent < item.data.length) {
      const chunk = takeChunk(item.data, item.sent);
      this.#status.calls++;
      try {
        await withDeadline(this.#o.callDeadlineMs ?? 60_000, undefined, (abortSignal) =>
          this.#o.client.send(new PutMetricDataCommand({ Namespace: this.#o.namespace, MetricData: chunk }), { abortSignal }));
        item.sent += chunk.length;
        this.#status.datumsSent += chunk.length;
      } catch (err) {
        this.#status.failedCalls++;
        const f = failureFields(err);
        const st = this.#status;
        st.lastError = f.err;
        st.failuresByKind[f.failure] = (st.failuresByKind[f.failure] ?? 0) + 1;
        const now = (this.#o.now ?? Date.now)();
        st.degradedSince ??= new Date(now).toISOString();
        const kind = classifyAwsError(err);
        const repeats = this.#errorLog.take(f.failure, now);
        if (repeats !== undefined) {
          this.#o.logger.warn(
            { ...f, kind, attempt: item.attempts, repeats },
            `PutMetricData failed (${f.failure}${repeats > 0 ? `, ${repeats} more like it since the last line` : ''}); the interval waits for the next one`,
          );
        }
        return kind === ErrorKind.Invalid ? 'invalid' : 'retry';
      }
    }
    if (this.#status.degradedSince !== undefined) {
      this.#o.logger.info({ degradedSince: this.#status.degradedSince, notLoggedRepeats: this.#errorLog.unreported() }, 'CloudWatch metrics reachable again');
      this.#status.degradedSince = undefined;
    }
    this.#errorLog.reset();
    return 'sent';
  }

  #drop(item: QueuedInterval | undefined, why: string): void {
    if (item === undefined) return;
    const lost = item.data.length - item.sent;
    this.#status.intervalsDropped++;
    this.#status.datumsDropped += lost;
    this.#o.logger.warn({ at: item.at.toISOString(), datums: lost, why }, 'dropped one interval of CloudWatch metrics');
  }
}

function delta(now: number, before: number): number {
  if (!Number.isFinite(now)) return now; // left for datumIsValid to count
  return now >= before ? now - before : now; // a smaller value: the counter restarted
}

function finiteInRange(v: number | undefined): boolean {
  return v !== undefined && Number.isFinite(v) && Math.abs(v) <= METRICS_MAX_ABS_VALUE;
}

/** CloudWatch rejects NaN, ±Infinity and values beyond ±2^360 (the whole request fails). */
export function datumIsValid(d: MetricDatum): boolean {
  if (d.Value !== undefined) return finiteInRange(d.Value);
  const s = d.StatisticValues;
  if (s === undefined) return false;
  return finiteInRange(s.SampleCount) && (s.SampleCount ?? 0) > 0 && finiteInRange(s.Sum) && finiteInRange(s.Minimum) && finiteInRange(s.Maximum);
}

/** Up to 1000 datums, and well under the 1 MB request limit, from `start`. */
export function takeChunk(data: readonly MetricDatum[], start: number, maxPerCall = METRICS_MAX_PER_CALL): MetricDatum[] {
  const chunk: MetricDatum[] = [];
  let bytes = 0;
  for (let i = start; i < data.length && chunk.length < maxPerCall; i++) {
    const d = data[i];
    if (d === undefined) break;
    const size = JSON.stringify(d).length + 64; // JSON 1.0 body; the margin covers framing
    if (chunk.length > 0 && bytes + size > METRICS_MAX_REQUEST_BYTES / 2) break;
    chunk.push(d);
    bytes += size;
  }
  return chunk;
}
