import type { HealthCheckSpec as ClassifierHealthCheck, LbBinding, LbKnowledge } from '../classify/lb-knowledge.js';
import type { LbDiscovery } from './lb-discovery.js';

const CHECK_PROTOCOLS = new Set<ClassifierHealthCheck['protocol']>(['HTTP', 'HTTPS', 'TCP', 'GENEVE', 'SSL']);

/**
 * Health-check timeout when the API gives none: ELBv2's default for HTTP checks.
 * @see https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
 */
const DEFAULT_CHECK_TIMEOUT_SEC = 5;

/**
 * The classifier's view (classify/lb-knowledge.ts) of what discovery knows. Asking
 * about a port no load balancer is known to use tells discovery, which refreshes
 * (rate-limited, once per unknown port between periodic refreshes).
 */
export function lbKnowledgeOf(discovery: LbDiscovery): LbKnowledge {
  return {
    lbFor(localPort: number, peerIp: string): LbBinding | undefined {
      const a = discovery.attribute(localPort, peerIp);
      if (a === undefined) {
        discovery.noteTrafficOnPort(localPort);
        return undefined;
      }
      return a.targetGroup === undefined ? { lb: a.lb } : { lb: a.lb, targetGroup: a.targetGroup };
    },
    isLoadBalancerAddress: (ip: string) => discovery.isLoadBalancerAddress(ip),
    healthCheckFor(localPort: number): ClassifierHealthCheck | undefined {
      const h = discovery.healthCheckFor(localPort)[0];
      const protocol = h?.spec.protocol?.toUpperCase() as ClassifierHealthCheck['protocol'] | undefined;
      if (h === undefined || protocol === undefined || !CHECK_PROTOCOLS.has(protocol)) return undefined;
      return {
        protocol,
        ...(h.spec.path !== undefined ? { path: h.spec.path } : {}),
        ...(h.spec.matcher?.httpCode !== undefined ? { matcher: h.spec.matcher.httpCode } : {}),
        timeoutSec: h.spec.timeoutSec ?? DEFAULT_CHECK_TIMEOUT_SEC,
        lb: h.lb,
        ...(h.targetGroup !== undefined ? { targetGroup: h.targetGroup } : {}),
      };
    },
  };
}
