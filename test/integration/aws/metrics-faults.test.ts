/**
 * CloudWatch metrics answering badly: each fault mode of the AWS double against the real
 * SDK client and the publisher. A failed interval is kept and sent at the next one
 * (METRICS_RETRY_POLICY); the publisher never throws, says it is degraded, logs once.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MetricName } from '../../../agent/events/metric-names.js';
import { createMetricsClient } from '../../../agent/ship/cloudwatch-clients.js';
import { MetricsPublisher } from '../../../agent/ship/metrics.js';
import { ZERO_COUNTERS, type ShipLogger } from '../../../agent/ship/shipping-types.js';
import { AwsDouble, fakeCredentials, type FaultKind } from '../../helpers/aws-double/aws-double.js';

type Line = { level: string; obj: Record<string, unknown>; msg: string | undefined };
function recordingLogger(): ShipLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * The SDK takes an empty 200 and a JSON body under a wrong content type as success;
 * metrics are a view, not the record, so these are not checked (one interval may be
 * lost to a middlebox's empty 200). Every other fault fails the call.
 */
const SDK_ACCEPTS: ReadonlySet<FaultKind> = new Set(['empty', 'wrong-content-type']);
const KINDS: readonly FaultKind[] = [
  'throttle', 'server-error', 'slow', 'drop', 'malformed-json', 'truncated', 'html', 'wrong-content-type', 'empty',
  'close-after-request', 'close-after-headers', 'stall-after-headers', 'reset', 'trickle',
];

describe('CloudWatch metrics when CloudWatch answers badly (real SDK client, local double)', () => {
  const double = new AwsDouble();
  before(() => double.start());
  after(() => double.stop());
  beforeEach(() => {
    double.metrics.data.length = 0;
    double.metrics.calls.length = 0;
    double.faults.length = 0;
    double.log.clear();
  });

  for (const kind of KINDS) {
    it(`${kind} on PutMetricData: the interval waits and goes with the next one, no exception, degraded then ok, one warning`, async () => {
      // Prepare
      const logger = recordingLogger();
      let requests = 0;
      const p = new MetricsPublisher({
        client: createMetricsClient({ region: 'eu-west-1', endpoint: double.endpoint, credentials: fakeCredentials(), requestTimeoutMs: 300, connectionTimeoutMs: 300 }),
        namespace: 'LBTrafficAnalyzer', instanceId: 'i-0123456789abcdef0', intervalMs: 60_000, logger, callDeadlineMs: 1_500,
        statsSource: () => ({ counters: { ...ZERO_COUNTERS, requests: (requests += 10) } }),
      });
      double.inject({ service: 'metrics', op: 'PutMetricData', kind, times: 1_000_000, delayMs: kind === 'trickle' ? 100 : 600 });
      // Act: one interval while failing, one after.
      const started = Date.now();
      await p.tick();
      const failTookMs = Date.now() - started;
      const during = p.status();
      double.faults.length = 0;
      await p.tick();
      const afterwards = p.status();
      // A slow answer still due lands now, not in the next test.
      if (kind === 'slow') await new Promise((r) => setTimeout(r, 700));
      // Assess
      const heartbeats = double.metrics.data.filter((d) => d.name === MetricName.Heartbeat);
      const requestSums = double.metrics.data.filter((d) => d.name === MetricName.Requests).map((d) => d.value);
      if (SDK_ACCEPTS.has(kind)) {
        assert.equal(during.intervalsSent, 1, 'the SDK took the answer for success');
        assert.equal(during.degradedSince, undefined);
      } else {
        assert.equal(during.intervalsSent, 0);
        assert.equal(during.queued, 1, 'the failed interval waits');
        assert.ok(during.degradedSince !== undefined, 'degraded while failing');
        assert.equal(afterwards.intervalsSent, 2, 'both intervals sent once CloudWatch answered');
        assert.equal(afterwards.degradedSince, undefined, 'ok again');
        assert.equal(logger.lines.filter((l) => l.msg?.startsWith('PutMetricData failed')).length, 1, 'one warning');
        assert.equal(logger.lines.filter((l) => l.msg === 'CloudWatch metrics reachable again').length, 1);
        // Both intervals' figures arrived (10 requests each); a stored-then-lost answer may add a copy.
        const processed = double.count('metrics:PutMetricData:processed');
        assert.ok(heartbeats.length >= 2 && heartbeats.length <= 2 + processed, `${heartbeats.length} heartbeats, ${processed} stored before failing`);
        assert.ok(requestSums.filter((v) => v === 10).length >= 2);
      }
      assert.equal(afterwards.queued, 0);
      assert.equal(afterwards.datumsDropped, 0, 'nothing dropped within the retry policy');
      assert.ok(failTookMs < 5_000, `a failing interval took ${failTookMs} ms`);
      process.stdout.write(`# metrics fault ${kind}: failing interval took ${failTookMs} ms, ${double.count(`metrics:PutMetricData:${kind}`)} attempts, ${heartbeats.length} heartbeats stored\n`);
    });
  }
});
