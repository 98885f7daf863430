import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MetricName } from '../../../agent/events/metric-names.js';
import { createMetricsClient } from '../../../agent/ship/cloudwatch-clients.js';
import { MetricsPublisher } from '../../../agent/ship/metrics.js';
import { SILENT_LOGGER, ZERO_COUNTERS, type StatsSnapshot } from '../../../agent/ship/shipping-types.js';
import { AwsDouble, fakeCredentials } from '../../helpers/aws-double/aws-double.js';

describe('CloudWatch metrics over the wire (real SDK client, JSON 1.0, local double)', () => {
  const double = new AwsDouble();
  before(() => double.start());
  after(() => double.stop());
  beforeEach(() => {
    double.metrics.data.length = 0;
    double.metrics.calls.length = 0;
    double.metrics.violations.length = 0;
    double.outage = undefined;
  });

  const publisher = (snapshots: StatsSnapshot[], extra: Partial<ConstructorParameters<typeof MetricsPublisher>[0]> = {}) => {
    let i = 0;
    return new MetricsPublisher({
      client: createMetricsClient({ region: 'eu-west-1', endpoint: double.endpoint, credentials: fakeCredentials(), requestTimeoutMs: 2000 }),
      namespace: 'LBTrafficAnalyzer', instanceId: 'i-0123456789abcdef0', intervalMs: 60_000, logger: SILENT_LOGGER,
      statsSource: () => snapshots[Math.min(i++, snapshots.length - 1)] ?? { counters: ZERO_COUNTERS },
      shipping: async () => ({ eventsPending: 7, eventsRejectedTotal: 3 }),
      ...extra,
    });
  };

  it('publishes per-interval differences with the InstanceId, LoadBalancer and TargetGroup dimensions, a response-time statistic set, heartbeat and shipping figures', async () => {
    // Prepare
    const lb = 'app/shop/50dc6c495c0c9188';
    const tg = 'targetgroup/web/73e2d6bc24d8a067';
    const p = publisher([
      { counters: { ...ZERO_COUNTERS, requests: 100, http5xx: 4 } },
      {
        counters: { ...ZERO_COUNTERS, requests: 250, http5xx: 5, resetsByTarget: 2 },
        responseTime: { count: 150, sum: 3.5, min: 0.001, max: 0.4 },
        byTarget: [{ loadBalancer: lb, targetGroup: tg, counters: { requests: 150 }, responseTime: { count: 150, sum: 3.5, min: 0.001, max: 0.4 } }],
      },
    ]);
    // Act
    await p.tick();
    double.metrics.data.length = 0;
    await p.tick();
    // Assess
    const find = (name: string, dims: number) => double.metrics.data.find((d) => d.name === name && Object.keys(d.dimensions).length === dims);
    assert.deepEqual(double.metrics.violations, []);
    assert.equal(find(MetricName.Requests, 1)?.value, 150);
    assert.equal(find(MetricName.HTTP5xx, 1)?.value, 1);
    assert.equal(find(MetricName.ResetsByTarget, 1)?.value, 2);
    assert.deepEqual(find(MetricName.Requests, 3)?.dimensions, { InstanceId: 'i-0123456789abcdef0', LoadBalancer: lb, TargetGroup: tg });
    assert.deepEqual(find(MetricName.TargetResponseTime, 1)?.stats, { SampleCount: 150, Sum: 3.5, Minimum: 0.001, Maximum: 0.4 });
    assert.equal(find(MetricName.TargetResponseTime, 1)?.unit, 'Seconds');
    assert.equal(find(MetricName.Heartbeat, 1)?.value, 1);
    assert.equal(find(MetricName.EventsPending, 1)?.value, 7);
    assert.equal(find(MetricName.EventsRejected, 1)?.value, 0, 'rejected is a per-interval difference (3 then 3)');
    assert.equal(p.status().intervalsSent, 2);
  });

  it('leaves NaN and Infinity out (CloudWatch would refuse the whole call) and counts them', async () => {
    // Prepare
    const p = publisher([{ counters: { ...ZERO_COUNTERS, requests: Number.NaN, loops: Number.POSITIVE_INFINITY }, responseTime: { count: 2, sum: Number.NaN, min: 0, max: 1 } }]);
    // Act
    await p.tick();
    // Assess
    assert.deepEqual(double.metrics.violations, []);
    assert.equal(p.status().invalidValuesDropped, 3);
    assert.equal(double.metrics.data.some((d) => d.name === MetricName.Requests || d.name === MetricName.LoopsDetected), false);
    assert.ok(double.metrics.data.some((d) => d.name === MetricName.Heartbeat));
  });

  it('splits an interval of more than 1000 metrics into calls of at most 1000', async () => {
    // Prepare: 100 target groups × 13 counters + instance-level figures > 1000 datums.
    const byTarget = Array.from({ length: 100 }, (_, i) => ({
      loadBalancer: `app/lb${i}/0123456789abcdef`, targetGroup: `targetgroup/tg${i}/0123456789abcdef`, counters: { ...ZERO_COUNTERS, requests: i },
    }));
    const p = publisher([{ counters: ZERO_COUNTERS, byTarget }]);
    // Act
    await p.tick();
    // Assess
    assert.deepEqual(double.metrics.violations, []);
    assert.ok(double.metrics.calls.length >= 2);
    assert.ok(double.metrics.calls.every((n) => n <= 1000), `calls: ${double.metrics.calls.join(',')}`);
    assert.equal(double.metrics.data.length, p.status().datumsSent);
    assert.ok(p.status().datumsSent > 1000);
  });

  it('retries a failed interval at the next intervals, oldest first, then drops it after maxAttempts and counts it', async () => {
    // Prepare
    const p = publisher([{ counters: ZERO_COUNTERS }], { maxAttempts: 2 });
    double.outage = { services: new Set(['metrics']), kind: 'server-error' };
    // Act: two failing intervals, then recovery.
    await p.tick(); // interval A: attempt 1 fails
    await p.tick(); // A: attempt 2 fails -> dropped; B (queued) waits
    const during = p.status();
    double.outage = undefined;
    await p.tick(); // B then C sent
    // Assess
    assert.equal(during.intervalsDropped, 1);
    assert.equal(during.queued, 1);
    const after = p.status();
    assert.equal(after.intervalsSent, 2);
    assert.equal(after.queued, 0);
    const stamps = new Set(double.metrics.data.map((d) => d.timestamp));
    assert.equal(stamps.size, 2, 'each interval keeps its own timestamp when sent late');
  });
});
