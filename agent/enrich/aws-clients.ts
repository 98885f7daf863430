import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingClient } from '@aws-sdk/client-elastic-load-balancing';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { MiddlewareStack } from '@aws-sdk/types';
import { addAnswerCheck, queryXmlAnswer } from '../ship/cloudwatch-answer-check.js';
import { commonClientOptions, type ClientSettings } from '../ship/cloudwatch-clients.js';
import type { DiscoveryClients } from './lb-discovery.js';

/**
 * Describe* clients for discovery; the SDK's standard retries handle brief throttling.
 * Every 2xx answer must be the operation's own XML: an empty or foreign 200 would
 * otherwise read as "no target groups" and wipe the picture.
 */
export function createDiscoveryClients(s: ClientSettings): DiscoveryClients {
  const common = { ...commonClientOptions(s), maxAttempts: 3 };
  const checked = <C extends { middlewareStack: unknown }>(client: C): C => {
    addAnswerCheck(client.middlewareStack as MiddlewareStack<object, object>, queryXmlAnswer);
    return client;
  };
  return {
    elbv2: checked(new ElasticLoadBalancingV2Client(common)),
    elb: checked(new ElasticLoadBalancingClient(common)),
    ec2: checked(new EC2Client(common)),
  };
}
