import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createLogsClient } from '../../../agent/ship/cloudwatch-clients.js';
import { CloudWatchLogsShipper } from '../../../agent/ship/cloudwatch-logs.js';
import { CURSOR_FILE_NAME } from '../../../agent/ship/cursor.js';
import { SILENT_LOGGER } from '../../../agent/ship/shipping-types.js';
import { AwsDouble, fakeCredentials } from '../../helpers/aws-double/aws-double.js';
import { LocalLogFixture } from '../../helpers/aws-double/local-log-fixture.js';
import { waitFor } from '../../helpers/aws-double/wait.js';

const HOUR = 3600_000;

describe('CloudWatch Logs shipping over the wire (real SDK client, local double)', () => {
  let double: AwsDouble;
  let dir: string;
  let shipper: CloudWatchLogsShipper | undefined;

  beforeEach(async () => {
    double = new AwsDouble();
    await double.start();
    dir = mkdtempSync(join(tmpdir(), 'lbta-cloud-logs-'));
  });
  afterEach(async () => {
    await shipper?.stop();
    shipper = undefined;
    await double.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function makeShipper(requestTimeoutMs = 2_000): CloudWatchLogsShipper {
    const client = createLogsClient({ region: 'eu-west-1', endpoint: double.endpoint, credentials: fakeCredentials(), requestTimeoutMs });
    return new CloudWatchLogsShipper({
      client, logDir: dir, logGroup: '/lbta/test', logStream: 'i-0123456789abcdef0', logger: SILENT_LOGGER,
      pollIntervalMs: 20, backoff: { baseMs: 5, capMs: 50 },
    });
  }

  it('creates the group with 14-day retention and the stream, then ships every event in order within each batch and within the limits', async () => {
    // Prepare: 25,000 events over two daily files, slightly out of order, so several batches are needed.
    const log = new LocalLogFixture(dir);
    const now = Date.now();
    const base = now - 30 * 60_000;
    log.append(12_000, (i) => base + i * 10 - (i % 7 === 0 ? 500 : 0), { file: 'errors_2026-01-01.log' });
    log.append(13_000, (i) => base + 200_000 + i * 10, { file: 'errors_2026-01-02.log' });
    // Act
    shipper = makeShipper();
    shipper.start();
    await waitFor(() => double.logs.ids.length >= 25_000, 30_000, 'all events shipped');
    await waitFor(() => shipper!.status().cursor.lastId === log.written.at(-1)?.id, 5_000, 'cursor saved');
    // Assess
    assert.equal(double.logs.groups.get('/lbta/test')?.retentionDays, 14);
    assert.ok(double.logs.groups.get('/lbta/test')?.streams.has('i-0123456789abcdef0'));
    assert.deepEqual(double.logs.violations, [], 'no request broke a PutLogEvents rule');
    assert.deepEqual(new Set(double.logs.ids), new Set(log.written.map((e) => e.id)), 'every event arrived');
    assert.ok(double.logs.batches.length >= 3, `several batches (${double.logs.batches.length})`);
    for (const b of double.logs.batches) {
      assert.ok(b.count <= 10_000 && b.bytes <= 1_048_576 && b.spanMs <= 24 * HOUR);
    }
    const cursor = JSON.parse(readFileSync(join(dir, CURSOR_FILE_NAME), 'utf8')) as { file: string; offset: number; lastId: string };
    assert.equal(cursor.lastId, log.written.at(-1)?.id);
    assert.equal(cursor.offset, readFileSync(join(dir, 'errors_2026-01-02.log')).length);
  });

  it('keeps events CloudWatch would never accept (15 days old, 3 h ahead) in the local log, counted, and ships the rest', async () => {
    // Prepare
    const log = new LocalLogFixture(dir);
    const now = Date.now();
    const old = log.append(3, () => now - 15 * 24 * HOUR, { file: 'errors_2026-01-01.log' });
    const good = log.append(5, (i) => now - 60_000 + i, { file: 'errors_2026-01-01.log' });
    const future = log.append(2, () => now + 3 * HOUR, { file: 'errors_2026-01-01.log' });
    // Act
    shipper = makeShipper();
    shipper.start();
    await waitFor(() => shipper!.status().cursor.lastId === future.at(-1)?.id, 10_000, 'cursor past all lines');
    // Assess
    const s = shipper.status();
    assert.deepEqual(double.logs.ids, good.map((e) => e.id));
    assert.deepEqual(s.rejectedBeforeSend, { tooOld: 3, tooNew: 2, tooLarge: 0 });
    assert.equal(s.rejectedTotal, 5);
    const local = readFileSync(join(dir, 'errors_2026-01-01.log'), 'utf8');
    for (const e of [...old, ...future]) assert.ok(local.includes(e.id), 'rejected events stay in the local log');
  });

  it('counts the events the service itself rejects (rejectedLogEventsInfo) when its clock disagrees with ours', async () => {
    // Prepare: the service's clock runs 3 h behind, so our "now" is > 2 h in its future.
    const log = new LocalLogFixture(dir);
    const now = Date.now();
    double.logs.now = () => Date.now() - 3 * HOUR;
    log.append(4, (i) => now + i, { file: 'errors_2026-01-01.log' });
    // Act
    shipper = makeShipper();
    shipper.start();
    await waitFor(() => shipper!.status().rejectedByService.tooNew === 4, 10_000, 'service rejections counted');
    // Assess
    assert.equal(double.logs.ids.length, 0);
    assert.equal(shipper.status().rejectedTotal, 4);
  });

  it('survives throttling, 503s, dropped connections and slow answers: every event arrives, duplicates are identifiable by id', async () => {
    // Prepare
    const log = new LocalLogFixture(dir);
    const now = Date.now();
    log.append(3_000, (i) => now - 60_000 + i, { file: 'errors_2026-01-01.log', padding: 400 });
    double.inject({ service: 'logs', op: 'CreateLogGroup', kind: 'throttle', times: 2 });
    double.inject({ service: 'logs', op: 'PutLogEvents', kind: 'throttle', times: 3 });
    double.inject({ service: 'logs', op: 'PutLogEvents', kind: 'server-error', times: 2 });
    double.inject({ service: 'logs', op: 'PutLogEvents', kind: 'drop', times: 2 });
    // Slower than the client's request timeout: the batch is stored but the client gives up and resends it.
    double.inject({ service: 'logs', op: 'PutLogEvents', kind: 'slow', delayMs: 700, times: 1 });
    // Act
    shipper = makeShipper(400);
    shipper.start();
    await waitFor(() => new Set(double.logs.ids).size >= 3_000, 30_000, 'all events shipped');
    // The slow answer lands after the client gave up and resent: wait for it too.
    await waitFor(() => double.logs.batches.length >= 4, 5_000, 'the slow request to complete');
    // Assess
    assert.deepEqual(new Set(double.logs.ids), new Set(log.written.map((e) => e.id)));
    assert.equal(double.count('logs:PutLogEvents:throttle'), 3);
    assert.equal(double.count('logs:PutLogEvents:server-error'), 2);
    assert.equal(double.count('logs:PutLogEvents:drop'), 2);
    assert.ok(shipper.status().retries >= 8, `retries counted (${shipper.status().retries})`);
    const duplicates = double.logs.ids.length - new Set(double.logs.ids).size;
    assert.ok(duplicates > 0, 'the timed-out batch was resent: at-least-once, duplicates share ids');
    assert.deepEqual(double.logs.violations, []);
  });

  it('recreates the log group and stream when they are deleted while shipping', async () => {
    // Prepare
    const log = new LocalLogFixture(dir);
    const now = Date.now();
    log.append(10, (i) => now - 1000 + i, { file: 'errors_2026-01-01.log' });
    shipper = makeShipper();
    shipper.start();
    await waitFor(() => double.logs.ids.length === 10, 10_000, 'first events');
    // Act
    double.logs.deleteGroup('/lbta/test');
    const more = log.append(10, (i) => now + i, { file: 'errors_2026-01-01.log' });
    shipper.nudge();
    await waitFor(() => double.logs.ids.length === 20, 10_000, 'events after the deletion');
    // Assess
    assert.deepEqual(double.logs.ids.slice(10), more.map((e) => e.id));
    assert.equal(double.logs.calls.get('CreateLogGroup'), 2);
    assert.equal(double.logs.groups.get('/lbta/test')?.retentionDays, 14);
  });

  it('flush(budget) ships what is there and then stops, within the budget', async () => {
    // Prepare
    const log = new LocalLogFixture(dir);
    log.append(500, (i) => Date.now() - 1000 + i, { file: 'errors_2026-01-01.log' });
    shipper = makeShipper();
    // Act
    const started = Date.now();
    const result = await shipper.flush(5_000);
    // Assess
    assert.equal(result.caughtUp, true);
    assert.ok(Date.now() - started < 5_000);
    assert.equal(double.logs.ids.length, 500);
    assert.equal(shipper.status().state, 'stopped');
  });

  it('flush(budget) gives up at the deadline during an outage and leaves the cursor where it was', async () => {
    // Prepare
    const log = new LocalLogFixture(dir);
    log.append(50, (i) => Date.now() - 1000 + i, { file: 'errors_2026-01-01.log' });
    double.outage = { services: new Set(['logs']), kind: 'server-error' };
    shipper = makeShipper();
    // Act
    const started = Date.now();
    const result = await shipper.flush(600);
    const took = Date.now() - started;
    // Assess
    assert.equal(result.caughtUp, false);
    assert.ok(took < 1_500, `flush bounded (${took} ms)`);
    assert.equal(shipper.status().cursor.offset, 0);
  });
});
