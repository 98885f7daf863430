/**
 * Issue 7, faults: the agent's stdout goes away (the log collector restarted, a
 * pipe closed) or stops being read (a full pipe). Its own log lines and summaries
 * are then dropped, never fatal and never blocking: the analysis, the event log on
 * disk and an orderly stop go on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, closedPort, readLogDir, refuse } from './log-fixture.js';

/**
 * Act and Assess of the stall tests: with stdout full and unread, connections are refused and the
 * agent is stopped; it must have stayed alive, logged every refusal and exited 0 on SIGTERM within
 * 5 s. `afterStop` runs between the stop and the assertions (to look at what stdout holds).
 */
async function refusedWhileStdoutIsFull(agent: Agent, dir: string, port: number, afterStop: () => void = () => undefined): Promise<void> {
  // Act: summaries come each second and fill stdout; meanwhile connections are refused.
  await new Promise((r) => setTimeout(r, 4000));
  const refused = await refuse(port, 20, 2);
  await new Promise((r) => setTimeout(r, 2500));
  const aliveBeforeStop = agent.child.exitCode === null && agent.child.signalCode === null;
  const stopAsked = Date.now();
  const exit = await agent.stop(10_000);
  const stopMs = Date.now() - stopAsked;
  afterStop();
  // Assess
  assert.ok(aliveBeforeStop, agent.stderr.slice(0, 400));
  assert.equal(exit.signal, null, `it exited by itself, not by SIGKILL: ${agent.stderr.slice(0, 400)}`);
  assert.equal(exit.code, 0, agent.stderr.slice(0, 400));
  assert.ok(stopMs < 5000, `SIGTERM took ${stopMs} ms`);
  const { lines } = readLogDir(dir);
  assert.equal(refused, 20);
  assert.equal(lines.filter((l) => l['type'] === 'CONNECTION_FAILED').length, 20, 'every refusal reached the event log');
}

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
  test('a stdout whose reader stops reading (a full pipe: docker\'s awslogs driver while CloudWatch is away) does not freeze the agent: capture, the event log and SIGTERM go on', { timeout: 60_000 }, async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to capture on lo (run the suite as root, as CI does)');
    // Prepare: stdout is a FIFO, as docker gives a container, shrunk to one page (F_SETPIPE_SZ) so that two
    // summaries fill it, and nobody reads it.
    const dir = join(work, 'logs-stall');
    const fifo = join(work, 'stdout.fifo');
    execFileSync('mkfifo', [fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const wfd = openSync(fifo, constants.O_WRONLY);
    const port = await closedPort();
    const shrink = ['python3', '-c', 'import fcntl, os, sys; fcntl.fcntl(1, 1031, 4096); os.execvp(sys.argv[1], sys.argv[1:])'];
    const agent = new Agent(['-i', 'lo', '--filter', `tcp port ${port}`, '-l', dir, '--summary-interval', '1', '--summary-format', 'json'], { wrap: shrink, stdout: wfd });
    closeSync(wfd);
    try {
      let held = -1;
      await refusedWhileStdoutIsFull(agent, dir, port, () => {
        try {
          held = readSync(rfd, Buffer.alloc(1 << 16), 0, 1 << 16, null);
        } catch {
          held = 0;
        }
      });
      assert.ok(held > 0 && held <= 4096, `the pipe held ${held} bytes: it was full`);
    } finally {
      await agent.stop(2000);
      closeSync(rfd);
    }
  });
  test('the same with a socket on stdout (journald\'s stream under systemd, a parent\'s socketpair) whose reader stops reading', { timeout: 60_000 }, async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to capture on lo (run the suite as root, as CI does)');
    // Prepare: stdout is a Unix stream socket whose other end is never read (pauseOnConnect), its send
    // buffer shrunk to the minimum (SO_SNDBUF) so that a few summaries fill it.
    const dir = join(work, 'logs-stall-socket');
    const path = join(work, 'stdout.sock');
    const peers: Socket[] = [];
    const server = createServer({ pauseOnConnect: true }, (peer) => peers.push(peer));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const client = connect(path);
    await new Promise<void>((resolve) => client.once('connect', resolve));
    const port = await closedPort();
    const shrink = ['python3', '-c', 'import os, socket, sys; s = socket.socket(fileno=1); s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096); s.detach(); os.execvp(sys.argv[1], sys.argv[1:])'];
    const agent = new Agent(['-i', 'lo', '--filter', `tcp port ${port}`, '-l', dir, '--summary-interval', '1', '--summary-format', 'json'], { wrap: shrink, stdout: client });
    try {
      await refusedWhileStdoutIsFull(agent, dir, port);
    } finally {
      await agent.stop(2000);
      client.destroy();
      for (const peer of peers) peer.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
