import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingClient } from '@aws-sdk/client-elastic-load-balancing';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ClientSettings } from '../ship/cloudwatch-clients.js';
import type { DiscoveryClients } from './lb-discovery.js';

/** Describe* clients for discovery; the SDK's standard retries handle brief throttling. */
export function createDiscoveryClients(s: ClientSettings): DiscoveryClients {
  const common = {
    region: s.region,
    ...(s.endpoint !== undefined ? { endpoint: s.endpoint } : {}),
    ...(s.credentials !== undefined ? { credentials: s.credentials } : {}),
    requestHandler: { connectionTimeout: s.connectionTimeoutMs ?? 3_000, requestTimeout: s.requestTimeoutMs ?? 15_000, throwOnRequestTimeout: true },
    maxAttempts: 3,
  };
  return {
    elbv2: new ElasticLoadBalancingV2Client(common),
    elb: new ElasticLoadBalancingClient(common),
    ec2: new EC2Client(common),
  };
}
