import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeInstanceHealthCommand, DescribeLoadBalancersCommand as DescribeClassicCommand, ElasticLoadBalancingClient } from '@aws-sdk/client-elastic-load-balancing';
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { loadBalancerDimension, loadBalancerTypeFromArn, targetGroupDimension } from '../../../agent/enrich/arn.js';
import { LbDiscovery } from '../../../agent/enrich/lb-discovery.js';
import { parseClassicHealthTarget } from '../../../agent/enrich/lb-picture.js';
import type { ShipLogger } from '../../../agent/ship/shipping-types.js';

const ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012';
const LB = `${ARN}:loadbalancer/gwy/inspect/0123456789abcdef`;
const TG = `${ARN}:targetgroup/geneve/fedcba9876543210`;
const awsError = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

type Line = { level: string; msg: string | undefined };
function recorder(): ShipLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (_obj: object, msg?: string) => void lines.push({ level, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('LbDiscovery (aws-sdk-client-mock)', () => {
  const elbv2 = mockClient(ElasticLoadBalancingV2Client);
  const elb = mockClient(ElasticLoadBalancingClient);
  const ec2 = mockClient(EC2Client);
  beforeEach(() => {
    elbv2.reset();
    elb.reset();
    ec2.reset();
    elbv2.on(DescribeTargetGroupsCommand, { Marker: undefined }).resolves({ TargetGroups: [], NextMarker: 'p2' });
    elbv2.on(DescribeTargetGroupsCommand, { Marker: 'p2' }).resolves({
      TargetGroups: [{ TargetGroupArn: TG, TargetGroupName: 'geneve', Protocol: 'GENEVE', Port: 6081, TargetType: 'instance', HealthCheckPort: '80', HealthCheckProtocol: 'HTTP', HealthCheckPath: '/', LoadBalancerArns: [LB] }],
    });
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [{ Target: { Id: 'i-1', Port: 6081 }, TargetHealth: { State: 'healthy' } }] });
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves({ Attributes: [] });
    elbv2.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [{ LoadBalancerArn: LB, LoadBalancerName: 'inspect', Type: 'gateway' }] });
    elb.on(DescribeClassicCommand).resolves({ LoadBalancerDescriptions: [] });
    elb.on(DescribeInstanceHealthCommand).resolves({ InstanceStates: [] });
    ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [{ Description: 'ELB gwy/inspect/0123456789abcdef', PrivateIpAddress: '10.0.9.9' }] });
  });

  const make = (logger: ShipLogger = recorder()) => new LbDiscovery({
    clients: { elbv2: new ElasticLoadBalancingV2Client({ region: 'eu-west-1' }), elb: new ElasticLoadBalancingClient({ region: 'eu-west-1' }), ec2: new EC2Client({ region: 'eu-west-1' }) },
    identity: { instanceId: 'i-1', addresses: ['10.0.2.100'] }, intervalMs: 300_000, logger,
  });

  it('follows NextMarker, asks with the largest page size, and filters ENIs by the "ELB <dimension>" description', async () => {
    // Act
    const ok = await make().refresh();
    // Assess
    assert.equal(ok, true);
    const pages = elbv2.commandCalls(DescribeTargetGroupsCommand);
    assert.equal(pages.length, 2);
    assert.equal(pages[0]?.args[0].input.PageSize, 400);
    const filter = ec2.commandCalls(DescribeNetworkInterfacesCommand)[0]?.args[0].input.Filters;
    assert.deepEqual(filter, [{ Name: 'description', Values: ['ELB gwy/inspect/0123456789abcdef'] }]);
  });

  it('reports a GWLB with its gwy/ dimension, a fixed health-check port and its node address', async () => {
    // Prepare
    const d = make();
    // Act
    await d.refresh();
    // Assess
    assert.deepEqual(d.attribute(6081, undefined)?.lb, { type: 'GWLB', name: 'inspect', arn: LB, dimension: 'gwy/inspect/0123456789abcdef' });
    assert.equal(d.healthCheckFor(80)[0]?.spec.port, 80);
    assert.equal(d.isLoadBalancerAddress('10.0.9.9'), true);
  });

  it('continues without node addresses when EC2 is not allowed, keeping the previous ones, with one warning', async () => {
    // Prepare
    const logger = recorder();
    const d = make(logger);
    await d.refresh();
    ec2.on(DescribeNetworkInterfacesCommand).rejects(awsError('UnauthorizedOperation', 403));
    // Act
    const ok1 = await d.refresh();
    const ok2 = await d.refresh();
    // Assess
    assert.equal(ok1 && ok2, true);
    assert.equal(d.isLoadBalancerAddress('10.0.9.9'), true);
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 1);
  });

  it('continues without classic load balancers when the classic API is denied', async () => {
    // Prepare
    elb.on(DescribeClassicCommand).rejects(awsError('AccessDenied', 403));
    const d = make();
    // Act
    const ok = await d.refresh();
    // Assess
    assert.equal(ok, true);
    assert.equal(d.picture?.classic.length, 0);
    assert.equal(d.picture?.targetGroups.length, 1);
  });

  it('keeps the last picture when ELBv2 fails, and reports the failure in status()', async () => {
    // Prepare
    const d = make();
    await d.refresh();
    const before = d.picture;
    elbv2.on(DescribeTargetHealthCommand).rejects(awsError('Throttling', 400));
    // Act
    const ok = await d.refresh();
    // Assess
    assert.equal(ok, false);
    assert.equal(d.picture, before);
    assert.equal(d.status().lastError, 'Throttling');
  });

  it('derives CloudWatch dimensions and types from ARNs and parses CLB health targets', () => {
    // Act / Assess
    assert.equal(loadBalancerDimension(`${ARN}:loadbalancer/app/shop/50dc6c495c0c9188`), 'app/shop/50dc6c495c0c9188');
    assert.equal(loadBalancerDimension('not-an-arn'), undefined);
    assert.equal(loadBalancerTypeFromArn(`${ARN}:loadbalancer/net/edge/1`), 'NLB');
    assert.equal(targetGroupDimension(`${ARN}:targetgroup/web/73e2d6bc24d8a067`), 'targetgroup/web/73e2d6bc24d8a067');
    assert.deepEqual(parseClassicHealthTarget('HTTP:8081/ping'), { protocol: 'HTTP', port: 8081, path: '/ping' });
    assert.deepEqual(parseClassicHealthTarget('TCP:25'), { protocol: 'TCP', port: 25, path: undefined });
    assert.deepEqual(parseClassicHealthTarget('garbage'), {});
  });
});

