/**
 * The kernel's link notifications through the batch addon (native/link_events.c): a watch is
 * told when an interface is created, taken down, brought up and deleted, once per wake-up
 * however many messages came, nothing after close(), and it does not keep the process alive.
 * Needs root; interfaces lbrle0 / lbrle1 in the root namespace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { pcapBatchUnavailable } from '../../../agent/capture/batch-live-source.js';
import { watchLinkEvents } from '../../../agent/capture/link-events.js';
import { netnsUnavailableReason, run } from '../../helpers/netns.js';

const IF = 'lbrle0';
const PEER = 'lbrle1';
const skip = netnsUnavailableReason() ?? pcapBatchUnavailable();

/** Resolves after `ms` (the notification of a change arrives within microseconds). */
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('link notifications (rtnetlink) through the batch addon', () => {
  after(() => {
    if (!skip) run('ip', ['link', 'del', IF], { allowFail: true });
  });

  it('tells of create, down, up and delete, nothing when nothing changes, and nothing after close', { skip, timeout: 30_000 }, async () => {
    // Prepare
    let calls = 0;
    const watch = watchLinkEvents(() => { calls++; });
    assert.notEqual(typeof watch, 'string', String(watch));
    if (typeof watch === 'string') return;
    const seen: number[] = [];
    // Act: a quiet spell, then each change with a pause after it.
    await pause(300);
    seen.push(calls);
    for (const args of [['add', IF, 'type', 'veth', 'peer', 'name', PEER], ['set', IF, 'up'], ['set', IF, 'down'], ['del', IF]]) {
      const before = calls;
      run('ip', ['link', ...args]);
      for (let i = 0; i < 50 && calls === before; i++) await pause(20);
      seen.push(calls - before);
    }
    watch.close();
    watch.close();
    const closedAt = calls;
    run('ip', ['link', 'add', IF, 'type', 'veth', 'peer', 'name', PEER]);
    await pause(300);
    // Assess: no call while quiet; at least one per change; none after close.
    assert.equal(seen[0], 0, 'no notification while no interface changed');
    for (const [i, n] of seen.slice(1).entries()) assert.ok((n ?? 0) >= 1, `change ${i}: ${n ?? 0} calls`);
    assert.equal(calls, closedAt, 'nothing after close()');
  });

  it('a process with nothing but a watch exits', { skip, timeout: 30_000 }, () => {
    // Prepare
    const mod = fileURLToPath(new URL('../../../agent/capture/link-events.js', import.meta.url));
    const script = `import(${JSON.stringify(mod)}).then((m) => { const w = m.watchLinkEvents(() => {}); process.stdout.write(typeof w === 'string' ? w : 'watching'); });`;
    // Act
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    // Assess
    assert.equal(r.stdout, 'watching');
    assert.equal(r.status, 0, `exit ${String(r.status)} ${r.signal ?? ''} ${r.stderr}`);
  });
});
