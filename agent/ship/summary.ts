/**
 * The periodic summary, with the original script's sections (totals by protocol,
 * HTTP/HTTPS, detected LB types, health checks, TCP errors, HTTP errors, top client
 * IPs) and what it never showed: kernel drops, malformed packets, connections
 * tracked, evictions and which figures are sampled. An aligned table on a
 * terminal, one JSON object per line otherwise (the JSON is the stable form).
 */
import type { CaptureHealth, CaptureStats } from '../capture/packet-source.js';
import type { PipelineSnapshot } from '../pipeline.js';
import { groupedNumber } from './grouped-number.js';
import type { LocalLogStats } from './local-log.js';

export type SummaryInput = Readonly<{
  nowMs: number;
  startedMs: number;
  source: Readonly<{ engine: string; name: string }>;
  pipeline: PipelineSnapshot;
  capture: CaptureStats | undefined;
  /** Capture counters at the previous summary (for drops in this interval). */
  previousCapture: CaptureStats | undefined;
  /** Interruptions of a live capture (interface down or removed, stalls). */
  captureHealth?: CaptureHealth | undefined;
  events: Readonly<Record<string, number>>;
  localLog: LocalLogStats | undefined;
  /** Log lines and summaries dropped because stdout was full or gone (ship/stdout.ts). */
  stdoutDropped?: number;
  shipping: unknown;
  final: boolean;
}>;

export type Summary = Readonly<Record<string, unknown>>;

export function buildSummary(i: SummaryInput): Summary {
  const p = i.pipeline;
  const f = p.flows;
  const c = p.classify;
  const cap = i.capture;
  const prev = i.previousCapture;
  return {
    summary: i.final ? 'final' : 'interval',
    time: new Date(i.nowMs).toISOString(),
    uptime_s: Math.round((i.nowMs - i.startedMs) / 1000),
    source: i.source,
    totals: {
      packets: p.decode.packets,
      bytes: p.decode.bytes,
      tcp: p.decode.tcp,
      udp: p.decode.udp,
      ipv4: p.decode.ipv4,
      ipv6: p.decode.ipv6,
      http_requests: c.http.requests,
      https_connections: c.tls.httpsConnections,
      http2_prefaces: c.http.http2Prefaces,
      other_tcp_connections: c.otherProtocolConnections,
    },
    lb_types: c.lbTypes,
    health_checks: c.healthChecks,
    tcp_errors: {
      resets_by_target: f.resets_by_target,
      resets_by_peer: f.resets_by_peer,
      refused: f.refused,
      unanswered: f.unanswered,
      handshake_abandoned: f.handshake_abandoned,
      syn_retries: f.syn_retries,
      zero_windows: f.zero_windows,
      retransmissions: f.retransmissions,
      fast_retransmissions: f.fast_retransmissions,
      spurious_retransmissions: f.spurious_retransmissions,
      duplicate_acks: f.duplicate_acks,
      out_of_order: f.out_of_order,
      zero_window_probes: f.zero_window_probes,
      keep_alives: f.keep_alives,
      out_of_window_segments: f.out_of_window_segments,
    },
    http_errors: {
      status_classes: c.http.statusClasses,
      '4xx': c.http.status4xx,
      '5xx': c.http.status5xx,
      target_closed_before_response: c.http.targetClosedBeforeResponse,
      target_reset_before_response: c.http.targetResetBeforeResponse,
      unanswered_requests: c.http.unansweredRequests,
      orphan_responses: c.http.orphanResponses,
      malformed_start_lines: c.http.malformedStartLines,
      heads_too_large: c.http.headsTooLarge,
      partial_heads: c.http.partialHeads,
      latency_ms: c.http.latency.count > 0
        ? { avg: round(c.http.latency.sumMs / c.http.latency.count), max: round(c.http.latency.maxMs), count: c.http.latency.count }
        : { avg: 0, max: 0, count: 0 },
    },
    tls: c.tls,
    proxy_protocol: c.proxyProtocol,
    geneve: c.geneve,
    loops: c.loops,
    top_clients: c.topClients,
    capture: cap === undefined
      ? { kernel_counters: 'not available with this engine' }
      : {
          received: cap.received,
          dropped: cap.dropped,
          if_dropped: cap.ifDropped,
          dropped_since_last: cap.dropped + cap.ifDropped - ((prev?.dropped ?? 0) + (prev?.ifDropped ?? 0)),
          ...(i.captureHealth !== undefined ? { gaps: i.captureHealth.gaps, gap_ms_total: i.captureHealth.gapMsTotal, state: i.captureHealth.state } : {}),
        },
    malformed: p.decode.malformed,
    skipped: p.decode.skipped,
    connections: {
      tracked: f.connections_tracked,
      tracked_peak: f.connections_tracked_peak,
      opened: f.connections_opened,
      closed: f.connections_closed,
      evicted: f.connections_evicted,
      expired: f.connections_expired,
      by_state: nonZero(f.by_state),
    },
    udp_by_port: f.udp_by_port,
    sampled: { sample: f.sample, figures: f.sampled_figures },
    events: i.events,
    events_suppressed: f.events_suppressed,
    local_log: i.localLog,
    stdout_lines_dropped: i.stdoutDropped ?? 0,
    shipping: i.shipping,
  };
}

/** The summary table's CloudWatch row: off and why, or ok/degraded with events sent and what fails. */
function shippingLine(v: unknown): string {
  if (v === undefined || v === null || typeof v !== 'object') return 'off';
  const o = v as Record<string, unknown>;
  if (o['mode'] === 'local') return `off (${String(o['reason'])})`;
  const logs = (o['logs'] ?? {}) as Record<string, unknown>;
  const sent = `${fmt(logs['eventsSent'])} events sent`;
  return o['health'] === 'degraded' ? `DEGRADED: ${String(o['degraded'])}; ${sent}` : `ok, ${sent}`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function nonZero(o: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0));
}

