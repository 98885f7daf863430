/**
 * ELBv2 (2015-12-01), classic ELB (2012-06-01) and EC2 (2016-11-15): Query requests,
 * XML answers, driven by a small model of an account that the test writes.
 */
import type { ServiceAnswer } from './aws-double.js';
import { parseQuery, queryList, toXml, type XmlValue } from './xml.js';

export type ModelTargetGroup = {
  arn: string;
  name: string;
  protocol: string;
  port: number;
  targetType: 'instance' | 'ip' | 'lambda' | 'alb';
  lbArns: string[];
  healthCheck: { protocol: string; port: string; path?: string; matcher?: string; timeout: number; interval: number };
  targets: Array<{ id: string; port: number; state: string; reason?: string }>;
  attributes: Record<string, string>;
};

export type ModelLoadBalancer = { arn: string; name: string; type: 'application' | 'network' | 'gateway'; scheme: string };

export type ModelClassic = {
  name: string;
  listeners: Array<{ protocol: string; lbPort: number; instanceProtocol: string; instancePort: number }>;
  healthTarget: string;
  instances: Array<{ id: string; state: string }>;
};

export type ModelEni = { id: string; description: string; addresses: string[]; ipv6?: string[] };

export type AccountModel = {
  targetGroups: ModelTargetGroup[];
  loadBalancers: ModelLoadBalancer[];
  classic: ModelClassic[];
  enis: ModelEni[];
};

export const QUERY_VERSIONS = { elbv2: '2015-12-01', elb: '2012-06-01', ec2: '2016-11-15' } as const;

export class QueryServices {
  model: AccountModel = { targetGroups: [], loadBalancers: [], classic: [], enis: [] };
  readonly calls: string[] = [];
  /** Page size the double uses when the client asks for more (exercises pagination). */
  pageSize = 2;

  handle(body: string): ServiceAnswer {
    const q = parseQuery(body);
    const action = q.get('Action') ?? '';
    const version = q.get('Version') ?? '';
    this.calls.push(`${version}:${action}`);
    if (version === QUERY_VERSIONS.elbv2) return this.#elbv2(action, q);
    if (version === QUERY_VERSIONS.elb) return this.#elb(action, q);
    if (version === QUERY_VERSIONS.ec2) return this.#ec2(action, q);
    return queryError('InvalidAction', `unknown version ${version}`);
  }

