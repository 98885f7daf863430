import type { LbRef, LbType, TargetGroupRef } from '../events/schema.js';

/** How the load balancer checks this target, as configured on the target group. */
export type HealthCheckSpec = Readonly<{
  protocol: string | undefined;
  /** The port checked: the traffic port resolved to the target's port. */
  port: number | undefined;
  path: string | undefined;
  /** e.g. "200" or "200-299" or "200,302" (HttpCode), or a gRPC code list. */
  matcher: { httpCode?: string | undefined; grpcCode?: string | undefined } | undefined;
  timeoutSec: number | undefined;
  intervalSec: number | undefined;
  healthyThreshold: number | undefined;
  unhealthyThreshold: number | undefined;
}>;

/** The target's health as the load balancer reports it (DescribeTargetHealth / DescribeInstanceHealth). */
export type TargetHealth = Readonly<{ port: number | undefined; state: string | undefined; reason: string | undefined; description: string | undefined }>;

export type LoadBalancerInfo = Readonly<{
  arn: string | undefined;
  name: string;
  type: LbType;
  /** CloudWatch LoadBalancer dimension value (app/…, net/…, gwy/…, or the CLB name). */
  dimension: string;
  scheme: string | undefined;
  /** Private addresses of the load balancer's nodes (its ENIs). */
  nodeAddresses: readonly string[];
}>;

export type TargetGroupInfo = Readonly<{
  arn: string;
  name: string;
  dimension: string | undefined;
  protocol: string | undefined;
  targetType: string | undefined;
  /** Ports this instance is registered with in this group. */
  targetPorts: readonly number[];
  health: readonly TargetHealth[];
  healthChecks: readonly HealthCheckSpec[];
  proxyProtocolV2: boolean;
  preserveClientIp: boolean | undefined;
  loadBalancers: readonly LoadBalancerInfo[];
}>;

export type ClassicListener = Readonly<{ lbPort: number; instancePort: number; protocol: string; instanceProtocol: string }>;

export type ClassicLbInfo = LoadBalancerInfo & Readonly<{
  listeners: readonly ClassicListener[];
  healthCheck: HealthCheckSpec;
  health: TargetHealth;
}>;

/** Everything discovery knows about the load balancers in front of this instance. */
export type LbPicture = Readonly<{
  takenAt: number;
  instanceId: string;
  targetGroups: readonly TargetGroupInfo[];
  classic: readonly ClassicLbInfo[];
}>;

export type Attribution = Readonly<{ lb: LbRef; targetGroup: TargetGroupRef | undefined }>;

export type HealthCheckTarget = Readonly<{
  lb: LbRef;
  targetGroup: TargetGroupRef | undefined;
  spec: HealthCheckSpec;
  /** What the load balancer says of this target on that port. */
  health: TargetHealth | undefined;
}>;

/** Parses a CLB health check target such as "HTTP:80/health" or "TCP:8080". */
export function parseClassicHealthTarget(target: string | undefined): { protocol?: string; port?: number; path?: string } {
  const m = /^([A-Za-z]+):(\d+)(\/.*)?$/.exec(target ?? '');
  if (m === null) return {};
  return { protocol: m[1]?.toUpperCase(), port: Number(m[2]), path: m[3] };
}

function lbRef(lb: LoadBalancerInfo): LbRef {
  return { type: lb.type, name: lb.name, ...(lb.arn ? { arn: lb.arn } : {}), dimension: lb.dimension };
}

function tgRef(tg: TargetGroupInfo): TargetGroupRef {
  return { name: tg.name, arn: tg.arn, ...(tg.dimension ? { dimension: tg.dimension } : {}) };
}

/**
 * Lookups over one picture, built once per refresh so the classifier's hot path is
 * a few Map reads.
 */
export class LbIndex {
  readonly picture: LbPicture | undefined;
  readonly #byPort = new Map<number, Array<{ lb: LoadBalancerInfo; tg: TargetGroupInfo | undefined }>>();
  readonly #lbAddresses = new Map<string, LoadBalancerInfo>();
  readonly #healthByPort = new Map<number, HealthCheckTarget[]>();

