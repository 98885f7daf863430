import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthReconciler } from '../../../agent/enrich/health-reconcile.js';
import type { LbPicture } from '../../../agent/enrich/lb-picture.js';
import { EventFactory } from '../../../agent/events/event-factory.js';
import type { AnalyzerEvent } from '../../../agent/events/schema.js';

function picture(state: string, reason?: string): LbPicture {
  const lb = { arn: undefined, name: 'shop', type: 'ALB' as const, dimension: 'app/shop/50dc6c495c0c9188', scheme: 'internal', nodeAddresses: ['10.0.1.5'] };
  return {
    takenAt: 0,
    instanceId: 'i-0123456789abcdef0',
    classic: [],
    targetGroups: [{
      arn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/73e2d6bc24d8a067', name: 'web',
      dimension: 'targetgroup/web/73e2d6bc24d8a067', protocol: 'HTTP', targetType: 'instance', targetPorts: [8080],
      health: [{ port: 8080, state, reason, description: reason ? 'Health checks failed with these codes: [500]' : undefined }],
      healthChecks: [], proxyProtocolV2: false, preserveClientIp: undefined, loadBalancers: [lb],
    }],
  };
}

function setup() {
  const events: AnalyzerEvent[] = [];
  const r = new HealthReconciler({ emit: (e) => events.push(e) }, new EventFactory());
  return { events, r };
}

test('the LB calling the target unhealthy while every check seen passed is reported once, with the LB\'s reason', () => {
  // Prepare
  const { events, r } = setup();
  const p = picture('unhealthy', 'Target.ResponseCodeMismatch');
  // Act: three intervals, checks passing in each.
  r.check(p, { shop: { ok: 0, failed: 0 } }, 1e15);
  r.check(p, { shop: { ok: 6, failed: 0 } }, 1e15);
  r.check(p, { shop: { ok: 12, failed: 0 } }, 1e15);
  // Assess
  assert.equal(events.length, 1);
  assert.equal(events[0]?.type, 'HEALTH_CHECK_MISMATCH');
  assert.equal(events[0]?.reason, 'lb_reports_unhealthy');
  assert.equal(events[0]?.['lb_reason'], 'Target.ResponseCodeMismatch');
  assert.equal(events[0]?.['checks_ok'], 6);
  assert.match(events[0]?.message ?? '', /shop reports this target unhealthy .* all 6 health checks seen passed/);
});

test('agreement, mixed outcomes and states in transition are not reported', () => {
  const { events, r } = setup();
  r.check(picture('healthy'), { shop: { ok: 5, failed: 0 } }, 1e15);
  r.check(picture('unhealthy'), { shop: { ok: 8, failed: 2 } }, 1e15);
  r.check(picture('draining'), { shop: { ok: 8, failed: 9 } }, 1e15);
  r.check(picture('initial'), { shop: { ok: 12, failed: 9 } }, 1e15);
  assert.equal(events.length, 0);
});

test('the LB calling the target healthy while every check seen failed is reported', () => {
  const { events, r } = setup();
  r.check(picture('healthy'), { shop: { ok: 0, failed: 4 } }, 1e15);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.reason, 'lb_reports_healthy');
});

test('without a picture nothing is reported', () => {
  const { events, r } = setup();
  assert.equal(r.check(undefined, { shop: { ok: 0, failed: 4 } }, 1e15), 0);
  assert.equal(events.length, 0);
});
