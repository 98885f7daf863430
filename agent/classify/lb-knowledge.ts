/**
 * What the classifiers may ask about the load balancers in front of this
 * instance. enrich/ implements it from the ELBv2/ELB APIs (target groups, health
 * check settings, LB addresses); until it knows something, every answer is
 * "unknown" and the classifiers fall back to what the traffic itself shows.
 */
import type { LbRef, TargetGroupRef } from '../events/schema.js';

export type LbBinding = Readonly<{ lb: LbRef; targetGroup?: TargetGroupRef }>;

export type HealthCheckSpec = Readonly<{
  protocol: 'HTTP' | 'HTTPS' | 'TCP' | 'GENEVE' | 'SSL';
  /** HTTP(S) checks only. */
  path?: string;
  /**
   * ELBv2 Matcher.HttpCode: "200", "200,202", "200-299" (ALB: 200-499; NLB: 200-599).
   * Absent: AWS's default for HTTP checks, 200-399.
   */
  matcher?: string;
  /** Seconds the load balancer waits for an answer. */
  timeoutSec: number;
  lb?: LbRef;
  targetGroup?: TargetGroupRef;
}>;

export interface LbKnowledge {
  /** The load balancer (and target group) serving `localPort` for traffic from `peerIp`, if known. */
  lbFor(localPort: number, peerIp: string): LbBinding | undefined;
  /** True when `ip` is known to be a load balancer node (its ENI address). */
  isLoadBalancerAddress(ip: string): boolean;
  /** The health check configured for targets on `localPort`, if known. */
  healthCheckFor(localPort: number): HealthCheckSpec | undefined;
}

/** Knows nothing: the default until enrichment has answered. */
export const EMPTY_LB_KNOWLEDGE: LbKnowledge = Object.freeze({
  lbFor: () => undefined,
  isLoadBalancerAddress: () => false,
  healthCheckFor: () => undefined,
});

/** A fixed answer set: for tests and for addresses given on the command line. */
export function staticLbKnowledge(facts: Readonly<{
  lbAddresses?: readonly string[];
  bindings?: Readonly<Record<number, LbBinding>>;
  healthChecks?: Readonly<Record<number, HealthCheckSpec>>;
}>): LbKnowledge {
  const addrs = new Set(facts.lbAddresses ?? []);
  return {
    lbFor: (port) => facts.bindings?.[port],
    isLoadBalancerAddress: (ip) => addrs.has(ip),
    healthCheckFor: (port) => facts.healthChecks?.[port],
  };
}
