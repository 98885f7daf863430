import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findTraceRoot, TraceRepeatDetector, traceRoot, TtlLoopDetector, TRACE_REPEAT_WINDOW_MICROS } from '../../../agent/classify/loops/loop-detector.js';
import { compileMatcher, healthCheckerVersion, healthCheckerVersionOf } from '../../../agent/classify/health-check/health-check.js';
import { PacketView, IpVersion, IpProto } from '../../../agent/decode/packet-view.js';

test('the trace Root is taken from a full X-Amzn-Trace-Id', () => {
  assert.equal(traceRoot('Self=1-67891234-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678;CalledFrom=app'), '1-67891233-abcdef012345678912345678');
  assert.equal(traceRoot('Root=1-5759e988-bd862e3fe1be46a994272793'), '1-5759e988-bd862e3fe1be46a994272793');
  assert.equal(traceRoot('garbage'), undefined);
});

test('the same Root three times within the window is reported once', () => {
  const d = new TraceRepeatDetector();
  const t = 1_000_000_000;
  assert.equal(d.observe('r1', t), 0);
  assert.equal(d.observe('r1', t + 1000), 0);
  assert.equal(d.observe('r1', t + 2000), 3);
  assert.equal(d.observe('r1', t + 3000), 0);
});

test('repeats spread wider than the window are not a loop', () => {
  const d = new TraceRepeatDetector();
  const t = 1_000_000_000;
  for (let i = 0; i < 5; i++) assert.equal(d.observe('r2', t + i * (TRACE_REPEAT_WINDOW_MICROS + 1)), 0);
});

function view(ttl: number, ts: number, seq = 777, ipId = 4242): PacketView {
  const v = new PacketView();
  v.reset(Buffer.alloc(60), 60, 60, ts);
  v.ipVersion = IpVersion.V4; v.proto = IpProto.TCP; v.src4 = 0xc6123201; v.dst4 = 0xc6123302;
  v.ipId = ipId; v.ipTotalLen = 60; v.seq = seq; v.srcPort = 40000; v.dstPort = 80; v.ttl = ttl;
  return v;
}

test('the same packet with a decreasing TTL is a loop; equal TTLs (retransmissions) are not', () => {
  const d = new TtlLoopDetector();
  const t = 5_000_000;
  assert.equal(d.observe(view(64, t)), undefined);
  assert.equal(d.observe(view(64, t + 10)), undefined); // retransmission: same TTL
  assert.equal(d.observe(view(63, t + 20)), undefined);
  const ev = d.observe(view(62, t + 30));
  assert.deepEqual(ev?.ttls, [64, 63, 62]);
  assert.equal(d.observe(view(61, t + 40)), undefined, 'reported once');
  // A different packet does not inherit the history.
  assert.equal(d.observe(view(60, t + 50, 999)), undefined);
});

test('health checkers are recognised by User-Agent version', () => {
  assert.equal(healthCheckerVersion('ELB-HealthChecker/2.0'), 'v2');
  assert.equal(healthCheckerVersion('ELB-HealthChecker/1.0'), 'v1');
  assert.equal(healthCheckerVersion('curl/8'), undefined);
  assert.equal(healthCheckerVersion(undefined), undefined);
  for (const ua of ['ELB-HealthChecker/2.0', 'ELB-HealthChecker/1.0', 'ELB-HealthChecker/2.0 extra', 'ELB-HealthChecker/2', 'curl/8', '']) {
    const b = Buffer.from(`>${ua}<`, 'latin1');
    assert.equal(healthCheckerVersionOf(b, 1, b.length - 1), healthCheckerVersion(ua), ua);
  }
  assert.equal(healthCheckerVersionOf(Buffer.alloc(4), -1, -1), undefined, 'no User-Agent');
});

test('matchers: default 200-399, lists and ranges, garbage falls back to the default', () => {
  const d = compileMatcher(undefined);
  assert.equal(d(200), true); assert.equal(d(302), true); assert.equal(d(404), false); assert.equal(d(199), false);
  const m = compileMatcher('200,202-204, 418');
  assert.equal(m(200), true); assert.equal(m(203), true); assert.equal(m(418), true); assert.equal(m(201), false);
  const g = compileMatcher('abc');
  assert.equal(g(301), true); assert.equal(g(500), false);
});

