import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { AwsDouble, fakeCredentials } from '../../helpers/aws-double/aws-double.js';

describe('the AWS double speaks the protocols the real SDK clients use', () => {
  const double = new AwsDouble();
  let endpoint = '';
  before(async () => {
    endpoint = await double.start();
  });
  after(() => double.stop());

  it('answers CloudWatch Logs JSON 1.1 calls and reports rejected events', async () => {
    // Prepare
    const client = new CloudWatchLogsClient({ region: 'eu-west-1', endpoint, credentials: fakeCredentials(), maxAttempts: 1 });
    await client.send(new CreateLogGroupCommand({ logGroupName: 'g' }));
    await client.send(new CreateLogStreamCommand({ logGroupName: 'g', logStreamName: 's' }));
    const now = Date.now();
    // Act
    const out = await client.send(new PutLogEventsCommand({
      logGroupName: 'g', logStreamName: 's',
      logEvents: [{ timestamp: now - 15 * 86400_000, message: 'old' }, { timestamp: now, message: '{"id":"A"}' }],
    }));
    const missing = await client.send(new PutLogEventsCommand({ logGroupName: 'nope', logStreamName: 's', logEvents: [{ timestamp: now, message: 'x' }] })).catch((e: Error) => e);
    // Assess
    assert.equal(out.rejectedLogEventsInfo?.tooOldLogEventEndIndex, 1);
    assert.deepEqual(double.logs.ids, ['A']);
    assert.equal((missing as Error).name, 'ResourceNotFoundException');
    client.destroy();
  });

  it('answers CloudWatch PutMetricData (JSON 1.0) and refuses more than 1000 metrics', async () => {
    // Prepare
    const client = new CloudWatchClient({ region: 'eu-west-1', endpoint, credentials: fakeCredentials(), maxAttempts: 1 });
    const datum = (i: number) => ({ MetricName: `m${i}`, Value: i, Unit: 'Count' as const, Timestamp: new Date() });
    // Act
    await client.send(new PutMetricDataCommand({ Namespace: 'Test', MetricData: [datum(1), datum(2)] }));
    const tooMany = await client.send(new PutMetricDataCommand({ Namespace: 'Test', MetricData: Array.from({ length: 1001 }, (_, i) => datum(i)) })).catch((e: Error) => e);
    const nan = await client.send(new PutMetricDataCommand({ Namespace: 'Test', MetricData: [{ MetricName: 'n', Value: Number.NaN }] })).catch((e: Error) => e);
    // Assess
    assert.equal(double.metrics.data.length, 2);
    assert.equal(double.metrics.data[0]?.name, 'm1');
    assert.ok(tooMany instanceof Error, 'more than 1000 metrics must fail');
    assert.ok(nan instanceof Error, 'NaN must fail');
    assert.equal(double.metrics.violations.length, 2, `${String(tooMany)} / ${String(nan)} / ${double.metrics.violations.join(';')}`);
    client.destroy();
  });
});
