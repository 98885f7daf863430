/**
 * The classifiers' counters, and the read-only snapshot the summary, the metrics
 * publisher and the tests read. Counters only grow; per-interval figures are the
 * difference of two snapshots.
 */
import type { LbType } from '../events/schema.js';
import type { HeavyHitter } from './client-ip/space-saving.js';

export const LB_TYPES: readonly LbType[] = ['ALB', 'NLB', 'CLB', 'GWLB', 'unknown'];

/** Signs on the wire that point to a load-balancer type (one count per flow). */
export const LbIndicator = {
  TRACE_ID: 'trace_id',
  FORWARDED_WITHOUT_TRACE: 'x_forwarded_without_trace_id',
  HEALTH_CHECKER_V2: 'health_checker_2.0',
  HEALTH_CHECKER_V1: 'health_checker_1.0',
  PROXY_V1: 'proxy_protocol_v1',
  PROXY_V2: 'proxy_protocol_v2',
  TCP_HEALTH_CHECK: 'tcp_health_check',
  DIRECT_CLIENT: 'client_ip_preserved',
  GENEVE: 'geneve',
} as const;
export type LbIndicator = (typeof LbIndicator)[keyof typeof LbIndicator];

export class ClassifyCounters {
  httpRequests = 0;
  httpResponses = 0;
  /** Index 1..5 = 1xx..5xx (client traffic only). */
  readonly statusClasses = [0, 0, 0, 0, 0, 0];
  readonly status4xx = new Map<number, number>();
  readonly status5xx = new Map<number, number>();
  orphanResponses = 0;
  unansweredRequests = 0;
  malformedStartLines = 0;
  headsTooLarge = 0;
  partialHeads = 0;
  http2Prefaces = 0;
  upgrades = 0;
  targetClosedBeforeResponse = 0;
  targetResetBeforeResponse = 0;
  latencyCount = 0;
  latencySumMs = 0;
  latencyMaxMs = 0;

  httpsConnections = 0;
  clientHellosParsed = 0;
  tlsMalformed = 0;
  incompleteHandshakes = 0;
  readonly tlsAlerts = new Map<string, number>();
  fatalAlerts = 0;
  readonly tlsVersions = new Map<string, number>();

  proxyV1 = 0;
  proxyV2 = 0;
  proxyLocal = 0;
  proxyMalformed = 0;
  proxyStacked = 0;
  proxyVpce = 0;

  genevePackets = 0;
  geneveMalformed = 0;
  geneveInner = 0;

  otherProtocolConnections = 0;
  readonly healthChecks = {
    http: { ok: 0, failed: 0 },
    tcp: { ok: 0, failed: 0 },
  };
  readonly healthChecksByLb = new Map<string, { ok: number; failed: number }>();
  readonly healthCheckFailures = new Map<string, number>();
  readonly lbTypeFlows = new Map<LbType, number>();
  readonly lbIndicators = new Map<string, number>();
  readonly loops = new Map<string, number>();
}

export function bump<K>(m: Map<K, number>, k: K, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

export type ClassifySnapshot = Readonly<{
  http: Readonly<{
    requests: number;
    responses: number;
    statusClasses: Readonly<Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>>;
    status4xx: Readonly<Record<string, number>>;
    status5xx: Readonly<Record<string, number>>;
    orphanResponses: number;
    unansweredRequests: number;
    malformedStartLines: number;
    headsTooLarge: number;
    partialHeads: number;
    http2Prefaces: number;
    upgrades: number;
    targetClosedBeforeResponse: number;
    targetResetBeforeResponse: number;
    latency: Readonly<{ count: number; sumMs: number; maxMs: number }>;
  }>;
  tls: Readonly<{
    httpsConnections: number;
    clientHellosParsed: number;
    malformed: number;
    incompleteHandshakes: number;
    fatalAlerts: number;
    alerts: Readonly<Record<string, number>>;
    versions: Readonly<Record<string, number>>;
  }>;
  proxyProtocol: Readonly<{ v1: number; v2: number; local: number; malformed: number; stacked: number; vpce: number }>;
  geneve: Readonly<{ packets: number; malformed: number; inner: number }>;
  otherProtocolConnections: number;
  healthChecks: Readonly<{
    http: Readonly<{ ok: number; failed: number }>;
    tcp: Readonly<{ ok: number; failed: number }>;
    byLb: Readonly<Record<string, Readonly<{ ok: number; failed: number }>>>;
    failures: Readonly<Record<string, number>>;
  }>;
  lbTypes: Readonly<{ flows: Readonly<Record<string, number>>; indicators: Readonly<Record<string, number>> }>;
  topClients: readonly HeavyHitter[];
  loops: Readonly<Record<string, number>>;
}>;

function obj<K extends string | number, V>(m: Map<K, V>): Record<string, V> {
  const o: Record<string, V> = {};
  for (const [k, v] of [...m.entries()].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1))) o[String(k)] = v;
  return o;
}

export function toSnapshot(c: ClassifyCounters, topClients: readonly HeavyHitter[]): ClassifySnapshot {
  const sc = c.statusClasses;
  const byLb: Record<string, { ok: number; failed: number }> = {};
  for (const [k, v] of c.healthChecksByLb) byLb[k] = { ...v };
  return {
    http: {
      requests: c.httpRequests,
      responses: c.httpResponses,
      statusClasses: { '1xx': sc[1] ?? 0, '2xx': sc[2] ?? 0, '3xx': sc[3] ?? 0, '4xx': sc[4] ?? 0, '5xx': sc[5] ?? 0 },
      status4xx: obj(c.status4xx),
      status5xx: obj(c.status5xx),
      orphanResponses: c.orphanResponses,
      unansweredRequests: c.unansweredRequests,
      malformedStartLines: c.malformedStartLines,
      headsTooLarge: c.headsTooLarge,
      partialHeads: c.partialHeads,
      http2Prefaces: c.http2Prefaces,
      upgrades: c.upgrades,
      targetClosedBeforeResponse: c.targetClosedBeforeResponse,
      targetResetBeforeResponse: c.targetResetBeforeResponse,
      latency: { count: c.latencyCount, sumMs: c.latencySumMs, maxMs: c.latencyMaxMs },
    },
    tls: {
      httpsConnections: c.httpsConnections,
      clientHellosParsed: c.clientHellosParsed,
      malformed: c.tlsMalformed,
      incompleteHandshakes: c.incompleteHandshakes,
      fatalAlerts: c.fatalAlerts,
      alerts: obj(c.tlsAlerts),
      versions: obj(c.tlsVersions),
    },
    proxyProtocol: { v1: c.proxyV1, v2: c.proxyV2, local: c.proxyLocal, malformed: c.proxyMalformed, stacked: c.proxyStacked, vpce: c.proxyVpce },
    geneve: { packets: c.genevePackets, malformed: c.geneveMalformed, inner: c.geneveInner },
    otherProtocolConnections: c.otherProtocolConnections,
    healthChecks: {
      http: { ...c.healthChecks.http },
      tcp: { ...c.healthChecks.tcp },
      byLb,
      failures: obj(c.healthCheckFailures),
    },
    lbTypes: { flows: obj(c.lbTypeFlows), indicators: obj(c.lbIndicators) },
    topClients: [...topClients],
    loops: obj(c.loops),
  };
}