test('the Root found in the bytes is the one the regular expression finds, for every kind of value', () => {
  // Prepare
  const values = [
    'Root=1-5759e988-bd862e3fe1be46a994272793', 'Self=1-1;Root=1-2-3;Parent=4', ' Root=abc', ';Root=x', 'Root=', 'root=abc',
    'Self=Root=1;Root=2', 'a;  Root=r1 ;Root=r2', `Root=${'z'.repeat(80)}`, 'Root=a\u00a0b', 'Root=\u00a0b;Root=c', 'x;Root=;Root=q',
    'garbage', '', ';;;', 'Root=a;b', 'Sampled=1;\tRoot=tab',
  ];
  for (const value of values) {
    const buf = Buffer.from(`pre${value}post`.slice(3, -4), 'latin1');
    // Act
    const out = new Int32Array(2);
    const found = findTraceRoot(buf, 0, buf.length, out);
    // Assess
    const expected = traceRoot(value);
    const got = found ? buf.toString('latin1', out[0], out[1]) : undefined;
    assert.equal(got, expected, JSON.stringify(value));
  }
});

test('a full Root table drops its oldest Root first, and a Root observed by bytes or by string is the same Root', () => {
  // Prepare
  const d = new TraceRepeatDetector();
  const t = 1_000_000_000;
  d.observe('first', t);
  d.observe('first', t + 1);
  // Act: 9,999 other Roots fill the table; one more pushes out the oldest ('first').
  for (let i = 0; i < 9_999; i++) assert.equal(d.observe(`r-${i}`, t + 2), 0);
  const kept = d.observeBytes(Buffer.from('xxfirstyy'), 2, 7, t + 3);
  // Assess: 'first' was still there (3rd arrival is a loop)...
  assert.equal(kept, 3);
  // ...it is still the oldest inserted: a new Root evicts it, then 'first' coming back evicts 'r-0'.
  d.observe('newcomer', t + 4);
  assert.equal(d.observe('first', t + 4), 0, 'first was dropped: counting starts again');
  assert.equal(d.observe('r-0', t + 5), 0);
  assert.equal(d.observe('r-0', t + 6), 0);
  assert.equal(d.observe('r-0', t + 7), 3);
  // A Root seen a second time within the window, after thousands of insertions and removals, is still found.
  assert.equal(d.observe('r-9998', t + 8), 0);
  assert.equal(d.observe('r-9998', t + 9), 3);
});

test('Roots that differ in one byte, in order or in length are different Roots, over 300,000 of them', () => {
  // Prepare: ALB-shaped Roots (the benchmark's form), and near misses of one of them.
  const d = new TraceRepeatDetector();
  const t = 1_000_000_000;
  const base = '1-67891233-000000000000000000000abc';
  const near = [base.slice(0, -1), `${base}0`, base.replace('abc', 'acb'), base.replace('abc', 'abd'), base.replace('1-6', '1-7')];
  // Act: each seen once or twice within the window; only a third arrival would be a loop.
  let reported = 0;
  d.observe(base, t);
  d.observe(base, t + 1);
  for (const n of near) reported += d.observe(n, t + 2) + d.observe(n, t + 3);
  for (let i = 0; i < 300_000; i++) {
    const root = `1-67891234-${i.toString(16).padStart(24, '0')}`;
    reported += d.observe(root, t + 4 + i) + d.observe(root, t + 4 + i);
  }
  // Assess: no near miss or other Root counted as the base or as each other; the base is still itself.
  assert.equal(reported, 0);
  const fresh = new TraceRepeatDetector();
  fresh.observe(base, t);
  fresh.observe(base, t + 1);
  for (const n of near) fresh.observe(n, t + 2);
  assert.equal(fresh.observe(base, t + 3), 3);
});

test('the TTL check keeps its one-second window across the wrap of its 32-bit microsecond clock', () => {
  // Prepare: copies 400 µs apart, the second one just past a multiple of 2^32 µs (every 71.6 minutes).
  const wrap = 4294967296 * 412_000;
  const d = new TtlLoopDetector();
  // Act / Assess: the loop is found across the wrap.
  assert.equal(d.observe(view(64, wrap - 300)), undefined);
  assert.equal(d.observe(view(63, wrap + 100)), undefined);
  assert.deepEqual(d.observe(view(62, wrap + 500))?.ttls, [64, 63, 62]);
  // Copies more than a second apart are not the same sighting, on either side of a wrap.
  const far = new TtlLoopDetector();
  assert.equal(far.observe(view(64, wrap - 600_000)), undefined);
  assert.equal(far.observe(view(63, wrap + 600_000)), undefined);
  assert.equal(far.observe(view(62, wrap + 1_800_000)), undefined);
});