describe('lbKnowledgeOf(discovery): the classifier\'s view', () => {
  const elbv2 = mockClient(ElasticLoadBalancingV2Client);
  it('answers lbFor/isLoadBalancerAddress/healthCheckFor, and asks for a refresh once per unknown port', async () => {
    // Prepare
    elbv2.reset();
    elbv2.on(DescribeTargetGroupsCommand).resolves({
      TargetGroups: [{ TargetGroupArn: TG, TargetGroupName: 'web', Protocol: 'HTTP', Port: 8080, TargetType: 'instance', HealthCheckPort: 'traffic-port',
        HealthCheckProtocol: 'HTTP', HealthCheckPath: '/health', HealthCheckTimeoutSeconds: 6, Matcher: { HttpCode: '200-299' }, LoadBalancerArns: [LB] }],
    });
    elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [{ Target: { Id: 'i-1', Port: 8080 }, TargetHealth: { State: 'healthy' } }] });
    elbv2.on(DescribeTargetGroupAttributesCommand).resolves({ Attributes: [] });
    elbv2.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [] });
    const { lbKnowledgeOf } = await import('../../../agent/enrich/lb-knowledge-adapter.js');
    const d = new LbDiscovery({
      clients: { elbv2: new ElasticLoadBalancingV2Client({ region: 'eu-west-1' }) },
      identity: { instanceId: 'i-1', addresses: [] }, intervalMs: 300_000, logger: recorder(), minOnDemandGapMs: 0,
    });
    await d.refresh();
    const k = lbKnowledgeOf(d);
    const before = elbv2.commandCalls(DescribeTargetGroupsCommand).length;
    // Act
    const binding = k.lbFor(8080, '10.0.0.1');
    const check = k.healthCheckFor(8080);
    const unknown1 = k.lbFor(22, '10.0.0.1');
    await d.refresh(); // let the on-demand refresh (if any) settle
    const afterFirst = elbv2.commandCalls(DescribeTargetGroupsCommand).length;
    k.lbFor(22, '10.0.0.1');
    await d.refresh();
    const afterSecond = elbv2.commandCalls(DescribeTargetGroupsCommand).length;
    // Assess
    assert.equal(binding?.lb.dimension, 'gwy/inspect/0123456789abcdef');
    assert.equal(binding?.targetGroup?.name, 'web');
    assert.deepEqual(check, { protocol: 'HTTP', path: '/health', matcher: '200-299', timeoutSec: 6, lb: binding?.lb, targetGroup: binding?.targetGroup });
    assert.equal(unknown1, undefined);
    assert.equal(d.status().onDemandRefreshes, 1, 'port 22 asked once, not again');
    assert.equal(afterFirst - before, 1, 'the explicit refresh joined the on-demand one in flight');
    assert.equal(afterSecond - afterFirst, 1, 'only the explicit refresh the second time');
    assert.equal(k.isLoadBalancerAddress('10.0.9.9'), false);
  });
});
