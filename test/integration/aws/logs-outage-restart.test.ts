import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CURSOR_FILE_NAME } from '../../../agent/ship/cursor.js';
import { AwsDouble } from '../../helpers/aws-double/aws-double.js';
import { ChildAgent } from '../../helpers/aws-double/child-agent.js';
import { LocalLogFixture } from '../../helpers/aws-double/local-log-fixture.js';
import { waitFor } from '../../helpers/aws-double/wait.js';

const MiB = 1024 * 1024;

describe('CloudWatch Logs shipping across an outage and agent restarts (separate agent processes)', () => {
  let double: AwsDouble;
  let dir: string;
  const children: ChildAgent[] = [];
  before(async () => {
    double = new AwsDouble();
    await double.start();
    dir = mkdtempSync(join(tmpdir(), 'lbta-cloud-restart-'));
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await double.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const agent = (flushMs = 1000): ChildAgent => {
    const c = new ChildAgent({ LBTA_TEST_ENDPOINT: double.endpoint, LBTA_TEST_LOG_DIR: dir, LBTA_TEST_FLUSH_MS: String(flushMs) });
    children.push(c);
    return c;
  };

  it('loses nothing through an outage with a crash (SIGKILL) and a SIGTERM restart in the middle, resending at most the unacknowledged batches', async () => {
    // Prepare: events before the outage, shipped by the first agent.
    const log = new LocalLogFixture(dir);
    const t0 = Date.now() - 10 * 60_000;
    log.append(5_000, (i) => t0 + i * 10, { file: 'errors_2026-01-01.log' });
    const first = agent();
    await waitFor(() => double.logs.ids.length >= 5_000, 20_000, 'first events shipped');

    // Act 1: the service goes away (connections dropped); more events are written; the agent crashes.
    double.outage = { services: new Set(['logs']), kind: 'drop' };
    log.append(7_000, (i) => t0 + 60_000 + i * 10, { file: 'errors_2026-01-01.log' });
    log.append(3_000, (i) => t0 + 200_000 + i * 10, { file: 'errors_2026-01-02.log' });
    await waitFor(() => double.outageHits('logs') >= 3, 10_000, 'retries during the outage');
    first.kill('SIGKILL');
    await first.exited;
    assert.ok(existsSync(join(dir, CURSOR_FILE_NAME)), 'the cursor survived the crash');

    // Act 2: restarted during the outage (503s now), then stopped with SIGTERM: the flush is bounded.
    double.outage = { services: new Set(['logs']), kind: 'server-error' };
    double.log.clear();
    const second = agent(500);
    await waitFor(() => double.outageHits('logs') >= 10, 10_000, 'second agent retrying');
    second.kill('SIGTERM');
    const code = await second.exited;
    const exit = second.last('exit');

    // Act 3: the service is back; a third agent finishes the job.
    double.outage = undefined;
    const third = agent();
    await waitFor(() => new Set(double.logs.ids).size >= 15_000, 30_000, 'every event shipped after the outage');
    third.kill('SIGTERM');
    await third.exited;

    // Assess
    assert.equal(code, 0);
    assert.equal(exit?.caughtUp, false, 'nothing could be sent during the outage');
    assert.ok((exit?.flushTookMs ?? 99_999) < 1_500, `SIGTERM flush bounded (${exit?.flushTookMs} ms)`);
    assert.deepEqual(new Set(double.logs.ids), new Set(log.written.map((e) => e.id)), 'every event arrived');
    assert.deepEqual(double.logs.violations, [], 'every batch obeyed the PutLogEvents rules (order, size, count, span)');
    const duplicates = double.logs.ids.length - new Set(double.logs.ids).size;
    assert.ok(duplicates <= 10_000, `resent at most one batch per restart (${duplicates} duplicates)`);
  });

  it('keeps memory bounded while a backlog of 200,000 events (~80 MB) waits on disk through an outage and is then shipped', async () => {
    // Prepare
    rmSync(dir, { recursive: true, force: true });
    double.logs.storeMessages = false;
    double.logs.ids.length = 0;
    double.logs.events.length = 0;
    const log = new LocalLogFixture(dir);
    const t0 = Date.now() - 60 * 60_000;
    for (let part = 0; part < 20; part++) {
      log.append(10_000, (i) => t0 + (part * 10_000 + i) * 10, { file: `errors_2026-01-0${1 + Math.floor(part / 10)}.log`, padding: 150 });
    }
    log.written.length = 0; // the ids are checked by count below; free the parent's copy
    double.outage = { services: new Set(['logs']), kind: 'server-error' };
    double.log.clear();
    // Act
    const child = agent();
    await waitFor(() => double.outageHits('logs') >= 20, 20_000, 'retrying against the outage');
    const duringOutage = child.last('mem');
    double.outage = undefined;
    await waitFor(() => new Set(double.logs.ids).size >= 200_000, 120_000, 'the backlog shipped');
    child.kill('SIGTERM');
    await child.exited;
    const exit = child.last('exit');
    // Assess
    assert.equal(new Set(double.logs.ids).size, 200_000);
    assert.deepEqual(double.logs.violations, []);
    assert.ok((duringOutage?.heapUsed ?? Infinity) < 64 * MiB, `heap during the outage ${((duringOutage?.heapUsed ?? 0) / MiB).toFixed(1)} MiB`);
    assert.ok((exit?.peakHeap ?? Infinity) < 96 * MiB, `peak heap ${((exit?.peakHeap ?? 0) / MiB).toFixed(1)} MiB`);
    assert.ok((exit?.peakRss ?? Infinity) < 256 * MiB, `peak RSS ${((exit?.peakRss ?? 0) / MiB).toFixed(1)} MiB`);
    process.stdout.write(`# backlog 200k: heap during outage ${((duringOutage?.heapUsed ?? 0) / MiB).toFixed(1)} MiB, peak heap ${((exit?.peakHeap ?? 0) / MiB).toFixed(1)} MiB, peak RSS ${((exit?.peakRss ?? 0) / MiB).toFixed(1)} MiB, batches ${double.logs.batches.length}\n`);
  });
});
