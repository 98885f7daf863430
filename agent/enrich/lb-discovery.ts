import { DescribeNetworkInterfacesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeInstanceHealthCommand,
  DescribeLoadBalancersCommand as DescribeClassicLoadBalancersCommand,
  type ElasticLoadBalancingClient,
  type LoadBalancerDescription,
} from '@aws-sdk/client-elastic-load-balancing';
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
  type LoadBalancer,
  type TargetGroup,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ELBV2_MAX_LB_ARNS_PER_CALL, ELBV2_MAX_PAGE_SIZE } from '../ship/aws-limits.js';
import { classifyAwsError, errorName, ErrorKind, failureFields, fullJitterDelay, LogOnce, withDeadline } from '../ship/cloudwatch-retry.js';
import type { ShipLogger } from '../ship/shipping-types.js';
import { eniDescriptionFor, loadBalancerDimension, loadBalancerTypeFromArn, targetGroupDimension } from './arn.js';
import type { InstanceIdentity } from './imds.js';
import {
  LbIndex,
  parseClassicHealthTarget,
  type ClassicLbInfo,
  type HealthCheckSpec,
  type LbPicture,
  type LoadBalancerInfo,
  type TargetGroupInfo,
} from './lb-picture.js';

export type DiscoveryClients = Readonly<{
  elbv2: ElasticLoadBalancingV2Client;
  /** Classic Load Balancers; left out, they are not looked for. */
  elb?: ElasticLoadBalancingClient | undefined;
  /** LB node addresses; left out, isLoadBalancerAddress() knows none. */
  ec2?: EC2Client | undefined;
}>;

export type LbDiscoveryOptions = Readonly<{
  clients: DiscoveryClients;
  identity: Pick<InstanceIdentity, 'instanceId' | 'addresses'>;
  intervalMs: number;
  logger: ShipLogger;
  /** On-demand refreshes (traffic on an unknown port) are at most this often. */
  minOnDemandGapMs?: number;
  /** Describe* calls in flight at once. */
  concurrency?: number;
  /**
   * A whole refresh must end within this (default 120 s): the SDK's timeouts are per
   * phase, and a server trickling bytes would otherwise hold the refresh, and with it
   * every later one, forever.
   */
  refreshDeadlineMs?: number;
  now?: () => number;
}>;

export type DiscoveryStatus = {
  refreshes: number;
  failures: number;
  lastError: string | undefined;
  lastSuccessAt: number | undefined;
  /** Failed refreshes since start, by kind (failureKind()). */
  failuresByKind: Record<string, number>;
  onDemandRefreshes: number;
};

/**
 * Finds the load balancers and target groups this instance belongs to and keeps the
 * picture fresh: every interval, and on demand when traffic arrives on a port no
 * load balancer is known to use (rate-limited). A failed refresh keeps the last
 * picture; errors are logged once per interval; throttling backs off.
 */
