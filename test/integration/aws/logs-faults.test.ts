/**
 * CloudWatch Logs answering badly: each fault mode of the AWS double against the real
 * SDK client and the shipper. While the fault lasts the shipper retries with backoff,
 * holds its cursor, reports itself degraded and logs the failure once; when the double
 * turns healthy every event arrives, in order, exactly once, or, when the double had
 * stored a batch whose answer was lost, with that one batch's ids repeated (the id rule).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { PUT_LOG_EVENTS_LIMITS } from '../../../agent/ship/cloudwatch-batch.js';
import { createLogsClient } from '../../../agent/ship/cloudwatch-clients.js';
import { CloudWatchLogsShipper } from '../../../agent/ship/cloudwatch-logs.js';
import { startShipping, type Shipping } from '../../../agent/ship/shipping.js';
import { ZERO_COUNTERS, type ShipLogger } from '../../../agent/ship/shipping-types.js';
import { AwsDouble, fakeCredentials, type Fault } from '../../helpers/aws-double/aws-double.js';
import { LocalLogFixture, type FixtureEvent } from '../../helpers/aws-double/local-log-fixture.js';
import { waitFor } from '../../helpers/aws-double/wait.js';

const STREAM = 'i-0123456789abcdef0';
const BATCH = 50;
/** Short timeouts so that slow and stalled answers fail in a fraction of a second. */
const TIMEOUT_MS = 300;
/** Whole-call deadline (a trickling answer trips no per-phase timeout). */
const DEADLINE_MS = 800;

type Line = { level: string; obj: Record<string, unknown>; msg: string | undefined };
function recordingLogger(): ShipLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A fault, the failure kind the agent must name it by, and whether the double stores the batch before failing. */
type Case = { label: string; fault: Omit<Fault, 'service' | 'times'>; failure: string };
const CASES: readonly Case[] = [
  { label: 'throttling (ThrottlingException)', fault: { kind: 'throttle' }, failure: 'throttled' },
  { label: 'a 503 with a valid AWS error', fault: { kind: 'server-error' }, failure: 'server-error:ServiceUnavailableException' },
  { label: 'a very slow answer (past the request timeout)', fault: { kind: 'slow', delayMs: 700 }, failure: 'timeout' },
  { label: 'a dropped connection', fault: { kind: 'drop' }, failure: 'connection-lost' },
  { label: 'a malformed JSON body with 200', fault: { kind: 'malformed-json' }, failure: 'unverified-answer' },
  { label: 'a truncated body', fault: { kind: 'truncated' }, failure: 'unverified-answer' },
  { label: 'an HTML error page with 502', fault: { kind: 'html', status: 502 }, failure: 'unparseable-answer' },
  { label: 'an HTML page with 200', fault: { kind: 'html', status: 200 }, failure: 'unverified-answer' },
  { label: 'the right answer under a wrong Content-Type', fault: { kind: 'wrong-content-type' }, failure: 'unverified-answer' },
  { label: 'an empty 200', fault: { kind: 'empty' }, failure: 'unverified-answer' },
  { label: 'a connection closed after the request was read', fault: { kind: 'close-after-request' }, failure: 'connection-lost' },
  { label: 'a connection closed after the headers', fault: { kind: 'close-after-headers' }, failure: 'connection-lost' },
  { label: 'headers and then silence (hung connection)', fault: { kind: 'stall-after-headers' }, failure: 'timeout' },
  { label: 'a connection reset', fault: { kind: 'reset' }, failure: 'connection-lost' },
  { label: 'an answer trickling a byte every 100 ms (never idle, never done)', fault: { kind: 'trickle', delayMs: 100 }, failure: 'timeout' },
];

/** Ids in order of first arrival, and how many arrivals were repeats. */
function arrivals(ids: readonly string[]): { firstSeen: string[]; repeated: Set<string>; extra: number } {
  const seen = new Set<string>();
  const firstSeen: string[] = [];
  const repeated = new Set<string>();
  let extra = 0;
  for (const id of ids) {
    if (seen.has(id)) {
      repeated.add(id);
      extra++;
    } else {
      seen.add(id);
      firstSeen.push(id);
    }
  }
  return { firstSeen, repeated, extra };
}

