import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Completion } from '../../../agent/capture/completion.js';
import type { LinkState } from '../../../agent/capture/interfaces.js';
import { CaptureError, CaptureErrorCode, secUsec, type CaptureStats, type PacketHandler, type PacketSource } from '../../../agent/capture/packet-source.js';
import { GapReason, ResilientLiveSource, type CaptureGap } from '../../../agent/capture/resilient-source.js';

let clockMicros = 1_000_000;

/** A session double: counts, delivers on demand, fails on demand, releases its handle when told. */
class FakeSession implements PacketSource {
  readonly engine = 'pcap';
  readonly name = 'eth9';
  readonly linkType = 1;
  readonly #completion = new Completion();
  readonly done = this.#completion.promise;
  handler: PacketHandler | undefined;
  received = 0;
  stopped = false;
  releasable = true;
  startError: Error | undefined;
  start(onPacket: PacketHandler): void {
    if (this.startError) throw this.startError;
    this.handler = onPacket;
  }
  stats(): CaptureStats { return { received: this.received, dropped: 1, ifDropped: 0 }; }
  stop(): void { this.stopped = true; this.#completion.resolve(); }
  reap(): boolean { return this.releasable; }
  deliver(n: number, tsMicros?: number): void {
    const b = Buffer.alloc(60);
    for (let i = 0; i < n; i++) { this.received++; this.handler?.(b, 60, 60, ...secUsec(tsMicros ?? ++clockMicros), 0); }
  }
  drained = 0;
  /** What a real stalled session hands over from its ring when drained. */
  pending: number[] = [];
  drain(): void { this.drained++; for (const ts of this.pending.splice(0)) this.deliver(1, ts); }
  fail(err: Error): void { this.#completion.reject(err); }
}

type Rig = { src: ResilientLiveSource; sessions: FakeSession[]; link: { state: LinkState }; clock: { ms: number }; gaps: CaptureGap[]; starts: string[]; packets: () => number };

/** A link watch double: the test says when the kernel would have spoken. */
type FakeWatch = { onChange: (() => void) | undefined; closed: number };

function rig(opts: { maxLeakedHandles?: number; checkIntervalMs?: number; prepare?: (s: FakeSession, i: number) => void; watch?: FakeWatch | string } = {}): Rig {
  const sessions: FakeSession[] = [];
  const link = { state: { exists: true, up: true, ifindex: 7 } as LinkState };
  const clock = { ms: 1_000_000 };
  const gaps: CaptureGap[] = [];
  const starts: string[] = [];
  let packets = 0;
  const src = new ResilientLiveSource({
    interfaceName: 'eth9',
    open: () => { const s = new FakeSession(); opts.prepare?.(s, sessions.length); sessions.push(s); return s; },
    checkIntervalMs: opts.checkIntervalMs ?? 60_000, // driven by hand through check() unless a test says otherwise
    linkState: () => link.state,
    ...(opts.watch !== undefined ? { watchLinks: (onChange: () => void) => {
      const w = opts.watch as FakeWatch | string;
      if (typeof w === 'string') return w;
      w.onChange = onChange;
      return { close: () => { w.closed++; } };
    } } : {}),
    now: () => clock.ms,
    ...(opts.maxLeakedHandles !== undefined ? { maxLeakedHandles: opts.maxLeakedHandles } : {}),
  });
  src.listen({ onGapStart: (r) => starts.push(r), onGapEnd: (g) => gaps.push(g) });
  src.start(() => { packets++; });
  return { src, sessions, link, clock, gaps, starts, packets: () => packets };
}

describe('ResilientLiveSource', () => {
  it('waits while the interface is down, reopens when it is up, and reports the gap with its duration', () => {
    // Prepare
    const r = rig();
    r.sessions[0]?.deliver(5);
    // Act: down for 1.5 s (several checks), then up.
    r.link.state = { exists: true, up: false, ifindex: 7 };
    r.src.check();
    r.clock.ms += 1000;
    r.src.check();
    const during = r.src.health();
    r.clock.ms += 500;
    r.link.state = { exists: true, up: true, ifindex: 7 };
    r.src.check();
    r.sessions[1]?.deliver(3);
    // Assess
    assert.deepEqual(r.starts, [GapReason.INTERFACE_DOWN]);
    assert.equal(during.state, 'interrupted');
    assert.equal(during.reason, 'interface_down');
    assert.equal(r.sessions.length, 2, 'one fresh session, opened once the interface was up');
    assert.equal(r.sessions[0]?.stopped, true);
    assert.equal(r.gaps.length, 1);
    assert.equal(r.gaps[0]?.durationMs, 1500);
    assert.equal(r.gaps[0]?.reason, 'interface_down');
    assert.equal(r.packets(), 8, 'packets before and after reach the same handler');
    assert.deepEqual(r.src.stats(), { received: 8, dropped: 2, ifDropped: 0 }, 'kernel counters stay cumulative');
    assert.deepEqual(r.src.health(), { state: 'capturing', reason: null, sinceMs: null, gaps: 1, gapMsTotal: 1500 });
  });

  it('tells a deleted and re-created interface (new ifindex) from a down one', () => {
    // Prepare
    const r = rig();
    // Act: gone, then back under the same name with another ifindex.
    r.link.state = { exists: false, up: false, ifindex: -1 };
    r.src.check();
    r.clock.ms += 800;
    r.link.state = { exists: true, up: true, ifindex: 12 };
    r.src.check();
    // Assess
    assert.deepEqual(r.gaps.map((g) => [g.reason, g.durationMs]), [['interface_removed', 800]]);
    // And a re-creation between two checks is seen through the ifindex alone.
    r.link.state = { exists: true, up: true, ifindex: 13 };
    r.src.check();
    assert.deepEqual(r.starts, ['interface_removed', 'interface_removed']);
  });

  it('reports a removal caught half-way (down, then gone) as a removal', () => {
    // Prepare
    const r = rig();
    // Act: the session fails while the kernel has only taken the interface down; by the
    // next check it is gone, then it comes back under the same name with another ifindex.
    r.link.state = { exists: true, up: false, ifindex: 7 };
    r.src.check();
    r.clock.ms += 250;
    r.link.state = { exists: false, up: false, ifindex: -1 };
    r.src.check();
    const during = r.src.health();
    r.clock.ms += 250;
    r.link.state = { exists: true, up: true, ifindex: 12 };
    r.src.check();
    // Assess
    assert.deepEqual(r.starts, ['interface_down'], 'the start is reported as first seen');
    assert.equal(during.reason, 'interface_removed');
    assert.deepEqual(r.gaps.map((g) => [g.reason, g.durationMs]), [['interface_removed', 500]]);
    // A plain down and up keeps its reason (same ifindex).
    r.link.state = { exists: true, up: false, ifindex: 12 };
    r.src.check();
    r.clock.ms += 100;
    r.link.state = { exists: true, up: true, ifindex: 12 };
    r.src.check();
    assert.equal(r.gaps[1]?.reason, 'interface_down');
  });

  it('reopens a session whose packets reach the kernel but not the analyzer (a flap between two checks)', () => {
    // Prepare
    const r = rig();
    r.sessions[0]?.deliver(2);
    r.src.check();
    // Act: the kernel counts a few packets once; none is delivered; a second passes.
    r.clock.ms += 250;
    (r.sessions[0] as FakeSession).received += 3;
    r.src.check();
    r.clock.ms += 750;
    r.src.check();
    const before = r.sessions.length;
    r.clock.ms += 250;
    r.src.check();
    // Assess
    assert.deepEqual(r.starts, ['capture_stalled']);
    assert.equal(r.sessions.length, 2);
    assert.equal(r.sessions[0]?.drained, 1, 'the old ring is drained');
    assert.equal(r.gaps[0]?.reason, 'capture_stalled');
    assert.equal(before, 1, 'not before a second has passed');
    assert.equal(r.gaps[0]?.durationMs, 1250, 'measured from the last check that saw progress');
  });

  it('an idle interface is not a stall', () => {
    // Prepare
    const r = rig();
    // Act
    for (let i = 0; i < 10; i++) r.src.check();
    // Assess
    assert.deepEqual(r.starts, []);
    assert.equal(r.sessions.length, 1);
  });

  it('a session that fails with INTERFACE_LOST starts a gap at once', async () => {
    // Prepare
    const r = rig();
    r.link.state = { exists: false, up: false, ifindex: -1 };
    // Act
    r.sessions[0]?.fail(new CaptureError(CaptureErrorCode.INTERFACE_LOST, 'gone'));
    await new Promise((res) => setImmediate(res));
    // Assess
    assert.deepEqual(r.starts, ['interface_removed']);
    assert.equal(r.src.health().state, 'interrupted');
  });

  it('a session that fails after a down/up already over (the carrier-loss count moved) reports an interface_down gap, not a capture error', async () => {
    // Prepare
    const r = rig();
    r.link.state = { exists: true, up: true, ifindex: 7, downs: 1 };
    r.src.check();
    // Act: the socket failed at the down; by the time the failure is handled the link is up again.
    r.link.state = { exists: true, up: true, ifindex: 7, downs: 2 };
    r.sessions[0]?.fail(new CaptureError(CaptureErrorCode.INTERFACE_LOST, 'Network is down'));
    await new Promise((res) => setImmediate(res));
    r.clock.ms += 250;
    r.src.check();
    // Assess
    assert.deepEqual(r.starts, [GapReason.INTERFACE_DOWN]);
    assert.deepEqual(r.gaps.map((g) => g.reason), [GapReason.INTERFACE_DOWN]);
    assert.equal(r.sessions.length, 2);
  });

  it('a session that fails while the link is up and never lost its carrier is a capture error', async () => {
    // Prepare
    const r = rig();
    r.link.state = { exists: true, up: true, ifindex: 7, downs: 1 };
    r.src.check();
    // Act
    r.sessions[0]?.fail(new CaptureError(CaptureErrorCode.OTHER, 'read failed'));
    await new Promise((res) => setImmediate(res));
    // Assess
    assert.deepEqual(r.starts, [GapReason.CAPTURE_ERROR]);
  });

  it('while packets arrive, the check runs after the wake-up that delivered them once an interval has passed, not before', async () => {
    // Prepare: a real 250-ms interval; the test's clock decides whether a check is due.
    const r = rig({ checkIntervalMs: 250 });
    try {
      r.link.state = { exists: true, up: true, ifindex: 7, downs: 1 };
      r.src.check();
      r.link.state = { exists: true, up: false, ifindex: 7, downs: 2 };
      // Act 1: a delivery 100 ms after the last check: not due yet.
      r.clock.ms += 100;
      r.sessions[0]?.deliver(3);
      await new Promise((res) => setImmediate(res));
      // Assess 1
      assert.deepEqual(r.starts, []);
      // Act 2: a delivery 300 ms after it: the check runs behind it and sees the link down.
      r.clock.ms += 200;
      r.sessions[0]?.deliver(3);
      await new Promise((res) => setImmediate(res));
      // Assess 2
      assert.deepEqual(r.starts, [GapReason.INTERFACE_DOWN]);
      assert.equal(r.packets(), 6);
    } finally {
      r.src.stop();
    }
  });

  it('keeps trying while reopening fails, but gives up on a permission error', async () => {
    // Prepare: the first reopen fails as if the interface were not up yet, the second without permission.
    const r = rig({
      prepare: (s, i) => {
        if (i === 1) s.startError = new CaptureError(CaptureErrorCode.OTHER, 'the interface is down');
        if (i === 2) s.startError = new CaptureError(CaptureErrorCode.NO_PERMISSION, 'permission denied');
      },
    });
    r.link.state = { exists: true, up: false, ifindex: 7 };
    r.src.check();
    r.link.state = { exists: true, up: true, ifindex: 7 };
    // Act
    r.src.check();
    const afterFirst = r.src.health().state;
    r.src.check();
    const outcome = await r.src.done.then(() => 'resolved', (e: unknown) => (e as CaptureError).code);
    // Assess
    assert.equal(afterFirst, 'interrupted');
    assert.equal(outcome, CaptureErrorCode.NO_PERMISSION);
  });

  it('fails once more handles of removed interfaces are stuck than allowed, so a restart reclaims them', async () => {
    // Prepare: sessions whose handle can never be released (their interface was deleted).
    const r = rig({ maxLeakedHandles: 1, prepare: (s) => { s.releasable = false; } });
    // Act: two removals; each stuck handle is given 120 checks.
    for (let k = 0; k < 2; k++) {
      r.link.state = { exists: false, up: false, ifindex: -1 };
      r.src.check();
      r.link.state = { exists: true, up: true, ifindex: 20 + k };
      r.src.check();
    }
    for (let i = 0; i < 130; i++) r.src.check();
    const outcome = await r.src.done.then(() => 'resolved', (e: unknown) => (e as Error).message);
    // Assess
    assert.equal(r.src.leakedHandles, 2);
    assert.match(outcome, /2 capture handles of removed interfaces cannot be released/);
  });

  it('delivers what the stalled ring held once, even when the replacement saw it too', () => {
    // Prepare: the stalled session holds three packets; the replacement, bound before the
    // drain, also got the last two of them (same kernel timestamps) and a new one.
    const r = rig();
    r.sessions[0]?.deliver(1, 100);
    r.src.check();
    (r.sessions[0] as FakeSession).pending = [200, 300, 400];
    // Act
    (r.sessions[0] as FakeSession).received += 3;
    for (let i = 0; i < 3; i++) { r.clock.ms += 600; r.src.check(); }
    r.sessions[1]?.deliver(1, 300);
    r.sessions[1]?.deliver(1, 400);
    // A new session handing over only repeats is working, not stalled.
    for (let i = 0; i < 8; i++) { r.clock.ms += 250; r.src.check(); }
    r.sessions[1]?.deliver(1, 500);
    // Assess: 100, then 200/300/400 from the drain, then only 500 from the new session.
    assert.equal(r.packets(), 5);
    assert.equal(r.sessions.length, 2, 'no second replacement');
  });
  it('a down/up between two checks (the carrier-loss count moved) opens a fresh session at once, drains the old ring and reports a short gap', () => {
    // Prepare: the kernel counts one carrier loss so far.
    const r = rig();
    r.link.state = { exists: true, up: true, ifindex: 7, downs: 1 };
    r.src.check();
    r.sessions[0]?.deliver(2, 100);
    r.clock.ms += 250;
    r.src.check();
    // Act: the link went down and up again within the next 250 ms; the old ring holds one packet.
    r.link.state = { exists: true, up: true, ifindex: 7, downs: 2 };
    r.sessions[0]?.pending.push(200);
    r.clock.ms += 250;
    r.src.check();
    r.sessions[1]?.deliver(1, 300);
    r.clock.ms += 250;
    r.src.check();
    // Assess: one gap, as long as the time between the two checks, nothing lost, no further reopen.
    assert.deepEqual(r.starts, [GapReason.INTERFACE_DOWN]);
    assert.equal(r.gaps.length, 1);
    assert.equal(r.gaps[0]?.durationMs, 250);
    assert.equal(r.sessions.length, 2);
    assert.equal(r.sessions[0]?.stopped, true);
    assert.equal(r.packets(), 4, 'two before, one drained from the old ring, one from the new session');
  });
  it('a link notification brings a check 250 ms later, one for a burst: the gap starts when the link goes down and ends when it comes up', (t) => {
    // Prepare: the timer would not fire for a minute; the kernel's notifications drive the checks.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const watch: FakeWatch = { onChange: undefined, closed: 0 };
    const r = rig({ watch });
    r.sessions[0]?.deliver(2);
    // Act: a notification while nothing changed, then down (two notifications), then up 700 ms later.
    watch.onChange?.();
    t.mock.timers.tick(250);
    r.link.state = { exists: true, up: false, ifindex: 7 };
    watch.onChange?.();
    watch.onChange?.();
    t.mock.timers.tick(249);
    const early = r.src.health();
    t.mock.timers.tick(1);
    const during = r.src.health();
    r.clock.ms += 700;
    r.link.state = { exists: true, up: true, ifindex: 7 };
    watch.onChange?.();
    t.mock.timers.tick(250);
    r.sessions[1]?.deliver(1);
    r.src.stop();
    // Assess
    assert.deepEqual(r.starts, [GapReason.INTERFACE_DOWN]);
    assert.equal(early.state, 'capturing', 'not checked before 250 ms');
    assert.equal(during.state, 'interrupted');
    assert.equal(r.gaps.length, 1);
    assert.equal(r.gaps[0]?.durationMs, 700);
    assert.equal(r.sessions.length, 2);
    assert.equal(r.packets(), 3);
    assert.equal(watch.closed, 1, 'the watch ends with the capture');
    assert.equal(r.src.linkEventsUnavailable, undefined);
  });
  it('checks every second when link notifications are followed, every 250 ms when they cannot be, and says why', () => {
    // Prepare
    const watched = new ResilientLiveSource({ interfaceName: 'eth9', open: () => new FakeSession(), linkState: () => ({ exists: true, up: true, ifindex: 7 }),
      watchLinks: () => ({ close: () => {} }) });
    const refused = new ResilientLiveSource({ interfaceName: 'eth9', open: () => new FakeSession(), linkState: () => ({ exists: true, up: true, ifindex: 7 }),
      watchLinks: () => 'link notifications are not available: Operation not permitted' });
    // Act
    watched.start(() => {});
    refused.start(() => {});
    watched.stop();
    refused.stop();
    // Assess
    assert.equal(watched.checkIntervalMs, 1000);
    assert.equal(watched.linkEventsUnavailable, undefined);
    assert.equal(refused.checkIntervalMs, 250);
    assert.equal(refused.linkEventsUnavailable, 'link notifications are not available: Operation not permitted');
  });
  it('a notification after stop, or whose check would come after stop, checks nothing', (t) => {
    // Prepare
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const watch: FakeWatch = { onChange: undefined, closed: 0 };
    const r = rig({ watch });
    r.link.state = { exists: true, up: false, ifindex: 7 };
    watch.onChange?.();
    r.src.stop();
    // Act
    t.mock.timers.tick(250);
    watch.onChange?.();
    t.mock.timers.tick(250);
    // Assess
    assert.deepEqual(r.starts, []);
    assert.equal(r.sessions.length, 1);
  });
});
