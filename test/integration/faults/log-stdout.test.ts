/**
 * Issue 7, faults: the agent's stdout goes away (the log collector restarted, a
 * pipe closed). Its own log lines and summaries are then dropped, never fatal:
 * the analysis and the event log on disk go on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, closedPort, readLogDir, refuse } from './log-fixture.js';

describe('agent stdout closed under it (real binary)', () => {
  let work = '';
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'lbta-logfaults-stdout-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('a stdout whose reader is gone (EPIPE) does not stop a live capture: summaries are dropped, events still reach the log', { timeout: 60_000 }, async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to capture on lo (run the suite as root, as CI does)');
    // Prepare
    const dir = join(work, 'logs');
    const port = await closedPort();
    const agent = new Agent(['-i', 'lo', '--filter', `tcp port ${port}`, '-l', dir, '--summary-interval', '1', '--summary-format', 'json']);
    try {
      // Act: the reader of stdout goes away at the agent's first line; summaries keep coming each second.
      await new Promise<void>((resolve) => agent.child.stdout?.once('data', () => {
        agent.child.stdout?.destroy();
        resolve();
      }));
      await new Promise((r) => setTimeout(r, 2500));
      const refused = await refuse(port, 20, 2);
      await new Promise((r) => setTimeout(r, 2500));
      const aliveBeforeStop = agent.child.exitCode === null && agent.child.signalCode === null;
      const exit = await agent.stop();
      // Assess
      assert.ok(aliveBeforeStop, `no crash on EPIPE: ${agent.stderr.slice(0, 400)}`);
      assert.equal(exit.code, 0, agent.stderr.slice(0, 400));
      const { lines } = readLogDir(dir);
      assert.equal(refused, 20);
      assert.equal(lines.filter((l) => l['type'] === 'CONNECTION_FAILED').length, 20);
    } finally {
      await agent.stop(2000);
    }
  });
});
