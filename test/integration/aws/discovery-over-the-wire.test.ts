import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createDiscoveryClients } from '../../../agent/enrich/aws-clients.js';
import { resolveAwsContext, startDiscovery } from '../../../agent/enrich/enrichment.js';
import { fetchInstanceIdentity } from '../../../agent/enrich/imds.js';
import { LbDiscovery } from '../../../agent/enrich/lb-discovery.js';
import type { ShipLogger } from '../../../agent/ship/shipping-types.js';
import { AwsDouble, fakeCredentials } from '../../helpers/aws-double/aws-double.js';
import { ImdsService } from '../../helpers/aws-double/imds-service.js';
import type { AccountModel } from '../../helpers/aws-double/query-services.js';

const ME = 'i-0123456789abcdef0';
const ACCOUNT = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012';
const SHOP = `${ACCOUNT}:loadbalancer/app/shop/50dc6c495c0c9188`;
const EDGE = `${ACCOUNT}:loadbalancer/net/edge/0a1b2c3d4e5f6789`;
const OTHER = `${ACCOUNT}:loadbalancer/app/other/1111111111111111`;

function model(): AccountModel {
  const hc = { protocol: 'HTTP', port: 'traffic-port', path: '/health', matcher: '200-299', timeout: 5, interval: 30 };
  return {
    targetGroups: [
      { arn: `${ACCOUNT}:targetgroup/web/73e2d6bc24d8a067`, name: 'web', protocol: 'HTTP', port: 8080, targetType: 'instance', lbArns: [SHOP],
        healthCheck: hc, targets: [{ id: ME, port: 8080, state: 'healthy' }, { id: 'i-0fffffffffffffff0', port: 8080, state: 'healthy' }],
        attributes: { 'proxy_protocol_v2.enabled': 'false' } },
      { arn: `${ACCOUNT}:targetgroup/other/2222222222222222`, name: 'other', protocol: 'HTTP', port: 80, targetType: 'instance', lbArns: [OTHER],
        healthCheck: hc, targets: [{ id: 'i-0fffffffffffffff0', port: 80, state: 'healthy' }], attributes: {} },
      { arn: `${ACCOUNT}:targetgroup/fn/3333333333333333`, name: 'fn', protocol: 'HTTP', port: 0, targetType: 'lambda', lbArns: [SHOP],
        healthCheck: hc, targets: [], attributes: {} },
      { arn: `${ACCOUNT}:targetgroup/tcp/4444444444444444`, name: 'tcp', protocol: 'TCP', port: 9000, targetType: 'ip', lbArns: [EDGE],
        healthCheck: { protocol: 'TCP', port: '9001', timeout: 10, interval: 10 },
        targets: [{ id: '10.0.2.101', port: 9000, state: 'unhealthy', reason: 'Target.FailedHealthChecks' }],
        attributes: { 'proxy_protocol_v2.enabled': 'true', 'preserve_client_ip.enabled': 'false' } },
      { arn: `${ACCOUNT}:targetgroup/empty/5555555555555555`, name: 'empty', protocol: 'HTTP', port: 81, targetType: 'instance', lbArns: [],
        healthCheck: hc, targets: [], attributes: {} },
    ],
    loadBalancers: [
      { arn: SHOP, name: 'shop', type: 'application', scheme: 'internet-facing' },
      { arn: EDGE, name: 'edge', type: 'network', scheme: 'internal' },
      { arn: OTHER, name: 'other', type: 'application', scheme: 'internal' },
    ],
    classic: [
      { name: 'legacy', listeners: [{ protocol: 'HTTP', lbPort: 80, instanceProtocol: 'HTTP', instancePort: 8081 }], healthTarget: 'HTTP:8081/ping', instances: [{ id: ME, state: 'InService' }] },
      { name: 'unrelated', listeners: [{ protocol: 'TCP', lbPort: 25, instanceProtocol: 'TCP', instancePort: 25 }], healthTarget: 'TCP:25', instances: [{ id: 'i-0fffffffffffffff0', state: 'InService' }] },
    ],
    enis: [
      { id: 'eni-1', description: 'ELB app/shop/50dc6c495c0c9188', addresses: ['10.0.0.10'] },
      { id: 'eni-2', description: 'ELB app/shop/50dc6c495c0c9188', addresses: ['10.0.1.10'], ipv6: ['2001:db8::10'] },
      { id: 'eni-3', description: 'ELB net/edge/0a1b2c3d4e5f6789', addresses: ['10.0.0.20'] },
      { id: 'eni-4', description: 'ELB legacy', addresses: ['10.0.0.30'] },
      { id: 'eni-5', description: 'some database', addresses: ['10.0.0.99'] },
    ],
  };
}