export class LbDiscovery {
  readonly #o: LbDiscoveryOptions;
  readonly #errorLog: LogOnce;
  readonly #now: () => number;
  #index = new LbIndex(undefined);
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<boolean> | undefined;
  #lastOnDemand = Number.NEGATIVE_INFINITY;
  /** Unknown ports that already caused a refresh; cleared by each periodic refresh. */
  readonly #probedPorts = new Set<number>();
  #failStreak = 0;
  #stopped = false;
  /** A part (EC2, classic) failed during the current refresh: its warning must not repeat. */
  #degraded = false;
  readonly #status: DiscoveryStatus = {
    refreshes: 0, failures: 0, lastError: undefined, lastSuccessAt: undefined, onDemandRefreshes: 0, failuresByKind: {},
  };

  constructor(options: LbDiscoveryOptions) {
    this.#o = options;
    this.#errorLog = new LogOnce(options.intervalMs);
    this.#now = options.now ?? Date.now;
  }

  /** First refresh now, then on the interval. */
  start(): Promise<boolean> {
    this.#stopped = false;
    return this.#refreshAndSchedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  get index(): LbIndex {
    return this.#index;
  }

  get picture(): LbPicture | undefined {
    return this.#index.picture;
  }

  status(): Readonly<DiscoveryStatus> {
    return { ...this.#status, failuresByKind: { ...this.#status.failuresByKind } };
  }

  attribute(localPort: number, peerIp: string | undefined): ReturnType<LbIndex['attribute']> {
    return this.#index.attribute(localPort, peerIp);
  }

  isLoadBalancerAddress(ip: string): boolean {
    return this.#index.isLoadBalancerAddress(ip);
  }

  healthCheckFor(port: number): ReturnType<LbIndex['healthCheckFor']> {
    return this.#index.healthCheckFor(port);
  }

  /**
   * Tells discovery that traffic arrived on a local port. An unknown port triggers a
   * refresh, at most once per minOnDemandGapMs and once per port until the next
   * periodic refresh. Cheap when the port is known.
   */
  noteTrafficOnPort(port: number): void {
    if (this.#index.isKnownPort(port) || this.#probedPorts.has(port)) return;
    const now = this.#now();
    if (now - this.#lastOnDemand < (this.#o.minOnDemandGapMs ?? 60_000) || this.#inFlight !== undefined) return;
    this.#lastOnDemand = now;
    // A port that is simply not behind a load balancer (ssh, a database) must not cause a refresh every minute.
    if (this.#probedPorts.size < 4096) this.#probedPorts.add(port);
    this.#status.onDemandRefreshes++;
    void this.refresh();
  }

  /** One refresh; true when the picture was replaced. Concurrent calls share one. */
  refresh(): Promise<boolean> {
    this.#inFlight ??= this.#refresh().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #refreshAndSchedule(): Promise<boolean> {
    this.#probedPorts.clear();
    const ok = await this.refresh();
    if (this.#stopped) return ok;
    // After a failure (throttling above all) retry sooner than the interval, backing off.
    const delay = ok ? this.#o.intervalMs : Math.max(1000, fullJitterDelay(this.#failStreak, { baseMs: 5_000, capMs: this.#o.intervalMs }));
    this.#timer = setTimeout(() => void this.#refreshAndSchedule(), delay);
    this.#timer.unref();
    return ok;
  }

  async #refresh(): Promise<boolean> {
    this.#status.refreshes++;
    this.#degraded = false;
    try {
      const picture = await withDeadline(this.#o.refreshDeadlineMs ?? 120_000, undefined, (signal) => this.discover(signal));
      this.#index = new LbIndex(picture);
      this.#status.lastSuccessAt = picture.takenAt;
      if (this.#failStreak > 0) {
        this.#o.logger.info({ failedRefreshes: this.#failStreak, notLoggedRepeats: this.#errorLog.unreported() }, 'load balancer discovery recovered');
      }
      this.#failStreak = 0;
      if (!this.#degraded) this.#errorLog.reset();
      this.#o.logger.info(
        {
          targetGroups: picture.targetGroups.map((t) => t.dimension ?? t.name),
          loadBalancers: [...new Set(picture.targetGroups.flatMap((t) => t.loadBalancers.map((l) => l.dimension)))],
          classic: picture.classic.map((c) => c.name),
        },
        'load balancer picture refreshed',
      );
      return true;
    } catch (err) {
      this.#failStreak++;
      this.#status.failures++;
      const f = failureFields(err);
      this.#status.lastError = f.err;
      this.#status.failuresByKind[f.failure] = (this.#status.failuresByKind[f.failure] ?? 0) + 1;
      const repeats = this.#errorLog.take(f.failure, this.#now());
      if (repeats !== undefined) {
        this.#o.logger.warn(
          { ...f, kind: classifyAwsError(err), repeats, keptPicture: this.#index.picture !== undefined },
          `load balancer discovery failed (${f.failure}${repeats > 0 ? `, ${repeats} more like it since the last line` : ''}); keeping the last known picture`,
        );
      }
      return false;
    }
  }

  /** Builds a fresh picture from the APIs. Throws when the ELBv2 part fails. */
  async discover(signal?: AbortSignal): Promise<LbPicture> {
    const opts = signal === undefined ? {} : { abortSignal: signal };
    const { elbv2 } = this.#o.clients;
    const { instanceId } = this.#o.identity;
    const addresses = new Set(this.#o.identity.addresses);

    const groups: TargetGroup[] = [];
    let marker: string | undefined;
    do {
      const page = await elbv2.send(new DescribeTargetGroupsCommand({ PageSize: ELBV2_MAX_PAGE_SIZE, Marker: marker }), opts);
      groups.push(...(page.TargetGroups ?? []));
      marker = page.NextMarker;
    } while (marker);

    const candidates = groups.filter((g) => g.TargetType !== 'lambda' && g.TargetType !== 'alb');
    const mine: Array<{ group: TargetGroup; targets: TargetHealthDescription[] }> = [];
    await this.#each(candidates, async (group) => {
      const out = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: group.TargetGroupArn }), opts);
      const targets = (out.TargetHealthDescriptions ?? []).filter((d) => {
        const id = d.Target?.Id;
        return id !== undefined && (group.TargetType === 'ip' ? addresses.has(id) : id === instanceId);
      });
      if (targets.length > 0) mine.push({ group, targets });
    });

    const attributes = new Map<string, Map<string, string>>();
    await this.#each(mine, async ({ group }) => {
      const out = await elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: group.TargetGroupArn }), opts);
      attributes.set(group.TargetGroupArn ?? '', new Map((out.Attributes ?? []).map((a) => [a.Key ?? '', a.Value ?? ''])));
    });

    const lbArns = [...new Set(mine.flatMap((m) => m.group.LoadBalancerArns ?? []))];
    const lbs = new Map<string, LoadBalancer>();
    for (let i = 0; i < lbArns.length; i += ELBV2_MAX_LB_ARNS_PER_CALL) {
      const out = await elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: lbArns.slice(i, i + ELBV2_MAX_LB_ARNS_PER_CALL) }), opts);
      for (const lb of out.LoadBalancers ?? []) if (lb.LoadBalancerArn) lbs.set(lb.LoadBalancerArn, lb);
    }

    const classic = await this.#optional('classic', () => this.#discoverClassic(instanceId, opts), [] as ClassicLbInfo[]);
    const dimensions = [
      ...lbArns.map((a) => loadBalancerDimension(a)).filter((d): d is string => d !== undefined),
      ...classic.map((c) => c.name),
    ];
    const nodes = await this.#optional('ec2', () => this.#nodeAddresses(dimensions, opts), new Map<string, string[]>());

    const lbInfo = (arn: string): LoadBalancerInfo => {
      const dim = loadBalancerDimension(arn) ?? arn;
      const lb = lbs.get(arn);
      return {
        arn, name: lb?.LoadBalancerName ?? dim.split('/')[1] ?? dim, type: loadBalancerTypeFromArn(arn), dimension: dim,
        scheme: lb?.Scheme, nodeAddresses: nodes.get(dim) ?? [],
      };
    };
    const targetGroups: TargetGroupInfo[] = mine.map(({ group, targets }) => {
      const attrs = attributes.get(group.TargetGroupArn ?? '') ?? new Map<string, string>();
      const ports = [...new Set(targets.map((t) => t.Target?.Port ?? group.Port).filter((p): p is number => p !== undefined))];
      const pci = attrs.get('preserve_client_ip.enabled');
      return {
        arn: group.TargetGroupArn ?? '',
        name: group.TargetGroupName ?? '',
        dimension: targetGroupDimension(group.TargetGroupArn ?? ''),
        protocol: group.Protocol,
        targetType: group.TargetType,
        targetPorts: ports,
        health: targets.map((t) => ({
          port: t.Target?.Port, state: t.TargetHealth?.State, reason: t.TargetHealth?.Reason, description: t.TargetHealth?.Description,
        })),
        healthChecks: group.HealthCheckEnabled === false ? [] : healthChecksOf(group, ports),
        proxyProtocolV2: attrs.get('proxy_protocol_v2.enabled') === 'true',
        preserveClientIp: pci === undefined ? undefined : pci === 'true',
        loadBalancers: (group.LoadBalancerArns ?? []).map(lbInfo),
      };
    });
    const classicWithNodes = classic.map((c) => ({ ...c, nodeAddresses: nodes.get(c.name) ?? [] }));
    return { takenAt: this.#now(), instanceId, targetGroups, classic: classicWithNodes };
  }

  async #discoverClassic(instanceId: string, opts: { abortSignal?: AbortSignal }): Promise<ClassicLbInfo[]> {
    const elb = this.#o.clients.elb;
    if (elb === undefined) return [];
    const mine: LoadBalancerDescription[] = [];
    let marker: string | undefined;
    do {
      const page = await elb.send(new DescribeClassicLoadBalancersCommand({ Marker: marker }), opts);
      for (const d of page.LoadBalancerDescriptions ?? []) {
        if ((d.Instances ?? []).some((i) => i.InstanceId === instanceId)) mine.push(d);
      }
      marker = page.NextMarker;
    } while (marker);
    const out: ClassicLbInfo[] = [];
    for (const d of mine) {
      const name = d.LoadBalancerName ?? '';
      const health = await elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: name, Instances: [{ InstanceId: instanceId }] }), opts);
      const state = health.InstanceStates?.[0];
      const hc = parseClassicHealthTarget(d.HealthCheck?.Target);
      out.push({
        arn: undefined, name, type: 'CLB', dimension: name, scheme: d.Scheme, nodeAddresses: [],
        listeners: (d.ListenerDescriptions ?? []).flatMap((l) => (l.Listener ? [{
          lbPort: l.Listener.LoadBalancerPort ?? 0, instancePort: l.Listener.InstancePort ?? 0,
          protocol: l.Listener.Protocol ?? '', instanceProtocol: l.Listener.InstanceProtocol ?? l.Listener.Protocol ?? '',
        }] : [])),
        healthCheck: {
          protocol: hc.protocol, port: hc.port, path: hc.path, matcher: hc.protocol?.startsWith('HTTP') ? { httpCode: '200' } : undefined,
          timeoutSec: d.HealthCheck?.Timeout, intervalSec: d.HealthCheck?.Interval,
          healthyThreshold: d.HealthCheck?.HealthyThreshold, unhealthyThreshold: d.HealthCheck?.UnhealthyThreshold,
        },
        health: { port: hc.port, state: state?.State, reason: state?.ReasonCode, description: state?.Description },
      });
    }
    return out;
  }

  /** Load balancer node addresses by dimension value, from the ELB-owned ENIs. */
  async #nodeAddresses(dimensions: readonly string[], opts: { abortSignal?: AbortSignal }): Promise<Map<string, string[]>> {
    const ec2 = this.#o.clients.ec2;
    const out = new Map<string, string[]>();
    if (ec2 === undefined || dimensions.length === 0) return out;
    const byDescription = new Map(dimensions.map((d) => [eniDescriptionFor(d), d]));
    let token: string | undefined;
    do {
      const page = await ec2.send(new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'description', Values: [...byDescription.keys()] }], NextToken: token,
      }), opts);
      for (const eni of page.NetworkInterfaces ?? []) {
        const dim = byDescription.get(eni.Description ?? '');
        if (dim === undefined) continue;
        const list = out.get(dim) ?? [];
        if (eni.PrivateIpAddress) list.push(eni.PrivateIpAddress);
        for (const p of eni.PrivateIpAddresses ?? []) if (p.PrivateIpAddress && !list.includes(p.PrivateIpAddress)) list.push(p.PrivateIpAddress);
        for (const v6 of eni.Ipv6Addresses ?? []) if (v6.Ipv6Address) list.push(v6.Ipv6Address);
        out.set(dim, list);
      }
      token = page.NextToken;
    } while (token);
    return out;
  }

  /** Runs a part that is useful but not essential; on failure keeps its last value. */
  async #optional<T>(part: string, run: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (classifyAwsError(err) === ErrorKind.Transient) throw err; // back off the whole refresh
      const name = errorName(err);
      this.#degraded = true;
      const repeats = this.#errorLog.take(`${part}:${name}`, this.#now());
      if (repeats !== undefined) {
        this.#o.logger.warn({ err: name, part, repeats }, 'part of load balancer discovery unavailable; continuing without it');
      }
      if (part === 'ec2') return this.#previousNodes() as T;
      if (part === 'classic') return (this.#index.picture?.classic ?? fallback) as T;
      return fallback;
    }
  }

  #previousNodes(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const p = this.#index.picture;
    for (const tg of p?.targetGroups ?? []) for (const lb of tg.loadBalancers) out.set(lb.dimension, [...lb.nodeAddresses]);
    for (const c of p?.classic ?? []) out.set(c.name, [...c.nodeAddresses]);
    return out;
  }

  async #each<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const item = items[next++];
        if (item !== undefined) await fn(item);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.concurrency ?? 4, items.length) }, worker));
  }
}

/** One health check spec per registered port ("traffic-port" resolves to each). */
function healthChecksOf(group: TargetGroup, ports: readonly number[]): HealthCheckSpec[] {
  const fixed = group.HealthCheckPort !== undefined && group.HealthCheckPort !== 'traffic-port' ? Number(group.HealthCheckPort) : undefined;
  const checkPorts = fixed !== undefined && Number.isFinite(fixed) ? [fixed] : ports;
  return checkPorts.map((port) => ({
    protocol: group.HealthCheckProtocol,
    port,
    path: group.HealthCheckPath,
    matcher: group.Matcher ? { httpCode: group.Matcher.HttpCode, grpcCode: group.Matcher.GrpcCode } : undefined,
    timeoutSec: group.HealthCheckTimeoutSeconds,
    intervalSec: group.HealthCheckIntervalSeconds,
    healthyThreshold: group.HealthyThresholdCount,
    unhealthyThreshold: group.UnhealthyThresholdCount,
  }));
}