  #elbv2(action: string, q: Map<string, string>): ServiceAnswer {
    const m = this.model;
    switch (action) {
      case 'DescribeTargetGroups': {
        const size = Math.min(Number(q.get('PageSize') ?? 400), this.pageSize);
        const start = Number(q.get('Marker') ?? 0);
        const page = m.targetGroups.slice(start, start + size);
        const next = start + size < m.targetGroups.length ? String(start + size) : undefined;
        return answer('elbv2', action, {
          TargetGroups: page.map((t) => ({
            TargetGroupArn: t.arn, TargetGroupName: t.name, Protocol: t.protocol, Port: t.port, TargetType: t.targetType,
            HealthCheckProtocol: t.healthCheck.protocol, HealthCheckPort: t.healthCheck.port, HealthCheckEnabled: true,
            HealthCheckIntervalSeconds: t.healthCheck.interval, HealthCheckTimeoutSeconds: t.healthCheck.timeout,
            HealthyThresholdCount: 3, UnhealthyThresholdCount: 2, HealthCheckPath: t.healthCheck.path,
            Matcher: t.healthCheck.matcher ? { HttpCode: t.healthCheck.matcher } : undefined,
            LoadBalancerArns: t.lbArns,
          })),
          NextMarker: next,
        });
      }
      case 'DescribeTargetHealth': {
        const tg = m.targetGroups.find((t) => t.arn === q.get('TargetGroupArn'));
        if (!tg) return queryError('TargetGroupNotFound', 'One or more target groups not found');
        return answer('elbv2', action, {
          TargetHealthDescriptions: tg.targets.map((t) => ({
            Target: { Id: t.id, Port: t.port }, HealthCheckPort: String(t.port),
            TargetHealth: { State: t.state, Reason: t.reason },
          })),
        });
      }
      case 'DescribeTargetGroupAttributes': {
        const tg = m.targetGroups.find((t) => t.arn === q.get('TargetGroupArn'));
        if (!tg) return queryError('TargetGroupNotFound', 'One or more target groups not found');
        return answer('elbv2', action, { Attributes: Object.entries(tg.attributes).map(([Key, Value]) => ({ Key, Value })) });
      }
      case 'DescribeLoadBalancers': {
        const arns = queryList(q, 'LoadBalancerArns');
        if (arns.length > 20) return queryError('ValidationError', 'at most 20 load balancer ARNs');
        const lbs = m.loadBalancers.filter((l) => arns.length === 0 || arns.includes(l.arn));
        return answer('elbv2', action, {
          LoadBalancers: lbs.map((l) => ({ LoadBalancerArn: l.arn, LoadBalancerName: l.name, Type: l.type, Scheme: l.scheme })),
        });
      }
      default:
        return queryError('InvalidAction', action);
    }
  }

  #elb(action: string, q: Map<string, string>): ServiceAnswer {
    const m = this.model;
    if (action === 'DescribeLoadBalancers') {
      return answer('elb', action, {
        LoadBalancerDescriptions: m.classic.map((c) => ({
          LoadBalancerName: c.name, Scheme: 'internet-facing',
          ListenerDescriptions: c.listeners.map((l) => ({
            Listener: { Protocol: l.protocol, LoadBalancerPort: l.lbPort, InstanceProtocol: l.instanceProtocol, InstancePort: l.instancePort },
          })),
          HealthCheck: { Target: c.healthTarget, Interval: 30, Timeout: 5, UnhealthyThreshold: 2, HealthyThreshold: 10 },
          Instances: c.instances.map((i) => ({ InstanceId: i.id })),
        })),
      });
    }
    if (action === 'DescribeInstanceHealth') {
      const c = m.classic.find((x) => x.name === q.get('LoadBalancerName'));
      if (!c) return queryError('LoadBalancerNotFound', 'no such load balancer');
      const wanted = q.get('Instances.member.1.InstanceId');
      return answer('elb', action, {
        InstanceStates: c.instances.filter((i) => wanted === undefined || i.id === wanted).map((i) => ({ InstanceId: i.id, State: i.state })),
      });
    }
    return queryError('InvalidAction', action);
  }

  #ec2(action: string, q: Map<string, string>): ServiceAnswer {
    if (action !== 'DescribeNetworkInterfaces') return ec2Error('InvalidAction', action);
    const wanted: string[] = [];
    for (let i = 1; q.has(`Filter.${i}.Name`); i++) {
      if (q.get(`Filter.${i}.Name`) === 'description') wanted.push(...queryList(q, `Filter.${i}.Value`));
    }
    const enis = this.model.enis.filter((e) => wanted.length === 0 || wanted.includes(e.description));
    const xml = toXml('DescribeNetworkInterfacesResponse', {
      requestId: 'req-1',
      networkInterfaceSet: enis.map((e) => ({
        networkInterfaceId: e.id, description: e.description, privateIpAddress: e.addresses[0],
        privateIpAddressesSet: e.addresses.map((a) => ({ privateIpAddress: a })),
        ipv6AddressesSet: (e.ipv6 ?? []).map((a) => ({ ipv6Address: a })),
      })),
    }, 'item').replace('<DescribeNetworkInterfacesResponse>', `<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/${QUERY_VERSIONS.ec2}/">`);
    return { status: 200, headers: { 'content-type': 'text/xml' }, body: xml };
  }
}

function answer(service: 'elbv2' | 'elb', action: string, result: Record<string, XmlValue>): ServiceAnswer {
  const ns = service === 'elbv2'
    ? `http://elasticloadbalancing.amazonaws.com/doc/${QUERY_VERSIONS.elbv2}/`
    : `http://elasticloadbalancing.amazonaws.com/doc/${QUERY_VERSIONS.elb}/`;
  const inner = toXml(`${action}Result`, result, 'member') + '<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>';
  return { status: 200, headers: { 'content-type': 'text/xml' }, body: `<${action}Response xmlns="${ns}">${inner}</${action}Response>` };
}

export function queryError(code: string, message: string, status = 400): ServiceAnswer {
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`,
  };
}

export function ec2Error(code: string, message: string, status = 400): ServiceAnswer {
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body: `<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>req-1</RequestID></Response>`,
  };
}
