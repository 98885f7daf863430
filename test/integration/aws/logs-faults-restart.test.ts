/**
 * Every fault mode of the double in turn, against a separate agent process that is
 * killed (SIGKILL) in the middle and restarted: the process never dies of a bad answer,
 * and once the faults are over every event has arrived in order, repeated only where a
 * batch's answer was lost or a crash came before the cursor was saved (the id rule).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ALL_FAULT_KINDS, AwsDouble } from '../../helpers/aws-double/aws-double.js';
import { ChildAgent } from '../../helpers/aws-double/child-agent.js';
import { LocalLogFixture } from '../../helpers/aws-double/local-log-fixture.js';
import { waitFor } from '../../helpers/aws-double/wait.js';

describe('CloudWatch Logs shipping through every kind of bad answer and a crash (separate agent processes)', () => {
  let double: AwsDouble;
  let dir: string;
  const children: ChildAgent[] = [];
  before(async () => {
    double = new AwsDouble();
    await double.start();
    dir = mkdtempSync(join(tmpdir(), 'lbta-cloud-faults-restart-'));
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await double.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const agent = (): ChildAgent => {
    const c = new ChildAgent({ LBTA_TEST_ENDPOINT: double.endpoint, LBTA_TEST_LOG_DIR: dir, LBTA_TEST_FLUSH_MS: '1000', LBTA_TEST_REQUEST_TIMEOUT_MS: '300' });
    children.push(c);
    return c;
  };
  const faultHits = (): number => {
    let n = 0;
    for (const [k, v] of double.log) if (k.startsWith('logs:PutLogEvents:') && !k.endsWith(':ok') && !k.endsWith(':processed')) n += v;
    return n;
  };

  it('never crashes on a bad answer, and after a SIGKILL and a restart every event arrives in order, repeats only within the id rule', async () => {
    // Prepare: a first agent ships 1,000 events; then every fault kind, twice each, in turn.
    const log = new LocalLogFixture(dir);
    const t0 = Date.now() - 5 * 60_000;
    log.append(1_000, (i) => t0 + i, { file: 'errors_2026-01-01.log' });
    const first = agent();
    await waitFor(() => double.logs.ids.length >= 1_000, 15_000, 'first events shipped');
    for (const kind of ALL_FAULT_KINDS) double.inject({ service: 'logs', op: 'PutLogEvents', kind, times: 2, delayMs: 600 });
    const faultsInjected = double.faultsLeft();

    // Act 1: more events meet the faults; the agent is killed half-way through them.
    for (let k = 0; k < 10; k++) {
      log.append(100, (i) => t0 + 10_000 + k * 1_000 + i, { file: 'errors_2026-01-01.log' });
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => faultHits() >= faultsInjected / 2, 15_000, 'half the faults met');
    const firstAliveAtKill = first.proc.exitCode === null && first.proc.signalCode === null;
    first.kill('SIGKILL');
    await first.exited;

    // Act 2: a restarted agent meets the rest of the faults and catches up.
    const second = agent();
    log.append(1_000, (i) => t0 + 30_000 + i, { file: 'errors_2026-01-02.log' });
    await waitFor(() => double.faultsLeft() === 0, 20_000, 'every fault met');
    await waitFor(() => new Set(double.logs.ids).size >= log.written.length, 20_000, 'every event shipped');
    // A slow answer still due lands before counting.
    await new Promise((r) => setTimeout(r, 700));
    const secondAliveAtEnd = second.proc.exitCode === null && second.proc.signalCode === null;
    second.kill('SIGTERM');
    const code = await second.exited;

    // Assess
    assert.ok(firstAliveAtKill, `the first agent was alive when killed (stderr: ${first.stderr})`);
    assert.ok(secondAliveAtEnd, `the second agent never died of a bad answer (stderr: ${second.stderr})`);
    assert.equal(code, 0);
    assert.equal(second.last('exit')?.caughtUp, true);
    assert.doesNotMatch(first.stderr + second.stderr, /Unhandled|TypeError|RangeError/);
    assert.deepEqual(double.logs.violations, [], 'every batch obeyed the PutLogEvents rules');
    const seen = new Set<string>();
    const firstSeen: string[] = [];
    for (const id of double.logs.ids) if (!seen.has(id)) (seen.add(id), firstSeen.push(id));
    assert.deepEqual(firstSeen, log.written.map((e) => e.id), 'every event arrived, in order');
    const repeats = double.logs.ids.length - firstSeen.length;
    const storedButLost = double.count('logs:PutLogEvents:processed');
    // Each repeat comes from a batch stored under a fault, or from the one batch unacknowledged at the crash.
    const bound = (storedButLost + 1) * 2_000;
    assert.ok(repeats <= bound, `${repeats} repeats (batches stored then answered badly: ${storedButLost})`);
    process.stdout.write(
      `# logs faults x${faultsInjected} (all ${ALL_FAULT_KINDS.length} kinds twice) with a SIGKILL and a restart: ${log.written.length} events all arrived in order, ` +
      `${repeats} repeats from ${storedButLost} batches stored before a bad answer; agents never died on their own\n`,
    );
  });
});
