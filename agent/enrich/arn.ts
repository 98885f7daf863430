import type { LbType } from '../events/schema.js';

/**
 * CloudWatch dimension values derived from ARNs, exactly as AWS publishes its own
 * metrics (LoadBalancer = app/name/id, TargetGroup = targetgroup/name/id).
 * @see https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
 */
export function loadBalancerDimension(lbArn: string): string | undefined {
  const i = lbArn.indexOf(':loadbalancer/');
  if (i === -1) return undefined;
  const rest = lbArn.slice(i + ':loadbalancer/'.length);
  return /^(app|net|gwy)\/[^/]+\/[^/]+$/.test(rest) ? rest : undefined;
}

export function targetGroupDimension(tgArn: string): string | undefined {
  const m = /:(targetgroup\/[^/]+\/[^/]+)$/.exec(tgArn);
  return m?.[1];
}

export function loadBalancerTypeFromArn(lbArn: string): LbType {
  const dim = loadBalancerDimension(lbArn);
  if (dim === undefined) return 'unknown';
  return dim.startsWith('app/') ? 'ALB' : dim.startsWith('net/') ? 'NLB' : 'GWLB';
}

export function loadBalancerNameFromArn(lbArn: string): string | undefined {
  return loadBalancerDimension(lbArn)?.split('/')[1];
}

/** ELB network interfaces are described as "ELB app/name/id" (or "ELB name" for a CLB). */
export function eniDescriptionFor(dimensionOrClassicName: string): string {
  return `ELB ${dimensionOrClassicName}`;
}
