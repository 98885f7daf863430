import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { analyzeForwardedFor, normalizeForwardedAddress, plainIpv4 } from '../../../agent/classify/client-ip/forwarded-for.js';
import { SpaceSaving } from '../../../agent/classify/client-ip/space-saving.js';
import { rng } from './bytes.js';

const LB = new Set(['10.0.1.50', '10.0.1.51']);
const trusted = (ip: string): boolean => LB.has(ip);

test('X-Forwarded-For is read from the right, skipping load balancers', () => {
  // Prepare: the client forged the left-most entry.
  const xff = '1.2.3.4, 203.0.113.45, 10.0.1.50';
  // Act
  const a = analyzeForwardedFor(xff, trusted);
  // Assess
  assert.equal(a.clientIp, '203.0.113.45');
  assert.equal(a.entries, 3);
  assert.equal(a.repeatedAddress, undefined);
});

test('ip:port and [v6]:port forms are understood, and IPv6 is canonical', () => {
  assert.equal(normalizeForwardedAddress('203.0.113.45:5678'), '203.0.113.45');
  assert.equal(normalizeForwardedAddress('[2001:DB8::1]:443'), '2001:db8::1');
  assert.equal(normalizeForwardedAddress('2001:db8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(normalizeForwardedAddress('"[2001:db8::1]"'), '2001:db8::1');
  assert.equal(normalizeForwardedAddress('unknown'), undefined);
  assert.equal(normalizeForwardedAddress('1.2.3.4:abc'), undefined);
  assert.equal(normalizeForwardedAddress('[1.2.3.4]:80'), undefined);
  assert.equal(analyzeForwardedFor('[2001:db8::7]:1234, 10.0.1.51:80', trusted).clientIp, '2001:db8::7');
});

test('an unparseable entry ends the trusted chain', () => {
  const a = analyzeForwardedFor('203.0.113.9, garbage, 10.0.1.50', trusted);
  assert.equal(a.clientIp, undefined);
  assert.equal(a.invalidEntries, 1);
});

test('only load balancers in the chain: no client from XFF', () => {
  assert.equal(analyzeForwardedFor('10.0.1.50, 10.0.1.51', trusted).clientIp, undefined);
  assert.equal(analyzeForwardedFor('', trusted).entries, 0);
});

test('loop evidence: own address and repeated addresses', () => {
  const own = analyzeForwardedFor('203.0.113.45, 198.18.50.2, 10.0.1.50', trusted, '198.18.50.2');
  assert.equal(own.containsOwnAddress, true);
  assert.equal(own.clientIp, '203.0.113.45', 'our own address is skipped like a load balancer');
  const rep = analyzeForwardedFor('203.0.113.45, 198.51.100.7, 203.0.113.45', trusted);
  assert.equal(rep.repeatedAddress, '203.0.113.45');
});

test('a 10,000-entry X-Forwarded-For is counted whole with bounded parsing', () => {
  const xff = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join(', ');
  const t0 = process.hrtime.bigint();
  const a = analyzeForwardedFor(xff, trusted);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(a.entries, 10_000);
  assert.equal(a.clientIp, '10.0.39.15');
  assert.ok(ms < 50, `took ${ms} ms`);
});

test('Space-Saving keeps the true leaders exact under skew in bounded memory', () => {
  // Prepare: Zipf(1.2) traffic over 5,000 clients, sketch of 200 entries.
  const sketch = new SpaceSaving(200);
  const truth = new Map<string, number>();
  const r = rng(42);
  const weights = Array.from({ length: 5000 }, (_, i) => 1 / Math.pow(i + 1, 1.2));
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  weights.reduce((acc, w) => { cdf.push((acc + w) / total); return acc + w; }, 0);
  for (let i = 0; i < 50_000; i++) {
    const u = r();
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if ((cdf[mid] ?? 1) < u) lo = mid + 1; else hi = mid; }
    const k = lo;
    const key = `198.51.${k >> 8}.${k & 255}`;
    sketch.add(key);
    truth.set(key, (truth.get(key) ?? 0) + 1);
  }
  // Act
  const top = sketch.top(5);
  // Assess
  const trueTop = [...truth.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
  assert.equal(sketch.size, 200);
  assert.deepEqual(top.map((t) => t.key), trueTop.map((t) => t[0]));
  for (const t of top) {
    const exact = truth.get(t.key) ?? 0;
    assert.ok(t.count >= exact && t.count - t.error <= exact, `${t.key}: ${t.count}±${t.error} vs ${exact}`);
  }
});

test('Space-Saving refuses a nonsensical capacity', () => {
  assert.throws(() => new SpaceSaving(0), /positive integer, got 0/);
});

test('a plain dotted quad is read as a number exactly when net.isIP calls it IPv4', () => {
  // Prepare
  const samples = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '203.0.113.209', '01.2.3.4', '1.2.3.04', '256.1.1.1', '1.2.3', '1.2.3.4.5',
    ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4:80', '1..3.4', '', '1.2.3.', '.1.2.3', '1234.1.1.1', '10.0.0.1a', '00.1.1.1', '9.9.9.9'];
  for (const text of samples) {
    // Act
    const buf = Buffer.from(`[${text}]`, 'latin1');
    const out = new Int32Array(1);
    const ok = plainIpv4(buf, 1, buf.length - 1, out);
    // Assess
    assert.equal(ok, isIP(text) === 4, text);
    const n = out[0] ?? 0;
    if (ok) assert.equal([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'), text);
  }
});