export function summaryJson(s: Summary): string {
  return JSON.stringify(s);
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return groupedNumber(v);
  if (v === undefined || v === null) return '-';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.map(fmt).join(', ');
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length === 0 ? '-' : entries.map(([k, x]) => `${k}=${fmt(x)}`).join(' ');
  }
  return String(v);
}

/**
 * The top clients' rows. The agent keeps the busiest 1,000 clients: one that came in after that
 * took the place of the least counted and its count (the Space-Saving algorithm), so its count may
 * be over by up to `error`. Exact counts stand alone; an estimated one is shown as the range its
 * true count lies in, and a last row says why.
 */
function topRows(top: ReadonlyArray<Readonly<Record<string, unknown>>>): Array<readonly [string, unknown]> {
  if (top.length === 0) return [['-', '']];
  let estimated = false;
  const rows: Array<readonly [string, unknown]> = top.map((t) => {
    const count = typeof t['count'] === 'number' ? t['count'] : 0;
    const error = typeof t['error'] === 'number' ? t['error'] : 0;
    if (error > 0) estimated = true;
    return [String(t['key'] ?? t['ip'] ?? '?'), error > 0 ? `${groupedNumber(count - error)}-${groupedNumber(count)}` : count] as const;
  });
  if (estimated) rows.push(['', 'a range: more clients than the 1,000 kept, the count is estimated']);
  return rows;
}

function section(title: string, rows: ReadonlyArray<readonly [string, unknown]>): string[] {
  const width = Math.max(...rows.map(([k]) => k.length), 10);
  return [`  ${title}`, ...rows.map(([k, v]) => `    ${k.padEnd(width)}  ${fmt(v)}`)];
}

/** The summary as a table for a person at a terminal. */
export function summaryTable(s: Summary): string {
  const g = (k: string) => (s[k] ?? {}) as Record<string, unknown>;
  const totals = g('totals');
  const tcp = g('tcp_errors');
  const http = g('http_errors');
  const hc = g('health_checks');
  const conns = g('connections');
  const cap = g('capture');
  const sampled = g('sampled');
  const sample = Number(sampled['sample'] ?? 1);
  const mark = (name: string) => (sample > 1 && (sampled['figures'] as string[] | undefined)?.includes(name) ? ' (sampled)' : '');
  const top = (s['top_clients'] ?? []) as ReadonlyArray<Record<string, unknown>>;
  const src = g('source');
  const lines = [
    `=== lb-traffic-analyzer ${s['summary'] === 'final' ? 'final summary' : 'summary'} ${String(s['time'])} (${String(src['engine'])} on ${String(src['name'])}, up ${String(s['uptime_s'])} s) ===`,
    ...section('Traffic', [
      ['packets', totals['packets']], ['TCP', totals['tcp']], ['UDP', totals['udp']],
      ['HTTP requests', totals['http_requests']], ['HTTPS connections', totals['https_connections']],
    ]),
    ...section('Load balancers', [['by flow', g('lb_types')['flows']], ['indicators', g('lb_types')['indicators']]]),
    ...section('Health checks', [['HTTP', hc['http']], ['TCP', hc['tcp']], ['by LB', hc['byLb']], ['failures', hc['failures']]]),
    ...section('TCP errors', [
      ['resets by target', tcp['resets_by_target']], ['resets by peer', tcp['resets_by_peer']],
      ['refused', tcp['refused']], ['unanswered', tcp['unanswered']], ['handshake abandoned', tcp['handshake_abandoned']],
      ['zero windows', tcp['zero_windows']],
      [`retransmissions${mark('retransmissions')}`, tcp['retransmissions']],
      [`duplicate ACKs${mark('duplicate_acks')}`, tcp['duplicate_acks']],
      [`out of order${mark('out_of_order')}`, tcp['out_of_order']],
    ]),
    ...section('HTTP errors', [
      ['status classes', http['status_classes']], ['4xx', http['4xx']], ['5xx', http['5xx']],
      ['answers, request not seen', http['orphan_responses']],
      ['closed before response', http['target_closed_before_response']], ['reset before response', http['target_reset_before_response']],
      ['latency ms', http['latency_ms']], ['heads over 64 KB', http['heads_too_large']],
    ]),
    ...section('Top client IPs', topRows(top.slice(0, 10))),
    ...section('Capture health', [
      ['kernel drops', cap['dropped'] ?? cap['kernel_counters']], ['interface drops', cap['if_dropped']],
      ['malformed packets', g('malformed')['total']], ['malformed by reason', g('malformed')['by_reason']],
      ...(cap['gaps'] !== undefined ? [['capture gaps', `${fmt(cap['gaps'])} (${fmt(cap['gap_ms_total'])} ms), now ${String(cap['state'])}`] as const] : []),
      ['out-of-window segments', tcp['out_of_window_segments']],
      ['connections tracked', conns['tracked']], ['evicted', conns['evicted']],
      ['sampling', sample > 1 ? `1 flow in ${sample}: per-segment figures marked (sampled)` : 'off: every figure exact'],
    ]),
    ...section('Events', [
      ['by type', s['events']], ['rate-limited', s['events_suppressed']], ['local log', s['local_log']],
      ['stdout lost', s['stdout_lines_dropped']],
      ['CloudWatch', shippingLine(s['shipping'])],
    ]),
  ];
  return lines.join('\n');
}
