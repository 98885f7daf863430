import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchLogsShipper, validateRetentionDays } from '../../../../agent/ship/cloudwatch-logs.js';
import { CursorStore } from '../../../../agent/ship/cursor.js';
import type { ShipLogger } from '../../../../agent/ship/shipping-types.js';
import { LocalLogFixture } from '../../../helpers/aws-double/local-log-fixture.js';
import { waitFor } from '../../../helpers/aws-double/wait.js';

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

type Line = { level: string; msg: string | undefined; obj: object };
function recorder(): ShipLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('CloudWatchLogsShipper (aws-sdk-client-mock)', () => {
  const logs = mockClient(CloudWatchLogsClient);
  let dir: string;
  let shipper: CloudWatchLogsShipper | undefined;
  beforeEach(() => {
    logs.reset();
    logs.on(CreateLogGroupCommand).resolves({});
    logs.on(PutRetentionPolicyCommand).resolves({});
    logs.on(CreateLogStreamCommand).resolves({});
    logs.on(PutLogEventsCommand).resolves({});
    dir = mkdtempSync(join(tmpdir(), 'lbta-cloud-unit-'));
  });
  afterEach(async () => {
    await shipper?.stop();
    shipper = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const make = (logger: ShipLogger = recorder(), retentionDays = 14) => new CloudWatchLogsShipper({
    client: new CloudWatchLogsClient({ region: 'eu-west-1' }), logDir: dir, logGroup: 'g', logStream: 'i-1', logger,
    pollIntervalMs: 10, backoff: { baseMs: 1, capMs: 5 }, retentionDays,
  });

  it('creates the group, sets the retention and creates the stream before the first PutLogEvents', async () => {
    // Prepare
    new LocalLogFixture(dir).append(3, (i) => Date.now() - 100 + i, { file: 'errors_2026-01-01.log' });
    // Act
    shipper = make(recorder(), 30);
    shipper.start();
    await waitFor(() => logs.commandCalls(PutLogEventsCommand).length === 1, 5000, 'put');
    // Assess
    assert.deepEqual(logs.commandCalls(CreateLogGroupCommand)[0]?.args[0].input, { logGroupName: 'g' });
    assert.deepEqual(logs.commandCalls(PutRetentionPolicyCommand)[0]?.args[0].input, { logGroupName: 'g', retentionInDays: 30 });
    assert.deepEqual(logs.commandCalls(CreateLogStreamCommand)[0]?.args[0].input, { logGroupName: 'g', logStreamName: 'i-1' });
    assert.equal(logs.commandCalls(PutLogEventsCommand)[0]?.args[0].input.logEvents?.length, 3);
  });

  it('accepts a group and a stream that already exist, and continues when the retention cannot be set', async () => {
    // Prepare
    logs.on(CreateLogGroupCommand).rejects(awsError('ResourceAlreadyExistsException', 400));
    logs.on(CreateLogStreamCommand).rejects(awsError('ResourceAlreadyExistsException', 400));
    logs.on(PutRetentionPolicyCommand).rejects(awsError('AccessDeniedException', 400));
    new LocalLogFixture(dir).append(1, () => Date.now(), { file: 'errors_2026-01-01.log' });
    const logger = recorder();
    // Act
    shipper = make(logger);
    shipper.start();
    await waitFor(() => logs.commandCalls(PutLogEventsCommand).length === 1, 5000, 'put');
    // Assess
    assert.ok(logger.lines.some((l) => l.level === 'warn' && l.msg?.includes('retention')));
  });

  it('sorts each batch by timestamp before sending', async () => {
    // Prepare
    const now = Date.now();
    new LocalLogFixture(dir).append(4, (i) => now - [3, 1, 4, 2][i]! * 1000, { file: 'errors_2026-01-01.log' });
    // Act
    shipper = make();
    shipper.start();
    await waitFor(() => logs.commandCalls(PutLogEventsCommand).length === 1, 5000, 'put');
    // Assess
    const ts = logs.commandCalls(PutLogEventsCommand)[0]!.args[0].input.logEvents!.map((e) => e.timestamp!);
    assert.deepEqual(ts, [...ts].sort((a, b) => a - b));
  });

  it('retries throttling and 5xx until acknowledged, logging the failure once, and only then moves the cursor', async () => {
    // Prepare
    const events = new LocalLogFixture(dir).append(2, () => Date.now(), { file: 'errors_2026-01-01.log' });
    logs.on(PutLogEventsCommand)
      .rejectsOnce(awsError('ThrottlingException', 400))
      .rejectsOnce(awsError('ThrottlingException', 400))
      .rejectsOnce(awsError('ServiceUnavailableException', 503))
      .resolves({});
    const logger = recorder();
    // Act
    shipper = make(logger);
    shipper.start();
    await waitFor(() => shipper!.status().cursor.lastId === events[1]?.id, 5000, 'cursor');
    // Assess
    assert.equal(logs.commandCalls(PutLogEventsCommand).length, 4);
    assert.equal(shipper.status().retries, 3);
    const warnings = logger.lines.filter((l) => l.msg?.startsWith('PutLogEvents failed'));
    assert.equal(warnings.length, 2, 'once per distinct error, not per attempt');
    const saved = await new CursorStore(join(dir, '.cloudwatch-cursor.json')).load();
    assert.equal(saved.cursor.lastId, events[1]?.id);
  });

  it('re-creates group and stream on ResourceNotFoundException, then resends the same batch', async () => {
    // Prepare
    new LocalLogFixture(dir).append(1, () => Date.now(), { file: 'errors_2026-01-01.log' });
    logs.on(PutLogEventsCommand).rejectsOnce(awsError('ResourceNotFoundException', 400)).resolves({});
    // Act
    shipper = make();
    shipper.start();
    await waitFor(() => logs.commandCalls(PutLogEventsCommand).length === 2, 5000, 'resend');
    // Assess
    assert.equal(logs.commandCalls(CreateLogGroupCommand).length, 2);
    assert.equal(logs.commandCalls(CreateLogStreamCommand).length, 2);
    assert.deepEqual(logs.commandCalls(PutLogEventsCommand)[0]?.args[0].input, logs.commandCalls(PutLogEventsCommand)[1]?.args[0].input);
  });

  it('counts rejectedLogEventsInfo (too old, expired, too new) as rejected events', async () => {
    // Prepare
    new LocalLogFixture(dir).append(10, (i) => Date.now() - 1000 + i, { file: 'errors_2026-01-01.log' });
    logs.on(PutLogEventsCommand).resolves({ rejectedLogEventsInfo: { expiredLogEventEndIndex: 1, tooOldLogEventEndIndex: 3, tooNewLogEventStartIndex: 8 } });
    // Act
    shipper = make();
    shipper.start();
    await waitFor(() => shipper!.status().batchesSent === 1, 5000, 'batch');
    // Assess
    assert.deepEqual(shipper.status().rejectedByService, { expired: 1, tooOld: 2, tooNew: 2 });
    assert.equal(shipper.status().rejectedTotal, 5);
  });

  it('on InvalidParameterException keeps the batch locally, counts it as refused, logs an error and goes on', async () => {
    // Prepare
    const fixture = new LocalLogFixture(dir);
    fixture.append(2, () => Date.now(), { file: 'errors_2026-01-01.log' });
    logs.on(PutLogEventsCommand).rejectsOnce(awsError('InvalidParameterException', 400)).resolves({});
    const logger = recorder();
    shipper = make(logger);
    shipper.start();
    await waitFor(() => shipper!.status().refusedEvents === 2, 5000, 'refused');
    // Act
    fixture.append(1, () => Date.now(), { file: 'errors_2026-01-01.log' });
    shipper.nudge();
    await waitFor(() => shipper!.status().eventsSent === 1, 5000, 'next batch');
    // Assess
    assert.equal(shipper.status().rejectedTotal, 2);
    assert.ok(logger.lines.some((l) => l.level === 'error'));
  });

  it('refuses a retention CloudWatch does not offer, naming the allowed values', () => {
    // Act / Assess
    assert.throws(() => validateRetentionDays(10), /retention 10 days is not allowed; use one of 1, 3, 5, 7, 14/);
    assert.equal(validateRetentionDays(14), 14);
  });
});

describe('CloudWatchLogsShipper when the cursor cannot be written', () => {
  const logs = mockClient(CloudWatchLogsClient);
  it('keeps shipping, counts the failure and warns once', async () => {
    // Prepare: the cursor path is a directory, so the rename fails.
    logs.reset();
    logs.on(PutLogEventsCommand).resolves({});
    const dir = mkdtempSync(join(tmpdir(), 'lbta-cloud-unit-'));
    const fixture = new LocalLogFixture(dir);
    fixture.append(1, () => Date.now(), { file: 'errors_2026-01-01.log' });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'cursor-dir'));
    const logger = recorder();
    const shipper = new CloudWatchLogsShipper({
      client: new CloudWatchLogsClient({ region: 'eu-west-1' }), logDir: dir, logGroup: 'g', logStream: 's', logger,
      cursorPath: join(dir, 'cursor-dir'), pollIntervalMs: 10, backoff: { baseMs: 1, capMs: 5 },
    });
    try {
      // Act
      shipper.start();
      await waitFor(() => shipper.status().cursorSaveFailures === 1, 5000, 'first save attempt');
      fixture.append(1, () => Date.now(), { file: 'errors_2026-01-01.log' });
      shipper.nudge();
      await waitFor(() => shipper.status().cursorSaveFailures === 2, 5000, 'second save attempt');
      // Assess
      assert.equal(shipper.status().eventsSent, 2);
      assert.equal(logger.lines.filter((l) => l.msg?.startsWith('cannot save the CloudWatch cursor')).length, 1);
    } finally {
      await shipper.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CloudWatchLogsShipper when the local log cannot be read', () => {
  const logs = mockClient(CloudWatchLogsClient);
  it('warns once, keeps trying from the cursor and ships once the file is readable', async () => {
    // Prepare: a directory where a log file should be makes every read fail (EISDIR), even as root.
    logs.reset();
    logs.on(PutLogEventsCommand).resolves({});
    const { mkdirSync, rmdirSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'lbta-cloud-unit-'));
    mkdirSync(join(dir, 'errors_2026-01-01.log'));
    const logger = recorder();
    const shipper = new CloudWatchLogsShipper({
      client: new CloudWatchLogsClient({ region: 'eu-west-1' }), logDir: dir, logGroup: 'g', logStream: 's', logger,
      pollIntervalMs: 10, backoff: { baseMs: 1, capMs: 5 },
    });
    try {
      // Act
      shipper.start();
      await waitFor(() => logger.lines.some((l) => l.msg?.startsWith('cannot read the local log')), 5000, 'read warning');
      await new Promise((r) => setTimeout(r, 50));
      rmdirSync(join(dir, 'errors_2026-01-01.log'));
      new LocalLogFixture(dir).append(2, () => Date.now(), { file: 'errors_2026-01-01.log' });
      await waitFor(() => shipper.status().eventsSent === 2, 5000, 'shipped after recovery');
      // Assess
      assert.equal(logger.lines.filter((l) => l.msg?.startsWith('cannot read the local log')).length, 1);
    } finally {
      await shipper.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
