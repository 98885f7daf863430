import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import type { CloudConfig, ShipLogger } from '../ship/shipping-types.js';
import type { ClientSettings } from '../ship/cloudwatch-clients.js';
import { createDiscoveryClients } from './aws-clients.js';
import { fetchInstanceIdentity, type InstanceIdentity } from './imds.js';
import { LbDiscovery, type DiscoveryClients } from './lb-discovery.js';

/** Where the agent stands with AWS, decided once at start. */
export type AwsContext =
  | Readonly<{ mode: 'aws'; region: string; instanceId: string; identity: InstanceIdentity | undefined }>
  | Readonly<{ mode: 'local'; reason: string; region: string | undefined; instanceId: string | undefined; identity: InstanceIdentity | undefined }>;

export type ResolveOptions = Readonly<{
  config: Pick<CloudConfig, 'cloudwatch' | 'region' | 'instanceId' | 'imdsEndpoint'>;
  logger: ShipLogger;
  /** Default: the SDK's default credential chain, given `credentialTimeoutMs` to answer. */
  probeCredentials?: () => Promise<boolean>;
  imdsTimeoutMs?: number;
  credentialTimeoutMs?: number;
}>;

/** Resolves the default chain's credentials, or false within the timeout. */
export async function defaultChainHasCredentials(timeoutMs: number): Promise<boolean> {
  const provider = fromNodeProviderChain();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      provider().then((c: AwsCredentialIdentity) => c.accessKeyId !== ''),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Identity from IMDSv2 (flags win over it), then credentials from the default chain.
 * Without a region, an instance id or credentials the agent runs local-only, said in
 * ONE log line. `--cloudwatch on` turns a missing region or instance id into a start
 * error instead, and skips the credential probe (the SDK then reports it per call).
 */
export async function resolveAwsContext(o: ResolveOptions): Promise<AwsContext> {
  const { config, logger } = o;
  const local = (reason: string, identity?: InstanceIdentity): AwsContext => {
    logger.info({ reason }, `CloudWatch disabled, local-only mode: ${reason}`);
    return { mode: 'local', reason, region: config.region ?? identity?.region, instanceId: config.instanceId ?? identity?.instanceId, identity };
  };
  if (config.cloudwatch === 'off') return local('--cloudwatch off');
  const identity = await fetchInstanceIdentity({ endpoint: config.imdsEndpoint, timeoutMs: o.imdsTimeoutMs ?? 1000 });
  const region = config.region ?? identity?.region;
  const instanceId = config.instanceId ?? identity?.instanceId;
  if (region === undefined || instanceId === undefined) {
    const reason = `not on EC2 (no instance metadata) and no ${region === undefined ? '--region' : '--instance-id'} given`;
    if (config.cloudwatch === 'on') throw new Error(`--cloudwatch on needs a region and an instance id: ${reason}`);
    return local(reason, identity);
  }
  if (config.cloudwatch === 'auto') {
    const probe = o.probeCredentials ?? (() => defaultChainHasCredentials(o.credentialTimeoutMs ?? 5000));
    if (!(await probe())) return local('no AWS credentials found by the default provider chain', identity);
  }
  logger.info({ region, instanceId, onEc2: identity !== undefined }, 'CloudWatch enabled');
  return { mode: 'aws', region, instanceId, identity };
}

export type StartDiscoveryOptions = Readonly<{
  config: Pick<CloudConfig, 'discoveryIntervalSec'>;
  logger: ShipLogger;
  context: AwsContext;
  /** Tests: endpoint and fake credentials, or ready clients. */
  clientSettings?: Partial<ClientSettings>;
  clients?: DiscoveryClients;
}>;

/**
 * Starts load balancer discovery, or returns undefined in local-only mode. The first
 * refresh runs in the background; lookups answer "unknown" until it lands.
 */
export function startDiscovery(o: StartDiscoveryOptions): LbDiscovery | undefined {
  const ctx = o.context;
  if (ctx.mode !== 'aws') return undefined;
  const clients = o.clients ?? createDiscoveryClients({ ...o.clientSettings, region: ctx.region });
  const discovery = new LbDiscovery({
    clients,
    identity: { instanceId: ctx.instanceId, addresses: ctx.identity?.addresses ?? [] },
    intervalMs: o.config.discoveryIntervalSec * 1000,
    logger: o.logger,
  });
  void discovery.start();
  return discovery;
}
