import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByTarget, IntervalStat } from '../../../agent/classify/target-stats.js';
import { TrafficClassifier } from '../../../agent/classify/traffic-classifier.js';
import { ConnEnd, type ConnFacts } from '../../../agent/classify/connection-state.js';
import { staticLbKnowledge } from '../../../agent/classify/lb-knowledge.js';
import { SegmentScript } from './bytes.js';

test('an interval statistic set holds count, sum, min and max until drained, then starts again', () => {
  // Prepare
  const s = new IntervalStat();
  // Act
  for (const x of [0.2, 0.05, 0.9]) s.add(x);
  const first = s.drain();
  const empty = s.drain();
  s.add(1.5);
  // Assess
  assert.deepEqual(first, { count: 3, sum: 0.2 + 0.05 + 0.9, min: 0.05, max: 0.9 });
  assert.equal(empty, undefined);
  assert.deepEqual(s.drain(), { count: 1, sum: 1.5, min: 1.5, max: 1.5 });
});

test('requests, status classes and response times are kept per load balancer and target group dimension', () => {
  // Prepare: discovery knows port 8080 belongs to an ALB target group.
  const binding = {
    lb: { type: 'ALB' as const, name: 'shop', dimension: 'app/shop/50dc6c495c0c9188' },
    targetGroup: { name: 'web', dimension: 'targetgroup/web/73e2d6bc24d8a067' },
  };
  const c = new TrafficClassifier({ sink: { emit: () => undefined }, knowledge: staticLbKnowledge({ lbAddresses: ['198.18.50.1'], bindings: { 8080: binding } }) });
  const facts: ConnFacts = { originatorIp: '198.18.50.1', originatorPort: 40000, responderIp: '198.18.50.2', responderPort: 8080 };
  const s = new SegmentScript();
  const cs = c.open(facts, s.ts);
  // Act: one 200 after 10 ms, one 503 after 30 ms.
  c.onPayload(cs, true, s.seg(true, 'GET /a HTTP/1.1\r\nHost: shop\r\n\r\n'));
  c.onPayload(cs, false, s.wait(10).seg(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  c.onPayload(cs, true, s.seg(true, 'GET /b HTTP/1.1\r\nHost: shop\r\n\r\n'));
  c.onPayload(cs, false, s.wait(30).seg(false, 'HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n'));
  c.onClose(cs, ConnEnd.FIN_BY_ORIGINATOR, true, s.ts);
  // Assess
  const [t] = [...c.targets()];
  assert.ok(t);
  assert.equal(t.loadBalancer, 'app/shop/50dc6c495c0c9188');
  assert.equal(t.targetGroup, 'targetgroup/web/73e2d6bc24d8a067');
  assert.equal(t.requests, 2);
  assert.equal(t.http5xx, 1);
  assert.equal(t.http4xx, 0);
  const rt = t.responseTime.drain();
  assert.equal(rt?.count, 2);
  assert.ok(Math.abs((rt?.min ?? 0) - 0.01) < 1e-9 && Math.abs((rt?.max ?? 0) - 0.03) < 1e-9);
  const all = c.drainResponseTimes();
  assert.equal(all?.count, 2);
  assert.equal(c.drainResponseTimes(), undefined);
});

test('alternating load balancers and target groups each keep their own counters', () => {
  // Prepare
  const t = new ByTarget();
  const a = { lb: { type: 'ALB' as const, dimension: 'app/a/1' }, targetGroup: { name: 'x', dimension: 'targetgroup/x/1' } };
  const b = { lb: { type: 'ALB' as const, dimension: 'app/a/1' }, targetGroup: { name: 'y', dimension: 'targetgroup/y/2' } };
  const none = { lb: { type: 'NLB' as const, dimension: 'net/n/3' } };
  // Act
  for (const binding of [a, a, b, a, none, b, { ...a }]) {
    const c = t.of(binding);
    if (c !== undefined) c.requests++;
  }
  // Assess
  const got = [...t.values()].map((c) => [c.loadBalancer, c.targetGroup, c.requests]);
  assert.deepEqual(got, [['app/a/1', 'targetgroup/x/1', 4], ['app/a/1', 'targetgroup/y/2', 2], ['net/n/3', undefined, 1]]);
  assert.equal(t.of(undefined), undefined);
});