type Line = { level: string; obj: object; msg: string | undefined };
function recordingLogger(): ShipLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('load balancer discovery over the wire (ELBv2, ELB and EC2 Query/XML, IMDSv2)', () => {
  const double = new AwsDouble();
  before(() => double.start());
  after(() => double.stop());
  beforeEach(() => {
    double.query.model = model();
    double.outage = undefined;
    double.faults.length = 0;
    double.imds = ImdsService.typical(ME);
  });

  const discovery = (logger: ShipLogger = recordingLogger()) => new LbDiscovery({
    clients: createDiscoveryClients({ region: 'eu-west-1', endpoint: double.endpoint, credentials: fakeCredentials(), requestTimeoutMs: 2000 }),
    identity: { instanceId: ME, addresses: ['10.0.2.100', '10.0.2.101', '2001:db8::100'] },
    intervalMs: 300_000, logger, minOnDemandGapMs: 60_000,
  });

  it('finds this instance\'s target groups (by instance id and by address), their load balancers, attributes, health checks, health and node addresses', async () => {
    // Prepare
    const d = discovery();
    // Act
    const ok = await d.refresh();
    // Assess
    assert.equal(ok, true);
    const p = d.picture!;
    assert.deepEqual(p.targetGroups.map((t) => t.name).sort(), ['tcp', 'web']);
    const web = p.targetGroups.find((t) => t.name === 'web')!;
    assert.equal(web.dimension, 'targetgroup/web/73e2d6bc24d8a067');
    assert.deepEqual(web.targetPorts, [8080]);
    assert.equal(web.loadBalancers[0]?.type, 'ALB');
    assert.equal(web.loadBalancers[0]?.dimension, 'app/shop/50dc6c495c0c9188');
    assert.deepEqual(web.loadBalancers[0]?.nodeAddresses, ['10.0.0.10', '10.0.1.10', '2001:db8::10']);
    assert.deepEqual(web.healthChecks[0], { protocol: 'HTTP', port: 8080, path: '/health', matcher: { httpCode: '200-299', grpcCode: undefined }, timeoutSec: 5, intervalSec: 30, healthyThreshold: 3, unhealthyThreshold: 2 });
    const tcp = p.targetGroups.find((t) => t.name === 'tcp')!;
    assert.equal(tcp.loadBalancers[0]?.type, 'NLB');
    assert.equal(tcp.proxyProtocolV2, true);
    assert.equal(tcp.preserveClientIp, false);
    assert.deepEqual(tcp.health[0], { port: 9000, state: 'unhealthy', reason: 'Target.FailedHealthChecks', description: undefined });
    assert.deepEqual(p.classic.map((c) => c.name), ['legacy']);
    assert.equal(p.classic[0]?.health.state, 'InService');
    assert.ok(double.query.calls.filter((c) => c.endsWith(':DescribeTargetGroups')).length >= 3, 'DescribeTargetGroups was paginated');
    assert.equal(double.query.calls.some((c) => c.includes('DescribeTargetHealth') && c.includes('fn')), false);
  });

  it('answers the classifier\'s lookups: attribution by port and peer, LB node addresses, health checks by port', async () => {
    // Prepare
    const d = discovery();
    await d.refresh();
    // Act
    const alb = d.attribute(8080, '10.0.0.10');
    const nlb = d.attribute(9000, '198.51.100.7');
    const clb = d.attribute(8081, '10.0.0.30');
    const none = d.attribute(5432, '10.0.0.10');
    // Assess
    assert.deepEqual(alb?.lb, { type: 'ALB', name: 'shop', arn: SHOP, dimension: 'app/shop/50dc6c495c0c9188' });
    assert.equal(alb?.targetGroup?.dimension, 'targetgroup/web/73e2d6bc24d8a067');
    assert.equal(nlb?.lb.type, 'NLB');
    assert.equal(clb?.lb.type, 'CLB');
    assert.equal(clb?.targetGroup, undefined);
    assert.equal(none, undefined);
    assert.equal(d.isLoadBalancerAddress('10.0.1.10'), true);
    assert.equal(d.isLoadBalancerAddress('10.0.0.30'), true);
    assert.equal(d.isLoadBalancerAddress('10.0.0.99'), false);
    assert.equal(d.healthCheckFor(9001)[0]?.spec.protocol, 'TCP');
    assert.equal(d.healthCheckFor(9001)[0]?.health?.state, 'unhealthy');
    assert.equal(d.healthCheckFor(8081)[0]?.spec.path, '/ping');
    assert.equal(d.healthCheckFor(8080)[0]?.spec.matcher?.httpCode, '200-299');
  });

  it('rides out throttling (SDK retries), keeps the last picture through an outage and logs the failure once per interval', async () => {
    // Prepare
    const logger = recordingLogger();
    const d = discovery(logger);
    double.inject({ service: 'query', op: 'DescribeTargetHealth', kind: 'throttle', times: 1 });
    double.inject({ service: 'query', op: 'DescribeNetworkInterfaces', kind: 'throttle', times: 1 });
    assert.equal(await d.refresh(), true);
    const before = d.picture;
    // Act
    double.outage = { services: new Set(['query']), kind: 'server-error' };
    const r1 = await d.refresh();
    const r2 = await d.refresh();
    // Assess
    assert.equal(double.count('query:DescribeTargetHealth:throttle'), 1);
    assert.equal(r1, false);
    assert.equal(r2, false);
    assert.equal(d.picture, before, 'the last known picture is kept');
    assert.equal(d.attribute(8080, undefined)?.lb.name, 'shop');
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 1, 'one warning for repeated failures');
    assert.equal(d.status().failures, 2);
  });

  it('refreshes on demand when traffic arrives on an unknown port, at most once per gap', async () => {
    // Prepare
    const d = discovery();
    await d.refresh();
    const calls = double.query.calls.length;
    double.query.model.targetGroups[0]!.targets.push({ id: ME, port: 8443, state: 'initial' });
    // Act
    d.noteTrafficOnPort(8080); // known: nothing happens
    d.noteTrafficOnPort(8443); // unknown: one refresh
    d.noteTrafficOnPort(8444); // within the gap: ignored
    const deadline = Date.now() + 5000;
    while (d.attribute(8443, undefined) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Assess
    assert.ok(double.query.calls.length > calls);
    assert.equal(d.status().onDemandRefreshes, 1);
    assert.equal(d.attribute(8443, undefined)?.lb.name, 'shop');
  });

  it('reads the identity with IMDSv2 (token first) and gives up quickly when IMDS is not there', async () => {
    // Prepare / Act
    const id = await fetchInstanceIdentity({ endpoint: double.endpoint, timeoutMs: 1000 });
    double.inject({ service: 'imds', kind: 'slow', delayMs: 3000, times: 1 });
    const started = Date.now();
    const slow = await fetchInstanceIdentity({ endpoint: double.endpoint, timeoutMs: 200 });
    const tookSlow = Date.now() - started;
    const closed = await fetchInstanceIdentity({ endpoint: 'http://127.0.0.1:9', timeoutMs: 200 });
    // Assess
    assert.deepEqual(id, {
      instanceId: ME, region: 'eu-west-1', availabilityZone: 'eu-west-1a', localIpv4: '10.0.2.100',
      addresses: ['10.0.2.100', '10.0.2.101', '2001:db8::100'],
    });
    assert.equal(double.imds.refusedWithoutToken, 0, 'every metadata GET carried the token');
    assert.equal(slow, undefined);
    assert.ok(tookSlow < 1500, `gave up in ${tookSlow} ms`);
    assert.equal(closed, undefined);
  });

  it('decides aws or local-only mode once, with one clear log line, flags winning over IMDS', async () => {
    // Prepare
    const logger = recordingLogger();
    const base = { imdsEndpoint: double.endpoint, region: undefined, instanceId: undefined };
    // Act
    const aws = await resolveAwsContext({ config: { ...base, cloudwatch: 'auto' }, logger, probeCredentials: async () => true });
    const flags = await resolveAwsContext({ config: { ...base, cloudwatch: 'auto', region: 'us-east-2', instanceId: 'i-0aaaaaaaaaaaaaaa0' }, logger, probeCredentials: async () => true });
    const noCreds = await resolveAwsContext({ config: { ...base, cloudwatch: 'auto' }, logger, probeCredentials: async () => false });
    const off = await resolveAwsContext({ config: { ...base, cloudwatch: 'off' }, logger });
    const offEc2 = await resolveAwsContext({ config: { ...base, imdsEndpoint: 'http://127.0.0.1:9', cloudwatch: 'auto' }, logger, imdsTimeoutMs: 200 });
    const onOffEc2 = await resolveAwsContext({ config: { ...base, imdsEndpoint: 'http://127.0.0.1:9', cloudwatch: 'on' }, logger, imdsTimeoutMs: 200 }).catch((e: Error) => e);
    // Assess
    assert.equal(aws.mode, 'aws');
    assert.equal(aws.instanceId, ME);
    assert.equal(aws.region, 'eu-west-1');
    assert.equal(flags.region, 'us-east-2');
    assert.equal(flags.instanceId, 'i-0aaaaaaaaaaaaaaa0');
    assert.equal(noCreds.mode, 'local');
    assert.equal(off.mode, 'local');
    assert.equal(offEc2.mode, 'local');
    assert.ok(onOffEc2 instanceof Error && /--cloudwatch on needs a region/.test(onOffEc2.message));
    const localLines = logger.lines.filter((l) => l.msg?.startsWith('CloudWatch disabled, local-only mode'));
    assert.equal(localLines.length, 3, 'one line per local-only decision');
    assert.ok(localLines.some((l) => l.msg?.includes('no AWS credentials')));
  });

  it('startDiscovery() runs in aws mode and returns undefined in local-only mode', async () => {
    // Prepare
    const settings = { endpoint: double.endpoint, credentials: fakeCredentials() };
    const aws = { mode: 'aws' as const, region: 'eu-west-1', instanceId: ME, identity: undefined };
    const local = { mode: 'local' as const, reason: 'test', region: undefined, instanceId: undefined, identity: undefined };
    // Act
    const d = startDiscovery({ config: { discoveryIntervalSec: 300 }, logger: recordingLogger(), context: aws, clientSettings: settings });
    const none = startDiscovery({ config: { discoveryIntervalSec: 300 }, logger: recordingLogger(), context: local, clientSettings: settings });
    try {
      const deadline = Date.now() + 5000;
      while (d?.picture === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Assess
      assert.equal(none, undefined);
      assert.equal(d?.attribute(8080, undefined)?.lb.name, 'shop');
    } finally {
      d?.stop();
    }
  });
});
