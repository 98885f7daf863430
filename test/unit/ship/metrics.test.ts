import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { MetricName } from '../../../agent/events/metric-names.js';
import { datumIsValid, MetricsPublisher, METRICS_RETRY_POLICY, takeChunk } from '../../../agent/ship/metrics.js';
import { SILENT_LOGGER, ZERO_COUNTERS, type StatsCounters } from '../../../agent/ship/shipping-types.js';

const awsError = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('MetricsPublisher (aws-sdk-client-mock)', () => {
  const cw = mockClient(CloudWatchClient);
  beforeEach(() => {
    cw.reset();
    cw.on(PutMetricDataCommand).resolves({});
  });

  const make = (counters: () => StatsCounters, extra: Partial<ConstructorParameters<typeof MetricsPublisher>[0]> = {}) => new MetricsPublisher({
    client: new CloudWatchClient({ region: 'eu-west-1' }), namespace: 'NS', instanceId: 'i-1', intervalMs: 60_000,
    statsSource: () => ({ counters: counters() }), logger: SILENT_LOGGER, ...extra,
  });

  it('sends every catalogue counter with the namespace and the InstanceId dimension, zeros included', async () => {
    // Prepare
    const p = make(() => ({ ...ZERO_COUNTERS, refused: 2 }));
    // Act
    await p.tick();
    // Assess
    const input = cw.commandCalls(PutMetricDataCommand)[0]!.args[0].input;
    assert.equal(input.Namespace, 'NS');
    const names = input.MetricData!.map((d) => d.MetricName);
    for (const n of [MetricName.Requests, MetricName.ConnectionsRefused, MetricName.CaptureDrops, MetricName.Heartbeat]) assert.ok(names.includes(n), n);
    assert.equal(input.MetricData!.find((d) => d.MetricName === MetricName.ConnectionsRefused)?.Value, 2);
    assert.ok(input.MetricData!.every((d) => d.Dimensions?.[0]?.Name === 'InstanceId' && d.Dimensions[0].Value === 'i-1'));
  });

  it('sends the interval\'s 5xx rate in percent, and no rate for an interval without requests', async () => {
    // Prepare: 200 requests of which 10 answered 5xx, then an idle interval.
    const values = [{ ...ZERO_COUNTERS, requests: 200, http5xx: 10 }, { ...ZERO_COUNTERS, requests: 200, http5xx: 10 }];
    const p = make(() => values.shift() ?? ZERO_COUNTERS);
    // Act
    await p.tick();
    await p.tick();
    // Assess
    const [first, second] = cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input.MetricData!);
    const rate = first!.find((d) => d.MetricName === MetricName.HTTP5xxRate);
    assert.equal(rate?.Value, 5);
    assert.equal(rate?.Unit, 'Percent');
    assert.equal(second!.find((d) => d.MetricName === MetricName.HTTP5xxRate), undefined);
  });

  it('takes a smaller cumulative counter as a restart rather than sending a negative count', async () => {
    // Prepare
    const values = [10, 3];
    const p = make(() => ({ ...ZERO_COUNTERS, requests: values.shift() ?? 0 }));
    // Act
    await p.tick();
    await p.tick();
    // Assess
    const second = cw.commandCalls(PutMetricDataCommand)[1]!.args[0].input.MetricData!;
    assert.equal(second.find((d) => d.MetricName === MetricName.Requests)?.Value, 3);
  });

  it(`keeps a throttled interval for the next one and drops it after ${METRICS_RETRY_POLICY.maxAttempts} attempts`, async () => {
    // Prepare
    cw.on(PutMetricDataCommand).rejects(awsError('Throttling', 400));
    const p = make(() => ZERO_COUNTERS);
    // Act
    for (let i = 0; i < METRICS_RETRY_POLICY.maxAttempts; i++) await p.tick();
    // Assess
    const s = p.status();
    assert.equal(s.intervalsDropped, 1);
    assert.equal(s.intervalsSent, 0);
    assert.equal(s.queued, METRICS_RETRY_POLICY.maxAttempts - 1);
    assert.equal(s.lastError, 'Throttling');
  });

  it('drops an interval CloudWatch refuses as invalid at once, and bounds the queue during a long outage', async () => {
    // Prepare
    cw.on(PutMetricDataCommand).rejectsOnce(awsError('InvalidParameterValue', 400)).rejects(awsError('InternalServiceError', 500));
    const p = make(() => ZERO_COUNTERS, { maxAttempts: 100, maxQueuedIntervals: 3 });
    // Act
    await p.tick(); // refused: dropped
    for (let i = 0; i < 5; i++) await p.tick(); // outage: the queue holds 3
    // Assess
    const s = p.status();
    assert.equal(s.queued, 3);
    assert.equal(s.intervalsDropped, 1 + 2);
  });

  it('validates data: non-finite, out-of-range and empty statistic sets are invalid', () => {
    // Act / Assess
    const d = (x: Partial<MetricDatum>): MetricDatum => ({ MetricName: 'm', ...x });
    assert.equal(datumIsValid(d({ Value: 1 })), true);
    assert.equal(datumIsValid(d({ Value: Number.NaN })), false);
    assert.equal(datumIsValid(d({ Value: 2 ** 361 })), false);
    assert.equal(datumIsValid(d({ StatisticValues: { SampleCount: 0, Sum: 0, Minimum: 0, Maximum: 0 } })), false);
    assert.equal(datumIsValid(d({ StatisticValues: { SampleCount: 2, Sum: 1, Minimum: 0, Maximum: Number.POSITIVE_INFINITY } })), false);
    assert.equal(datumIsValid(d({})), false);
  });

  it('chunks at most 1000 data per call', () => {
    // Prepare
    const data = Array.from({ length: 2500 }, (_, i): MetricDatum => ({ MetricName: `m${i}`, Value: i }));
    // Act
    const sizes: number[] = [];
    for (let at = 0; at < data.length;) {
      const c = takeChunk(data, at);
      sizes.push(c.length);
      at += c.length;
    }
    // Assess
    assert.deepEqual(sizes, [1000, 1000, 500]);
  });
});