  constructor(picture: LbPicture | undefined) {
    this.picture = picture;
    if (picture === undefined) return;
    for (const tg of picture.targetGroups) {
      for (const lb of tg.loadBalancers) {
        for (const port of tg.targetPorts) push(this.#byPort, port, { lb, tg });
        for (const a of lb.nodeAddresses) this.#lbAddresses.set(a, lb);
        for (const spec of tg.healthChecks) {
          if (spec.port === undefined) continue;
          const health = tg.health.find((h) => h.port === spec.port) ?? tg.health[0];
          push(this.#healthByPort, spec.port, { lb: lbRef(lb), targetGroup: tgRef(tg), spec, health });
        }
      }
    }
    for (const clb of picture.classic) {
      for (const l of clb.listeners) push(this.#byPort, l.instancePort, { lb: clb, tg: undefined });
      for (const a of clb.nodeAddresses) this.#lbAddresses.set(a, clb);
      if (clb.healthCheck.port !== undefined) {
        push(this.#healthByPort, clb.healthCheck.port, { lb: lbRef(clb), targetGroup: undefined, spec: clb.healthCheck, health: clb.health });
      }
    }
  }

  /** Ports some load balancer sends traffic to on this instance. */
  isKnownPort(port: number): boolean {
    return this.#byPort.has(port) || this.#healthByPort.has(port);
  }

  /**
   * The load balancer and target group that traffic to `localPort` from `peerIp`
   * belongs to. When several groups use the port, the one whose load balancer owns
   * the peer address wins; otherwise the first.
   */
  attribute(localPort: number, peerIp: string | undefined): Attribution | undefined {
    const candidates = this.#byPort.get(localPort);
    if (candidates === undefined || candidates.length === 0) return undefined;
    let chosen = candidates[0];
    if (candidates.length > 1 && peerIp !== undefined) {
      const owner = this.#lbAddresses.get(peerIp);
      chosen = candidates.find((c) => c.lb === owner) ?? chosen;
    }
    if (chosen === undefined) return undefined;
    return { lb: lbRef(chosen.lb), targetGroup: chosen.tg ? tgRef(chosen.tg) : undefined };
  }

  /** True for an address of a load balancer node (its traffic and health checks come from there). */
  isLoadBalancerAddress(ip: string): boolean {
    return this.#lbAddresses.has(ip);
  }

  /** The health checks that probe `port` on this instance, with their rules and the LB's verdict. */
  healthCheckFor(port: number): readonly HealthCheckTarget[] {
    return this.#healthByPort.get(port) ?? [];
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/**
 * Whether an HTTP status passes a target group's matcher, as ELB reads HttpCode:
 * a single code ("200"), a list ("200,302") or a range ("200-299"), or mixes of them.
 * An absent matcher means ELB's default, 200.
 * @see https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Matcher.html
 */
export function httpMatcherAccepts(httpCode: string | undefined, status: number): boolean {
  const spec = httpCode === undefined || httpCode.trim() === '' ? '200' : httpCode;
  for (const part of spec.split(',')) {
    const [lo, hi] = part.trim().split('-').map((s) => Number(s.trim()));
    if (lo === undefined || !Number.isInteger(lo)) continue;
    if (hi === undefined ? status === lo : Number.isInteger(hi) && status >= lo && status <= hi) return true;
  }
  return false;
}

/**
 * True when the analyzer's own verdict on health checks contradicts what the load
 * balancer reports for this target (so the classifier can report the disagreement).
 * States in transition (initial, draining, unused, unavailable) never disagree.
 */
export function healthVerdictDisagrees(lbState: string | undefined, analyzerSaysHealthy: boolean): boolean {
  if (lbState === 'healthy' || lbState === 'InService') return !analyzerSaysHealthy;
  if (lbState === 'unhealthy' || lbState === 'OutOfService') return analyzerSaysHealthy;
  return false;
}