describe('CloudWatch Logs shipping when CloudWatch answers badly (real SDK client, local double)', () => {
  let double: AwsDouble;
  let dir: string;
  let shipper: CloudWatchLogsShipper | undefined;
  let shipping: Shipping | undefined;

  beforeEach(async () => {
    double = new AwsDouble();
    await double.start();
    dir = mkdtempSync(join(tmpdir(), 'lbta-cloud-faults-'));
  });
  afterEach(async () => {
    await shipper?.stop();
    await shipping?.stop();
    shipper = undefined;
    shipping = undefined;
    await double.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function makeShipper(logger: ShipLogger, errorLogIntervalMs = 60_000): CloudWatchLogsShipper {
    const client = createLogsClient({
      region: 'eu-west-1', endpoint: double.endpoint, credentials: fakeCredentials(), requestTimeoutMs: TIMEOUT_MS, connectionTimeoutMs: TIMEOUT_MS,
    });
    return new CloudWatchLogsShipper({
      client, logDir: dir, logGroup: '/lbta/test', logStream: STREAM, logger, errorLogIntervalMs, callDeadlineMs: DEADLINE_MS,
      pollIntervalMs: 20, backoff: { baseMs: 20, capMs: 100 }, limits: { ...PUT_LOG_EVENTS_LIMITS, maxEvents: BATCH },
    });
  }

  for (const c of CASES) {
    it(`${c.label} on PutLogEvents: retried, cursor held, degraded, one warning; then every event arrives in order, repeats only within the id rule`, async () => {
      // Prepare: a first batch shipped while healthy, then the fault, then 120 more events (3 batches).
      const logger = recordingLogger();
      const log = new LocalLogFixture(dir);
      const base = Date.now() - 60_000;
      const early = log.append(BATCH, (i) => base + i, { file: 'errors_2026-01-01.log' });
      shipper = makeShipper(logger);
      shipper.start();
      await waitFor(() => shipper!.status().cursor.lastId === early.at(-1)?.id, 5_000, 'first batch acknowledged');
      const heldCursor = shipper.status().cursor;
      double.inject({ service: 'logs', op: 'PutLogEvents', times: 1_000_000, ...c.fault });
      const later = log.append(120, (i) => base + 1000 + i, { file: 'errors_2026-01-01.log' });
      shipper.nudge();
      const hitKey = `logs:PutLogEvents:${c.fault.kind}`;

      // Act 1: the fault lasts for four attempts (the fourth has failed once the fifth starts).
      const failedAt = Date.now();
      await waitFor(() => double.count(hitKey) >= 5, 10_000, 'four failed attempts');
      const during = shipper.status();
      const pendingDuring = await shipper.pending();
      const failureLines = logger.lines.filter((l) => l.msg?.startsWith('PutLogEvents failed'));

      // Act 2: the double turns healthy.
      double.faults.length = 0;
      const healedAt = Date.now();
      await waitFor(() => shipper!.status().cursor.lastId === later.at(-1)?.id, 10_000, 'every event acknowledged after recovery');
      const recoveryMs = Date.now() - healedAt;

      // Assess: during the fault.
      assert.ok(during.degradedSince !== undefined, 'degraded while failing');
      assert.equal(during.state, 'retrying');
      assert.deepEqual(during.cursor, heldCursor, 'the cursor did not move on a failed or unverifiable answer');
      assert.equal(pendingDuring, 120, 'the events wait in the local log');
      assert.equal(failureLines.length, 1, `one warning, not one per attempt: ${JSON.stringify(failureLines.map((l) => l.obj))}`);
      assert.equal(failureLines[0]?.obj.failure, c.failure);
      // Assess: after recovery.
      const after = shipper.status();
      assert.equal(after.degradedSince, undefined, 'no longer degraded');
      assert.ok((after.failuresByKind[c.failure] ?? 0) >= 4, JSON.stringify(after.failuresByKind));
      const recovered = logger.lines.filter((l) => l.msg === 'CloudWatch Logs reachable again; shipping resumed');
      assert.equal(recovered.length, 1);
      assert.deepEqual(double.logs.violations, [], 'no request broke a PutLogEvents rule');
      const all: FixtureEvent[] = [...early, ...later];
      const a = arrivals(double.logs.ids);
      assert.deepEqual(a.firstSeen, all.map((e) => e.id), 'every event arrived, in order');
      const firstBatch = new Set(later.slice(0, BATCH).map((e) => e.id));
      for (const id of a.repeated) assert.ok(firstBatch.has(id), 'only the batch whose answer was lost is repeated');
      if (double.count('logs:PutLogEvents:processed') === 0) assert.equal(a.extra, 0, 'nothing stored twice when the double stored nothing');
      process.stdout.write(
        `# logs fault ${c.fault.kind}${c.fault.status ? `(${c.fault.status})` : ''}: ${double.count(hitKey)} failed attempts in ${healedAt - failedAt} ms, ` +
        `1 warning, recovered in ${recoveryMs} ms, ${all.length} events, ${a.extra} repeats (double stored ${double.count('logs:PutLogEvents:processed')} failed-answer batches)\n`,
      );
    });
  }

  it('logs a lasting failure once per interval, each line saying how many attempts were held back since the previous one', async () => {
    // Prepare: a 300 ms log interval, a reset on every PutLogEvents.
    const logger = recordingLogger();
    const log = new LocalLogFixture(dir);
    log.append(10, (i) => Date.now() - 1000 + i, { file: 'errors_2026-01-01.log' });
    double.inject({ service: 'logs', op: 'PutLogEvents', kind: 'reset', times: 1_000_000 });
    shipper = makeShipper(logger, 300);
    // Act
    shipper.start();
    await new Promise((r) => setTimeout(r, 1_100));
    const lines = logger.lines.filter((l) => l.msg?.startsWith('PutLogEvents failed'));
    const attempts = double.count('logs:PutLogEvents:reset');
    double.faults.length = 0;
    await waitFor(() => double.logs.ids.length === 10, 5_000, 'shipped after recovery');
    // Assess
    const reported = lines.length + lines.reduce((n, l) => n + Number(l.obj.repeats ?? 0), 0);
    assert.ok(lines.length >= 2 && lines.length <= 5, `${lines.length} lines in 1.1 s at one per 300 ms`);
    assert.ok(attempts > lines.length, `${attempts} attempts, ${lines.length} lines`);
    assert.ok(lines.slice(1).some((l) => Number(l.obj.repeats) > 0), 'later lines count the held-back repeats');
    assert.ok(reported <= attempts && reported >= attempts - 20, `lines + repeats (${reported}) account for the attempts (${attempts})`);
    assert.ok(lines.slice(1).every((l) => /more like it since the last line/.test(l.msg ?? '') || Number(l.obj.repeats) === 0));
    assert.ok(attempts < 60, `${attempts} attempts in 1.1 s: backoff (base 20 ms, cap 100 ms, full jitter), not a spin`);
    process.stdout.write(`# logs fault reset for 1.1 s: ${attempts} attempts, ${lines.length} warning lines, ${reported - lines.length} repeats counted in them\n`);
  });

  it('gets the log group, its retention and the stream created through bad answers to CreateLogGroup, PutRetentionPolicy and CreateLogStream', async () => {
    // Prepare
    const logger = recordingLogger();
    const log = new LocalLogFixture(dir);
    const events = log.append(30, (i) => Date.now() - 1000 + i, { file: 'errors_2026-01-01.log' });
    double.inject({ service: 'logs', op: 'CreateLogGroup', kind: 'html', status: 502, times: 2 });
    double.inject({ service: 'logs', op: 'PutRetentionPolicy', kind: 'malformed-json', times: 1 });
    double.inject({ service: 'logs', op: 'CreateLogStream', kind: 'reset', times: 1 });
    // An empty 200 passes for success (only PutLogEvents answers are checked): the stream is then found missing.
    double.inject({ service: 'logs', op: 'CreateLogStream', kind: 'empty', times: 1 });
    double.inject({ service: 'logs', op: 'PutLogEvents', kind: 'stall-after-headers', processed: false, times: 1 });
    shipper = makeShipper(logger);
    // Act
    shipper.start();
    await waitFor(() => shipper!.status().cursor.lastId === events.at(-1)?.id, 10_000, 'all acknowledged');
    // Assess
    assert.equal(double.faultsLeft(), 0, 'every fault was met');
    assert.equal(double.logs.groups.get('/lbta/test')?.retentionDays, 14);
    assert.ok(double.logs.groups.get('/lbta/test')?.streams.has(STREAM));
    assert.deepEqual(double.logs.ids, events.map((e) => e.id), 'every event once, in order');
    assert.equal(shipper.status().degradedSince, undefined);
    const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => String(l.obj.failure ?? l.obj.err));
    assert.equal(new Set(warnings).size, warnings.length, `each failure kind logged once: ${warnings.join(', ')}`);
  });

  it('a SIGTERM flush during a hung connection ends within its budget, with the cursor where it was', async () => {
    // Prepare: the first batch is acknowledged, then every answer hangs after its headers.
    const log = new LocalLogFixture(dir);
    const first = log.append(10, (i) => Date.now() - 2000 + i, { file: 'errors_2026-01-01.log' });
    shipper = makeShipper(recordingLogger());
    shipper.start();
    await waitFor(() => shipper!.status().cursor.lastId === first.at(-1)?.id, 5_000, 'first batch');
    double.inject({ service: 'logs', op: 'PutLogEvents', kind: 'stall-after-headers', processed: false, times: 1_000_000 });
    log.append(10, (i) => Date.now() - 1000 + i, { file: 'errors_2026-01-01.log' });
    // Act
    const started = Date.now();
    const result = await shipper.flush(500);
    const tookMs = Date.now() - started;
    // Assess
    assert.equal(result.caughtUp, false);
    assert.ok(tookMs < 900, `flush returned after ${tookMs} ms (budget 500 ms)`);
    assert.equal(shipper.status().cursor.lastId, first.at(-1)?.id, 'the unacknowledged batch is sent after the restart');
    assert.deepEqual(double.logs.ids, first.map((e) => e.id));
    process.stdout.write(`# logs fault stall-after-headers during a 500 ms flush: returned in ${tookMs} ms, cursor held\n`);
  });

  it('startShipping reports health "degraded" with what fails and since when, then "ok" once CloudWatch answers again', async () => {
    // Prepare
    const log = new LocalLogFixture(dir);
    const events = log.append(20, (i) => Date.now() - 1000 + i, { file: 'errors_2026-01-01.log' });
    double.inject({ service: 'logs', op: 'PutLogEvents', kind: 'html', status: 502, times: 1_000_000 });
    // Act
    shipping = startShipping({
      config: {
        logDir: dir, cloudwatch: 'on', region: 'eu-west-1', instanceId: STREAM, logGroup: '/lbta/test', logStream: undefined,
        cloudwatchRetentionDays: 14, metricsNamespace: 'LBTrafficAnalyzerTest', metricsIntervalSec: 3600, discoveryIntervalSec: 300, imdsEndpoint: undefined,
      },
      logger: recordingLogger(),
      statsSource: () => ({ counters: ZERO_COUNTERS }),
      context: { mode: 'aws', region: 'eu-west-1', instanceId: STREAM, identity: undefined },
      clientSettings: { endpoint: double.endpoint, credentials: fakeCredentials(), requestTimeoutMs: TIMEOUT_MS, connectionTimeoutMs: TIMEOUT_MS },
      pollIntervalMs: 20,
      backoff: { baseMs: 20, capMs: 100 },
    });
    await waitFor(() => double.count('logs:PutLogEvents:html') >= 3, 5_000, 'failing');
    const during = shipping.status();
    double.faults.length = 0;
    await waitFor(() => double.logs.ids.length === 20, 5_000, 'shipped');
    await waitFor(() => shipping!.status().mode === 'aws' && (shipping!.status() as { health: string }).health === 'ok', 2_000, 'ok again');
    const afterwards = shipping.status();
    // Assess
    assert.ok(during.mode === 'aws' && afterwards.mode === 'aws');
    assert.equal(during.health, 'degraded');
    assert.match(during.degraded ?? '', /^CloudWatch Logs failing since \d{4}-\d\d-\d\dT[^ ]+ \(unparseable-answer x\d+\); events wait in the local log$/);
    assert.equal(afterwards.health, 'ok');
    assert.equal(afterwards.degraded, undefined);
    assert.deepEqual(double.logs.ids, events.map((e) => e.id));
  });
});
