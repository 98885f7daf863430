import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { healthVerdictDisagrees, httpMatcherAccepts, LbIndex, type LbPicture } from '../../../agent/enrich/lb-picture.js';

describe('LB picture helpers', () => {
  it('reads ELB matchers: single code, list, range, default 200', () => {
    // Act / Assess
    assert.equal(httpMatcherAccepts('200', 200), true);
    assert.equal(httpMatcherAccepts('200', 204), false);
    assert.equal(httpMatcherAccepts('200,302', 302), true);
    assert.equal(httpMatcherAccepts('200-299', 250), true);
    assert.equal(httpMatcherAccepts('200-299', 301), false);
    assert.equal(httpMatcherAccepts('200-299, 404', 404), true);
    assert.equal(httpMatcherAccepts(undefined, 200), true);
    assert.equal(httpMatcherAccepts('garbage', 200), false);
  });

  it('says when the analyzer and the load balancer disagree on health, and not during transitions', () => {
    // Act / Assess
    assert.equal(healthVerdictDisagrees('healthy', false), true);
    assert.equal(healthVerdictDisagrees('unhealthy', true), true);
    assert.equal(healthVerdictDisagrees('InService', true), false);
    assert.equal(healthVerdictDisagrees('draining', false), false);
    assert.equal(healthVerdictDisagrees(undefined, false), false);
  });

  it('an empty index knows nothing and says so without throwing', () => {
    // Prepare
    const idx = new LbIndex(undefined);
    const empty: LbPicture = { takenAt: 0, instanceId: 'i-1', targetGroups: [], classic: [] };
    // Act / Assess
    assert.equal(idx.attribute(80, '10.0.0.1'), undefined);
    assert.equal(idx.isLoadBalancerAddress('10.0.0.1'), false);
    assert.deepEqual(idx.healthCheckFor(80), []);
    assert.equal(new LbIndex(empty).isKnownPort(80), false);
  });
});
