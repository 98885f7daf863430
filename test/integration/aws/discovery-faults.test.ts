/**
 * Discovery answering badly: each fault mode of the AWS double on the ELBv2 and EC2
 * Query APIs and on IMDS, through the real SDK clients. A failed refresh keeps the last
 * picture (an empty or foreign 200 must not read as "no load balancers"), is logged
 * once per interval, and the next good answer replaces the picture.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createDiscoveryClients } from '../../../agent/enrich/aws-clients.js';
import { fetchInstanceIdentity } from '../../../agent/enrich/imds.js';
import { LbDiscovery } from '../../../agent/enrich/lb-discovery.js';
import type { ShipLogger } from '../../../agent/ship/shipping-types.js';
import { ALL_FAULT_KINDS, AwsDouble, fakeCredentials } from '../../helpers/aws-double/aws-double.js';
import { ImdsService } from '../../helpers/aws-double/imds-service.js';
import type { AccountModel } from '../../helpers/aws-double/query-services.js';

const ME = 'i-0123456789abcdef0';
const ACCOUNT = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012';
const SHOP = `${ACCOUNT}:loadbalancer/app/shop/50dc6c495c0c9188`;

function model(): AccountModel {
  return {
    targetGroups: [{
      arn: `${ACCOUNT}:targetgroup/web/73e2d6bc24d8a067`, name: 'web', protocol: 'HTTP', port: 8080, targetType: 'instance', lbArns: [SHOP],
      healthCheck: { protocol: 'HTTP', port: 'traffic-port', path: '/health', matcher: '200', timeout: 5, interval: 30 },
      targets: [{ id: ME, port: 8080, state: 'healthy' }], attributes: {},
    }],
    loadBalancers: [{ arn: SHOP, name: 'shop', type: 'application', scheme: 'internet-facing' }],
    classic: [],
    enis: [{ id: 'eni-1', description: 'ELB app/shop/50dc6c495c0c9188', addresses: ['10.0.0.10'] }],
  };
}

type Line = { level: string; obj: Record<string, unknown>; msg: string | undefined };
function recordingLogger(): ShipLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('load balancer discovery and IMDS when the APIs answer badly (real SDK clients, local double)', () => {
  const double = new AwsDouble();
  before(() => double.start());
  after(() => double.stop());
  beforeEach(() => {
    double.query.model = model();
    double.faults.length = 0;
    double.log.clear();
    double.imds = ImdsService.typical(ME);
  });

  /** The SDK's own throttling backoff (3 attempts) takes seconds: only a trickle should meet the deadline. */
  function discovery(logger: ShipLogger, refreshDeadlineMs = 8_000): LbDiscovery {
    return new LbDiscovery({
      clients: createDiscoveryClients({ region: 'eu-west-1', endpoint: double.endpoint, credentials: fakeCredentials(), requestTimeoutMs: 300, connectionTimeoutMs: 300 }),
      identity: { instanceId: ME, addresses: ['10.0.2.100'] }, intervalMs: 60_000, logger, refreshDeadlineMs,
    });
  }

  /** EC2 has its own error shape and XML lists: the answer-shaped faults are tried there too (transport faults are the same). */
  const EC2_KINDS: ReadonlySet<string> = new Set(['throttle', 'server-error', 'malformed-json', 'html', 'wrong-content-type', 'empty', 'trickle']);
  for (const kind of ALL_FAULT_KINDS) {
    for (const op of EC2_KINDS.has(kind) ? ['DescribeTargetGroups', 'DescribeNetworkInterfaces'] : ['DescribeTargetGroups']) {
      it(`${kind} on ${op}: the last picture is kept, one warning for two failed refreshes, the next good answer replaces it`, async () => {
        // Prepare
        const logger = recordingLogger();
        const d = discovery(logger, kind === 'trickle' ? 1_500 : 8_000);
        assert.equal(await d.refresh(), true);
        const before = d.picture;
        double.inject({ service: 'query', op, kind, times: 1_000_000, delayMs: kind === 'trickle' ? 100 : 600 });
        // Act
        const started = Date.now();
        const r1 = await d.refresh();
        const r2 = await d.refresh();
        const failTookMs = Date.now() - started;
        double.faults.length = 0;
        double.query.model.targetGroups[0]?.targets.push({ id: ME, port: 8443, state: 'healthy' });
        const r3 = await d.refresh();
        // Assess
        assert.deepEqual([r1, r2, r3], [false, false, true]);
        const warnings = logger.lines.filter((l) => l.level === 'warn');
        assert.equal(warnings.length, 1, JSON.stringify(warnings.map((l) => l.obj)));
        assert.equal(warnings[0]?.obj.keptPicture, true);
        assert.equal(d.status().failures, 2);
        assert.notEqual(d.picture, before, 'replaced by the good answer');
        assert.equal(d.attribute(8443, undefined)?.lb.name, 'shop');
        assert.deepEqual(d.picture?.targetGroups[0]?.loadBalancers[0]?.nodeAddresses, ['10.0.0.10']);
        assert.ok(logger.lines.some((l) => l.msg === 'load balancer discovery recovered' && l.obj.failedRefreshes === 2));
        process.stdout.write(`# discovery fault ${kind} on ${op}: 2 refreshes failed in ${failTookMs} ms (${double.count(`query:${op}:${kind}`)} attempts), picture kept, warning ${String(warnings[0]?.obj.failure)}\n`);
      });
    }
  }

  it('keeps a picture while refreshes fail, whatever the fault: the one that was there before is still answered from', async () => {
    // Prepare: every fault kind in turn on DescribeTargetGroups, one refresh each.
    const logger = recordingLogger();
    const d = discovery(logger, 1_500);
    await d.refresh();
    // Act
    for (const kind of ALL_FAULT_KINDS.filter((k) => k !== 'throttle')) {
      double.faults.length = 0;
      double.inject({ service: 'query', op: 'DescribeTargetGroups', kind, times: 1_000_000, delayMs: kind === 'trickle' ? 100 : 400 });
      assert.equal(await d.refresh(), false, kind);
      // Assess
      assert.equal(d.attribute(8080, undefined)?.lb.name, 'shop', `picture kept after ${kind}`);
      assert.equal(d.isLoadBalancerAddress('10.0.0.10'), true);
    }
    const kinds = Object.keys(d.status().failuresByKind).sort();
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, kinds.length, `one warning per failure kind (${kinds.join(', ')})`);
  });

  for (const kind of ALL_FAULT_KINDS) {
    it(`${kind} on IMDS: the identity is either the true one or none (never garbage), within the timeout`, async () => {
      // Prepare
      const results: Array<Awaited<ReturnType<typeof fetchInstanceIdentity>>> = [];
      let slowest = 0;
      // Act: the fault on the token, then on the instance id.
      for (const op of ['/latest/api/token', '/latest/meta-data/instance-id']) {
        double.faults.length = 0;
        double.inject({ service: 'imds', op, kind, times: 1_000_000, delayMs: kind === 'trickle' ? 100 : 600 });
        const started = Date.now();
        results.push(await fetchInstanceIdentity({ endpoint: double.endpoint, timeoutMs: 300 }));
        slowest = Math.max(slowest, Date.now() - started);
      }
      // Assess
      for (const r of results) {
        if (r !== undefined) assert.equal(r.instanceId, ME);
        if (r !== undefined) assert.equal(r.region, 'eu-west-1');
      }
      assert.ok(slowest < 1_500, `gave up or answered in ${slowest} ms`);
    });
  }
});
