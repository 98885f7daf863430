/**
 * Flags + environment → one validated, frozen FullConfig. The only module that
 * reads argv and process.env (besides the AWS SDK's own AWS_* variables).
 * Precedence: flag > environment variable > default. Every problem is collected
 * and reported at once, each naming the flag, the value and what is allowed.
 */
import { DEFAULT_NAMESPACE } from '../events/metric-names.js';
import type { FullConfig } from './config.js';

type Kind =
  | { t: 'int'; min: number; max: number; hint: string }
  | { t: 'num'; min: number; max: number; hint: string }
  | { t: 'enum'; values: readonly string[] }
  | { t: 'str' }
  | { t: 'list' }
  | { t: 'bool' };

type Spec = Readonly<{
  key: keyof FullConfig;
  long: string;
  short?: string;
  env: string;
  arg?: string;
  kind: Kind;
  /** undefined = no default (optional setting). */
  def: unknown;
  help: string;
}>;

const INT = (min: number, max: number, hint: string): Kind => ({ t: 'int', min, max, hint });

/** The option table: help text, README table and parser are all derived from it. */
export const OPTIONS: readonly Spec[] = [
  { key: 'interface', long: 'interface', short: 'i', env: 'LBTA_INTERFACE', arg: 'IFACE', kind: { t: 'str' }, def: undefined,
    help: 'interface to capture on (default: the one carrying the default route, e.g. ens5)' },
  { key: 'sample', long: 'sample', short: 's', env: 'LBTA_SAMPLE', arg: 'N', kind: INT(1, 1_000_000, '1 = every flow, 10 = one flow in ten'), def: 1,
    help: 'analyse per-segment details (retransmissions, RTT) of one flow in N; errors, resets, status codes and health checks stay exact' },
  { key: 'logDir', long: 'log-dir', short: 'l', env: 'LBTA_LOG_DIR', arg: 'DIR', kind: { t: 'str' }, def: './logs',
    help: 'directory of the local event log errors_YYYY-MM-DD.log' },
  { key: 'readFile', long: 'read', short: 'r', env: 'LBTA_READ', arg: 'FILE', kind: { t: 'str' }, def: undefined,
    help: 'analyse a capture file (pcap or pcapng) instead of a live interface, then exit' },
  { key: 'engine', long: 'engine', env: 'LBTA_ENGINE', arg: 'NAME', kind: { t: 'enum', values: ['batch', 'pcap', 'cap'] }, def: 'batch',
    help: 'capture engine: batch (libpcap, a batch of packets per wake-up; falls back to pcap if its addon is missing), pcap (node_pcap, one call per packet) or cap (immediate mode); all but cap count kernel drops' },
  { key: 'summaryIntervalSec', long: 'summary-interval', env: 'LBTA_SUMMARY_INTERVAL', arg: 'SEC', kind: INT(0, 86_400, 'seconds; 0 = only at exit'), def: 30,
    help: 'print the statistics summary every SEC seconds (0: only at exit)' },
  { key: 'summaryFormat', long: 'summary-format', env: 'LBTA_SUMMARY_FORMAT', arg: 'FMT', kind: { t: 'enum', values: ['auto', 'table', 'json'] }, def: 'auto',
    help: 'summary as an aligned table or one JSON line (auto: table on a terminal)' },
  { key: 'snaplen', long: 'snaplen', env: 'LBTA_SNAPLEN', arg: 'BYTES', kind: INT(96, 262_144, 'bytes, 96..262144'), def: 9216,
    help: 'bytes captured per packet (default covers a 9001-byte EC2 jumbo frame, so HTTP header blocks are whole)' },
  { key: 'bufferSizeMb', long: 'buffer-size', env: 'LBTA_BUFFER_MB', arg: 'MB', kind: INT(1, 4096, 'MiB, 1..4096'), def: 64,
    help: 'kernel capture buffer in MiB (absorbs bursts and garbage-collection pauses)' },
  { key: 'bufferTimeoutMs', long: 'buffer-timeout', env: 'LBTA_BUFFER_TIMEOUT_MS', arg: 'MS', kind: INT(1, 50, 'milliseconds, 1..50'), def: 50,
    help: 'libpcap hands packets over in blocks at most MS late (immediate mode costs ~10x the CPU; fewer, larger blocks cost less)' },
  { key: 'wakeupIntervalMs', long: 'wakeup-interval', env: 'LBTA_WAKEUP_INTERVAL_MS', arg: 'MS', kind: INT(0, 500, 'milliseconds, 0..500'), def: 200,
    help: 'batch and pcap engines: read the kernel ring at most every MS (0: at every block libpcap hands over); fewer, larger hand-overs cost less CPU, events are at most MS + the buffer timeout later; sooner while the ring fills fast' },
  { key: 'filter', long: 'filter', env: 'LBTA_FILTER', arg: 'BPF', kind: { t: 'str' }, def: undefined,
    help: 'extra BPF expression ANDed with the built-in filter, e.g. "port 80 or port 443"' },
  { key: 'retentionDays', long: 'retention-days', env: 'LBTA_RETENTION_DAYS', arg: 'DAYS', kind: INT(1, 3650, 'days'), def: 7,
    help: 'local log files older than DAYS are removed (at start and daily)' },
  { key: 'maxConnections', long: 'max-connections', env: 'LBTA_MAX_CONNECTIONS', arg: 'N', kind: INT(100, 10_000_000, 'connections, 100..10000000'), def: 100_000,
    help: 'bound of the TCP connection table; the oldest idle connections are evicted (and counted) beyond it' },
  { key: 'synTimeoutSec', long: 'syn-timeout', env: 'LBTA_SYN_TIMEOUT', arg: 'SEC', kind: { t: 'num', min: 0.1, max: 600, hint: 'seconds, 0.1..600' }, def: 3,
    help: 'a SYN without SYN-ACK for SEC seconds is reported as an unanswered connection' },
  { key: 'idleTimeoutSec', long: 'idle-timeout', env: 'LBTA_IDLE_TIMEOUT', arg: 'SEC', kind: { t: 'num', min: 1, max: 86_400, hint: 'seconds, 1..86400' }, def: 350,
    help: 'idle connections leave the table after SEC seconds (350 = the NLB idle timeout)' },
  { key: 'logLevel', long: 'log-level', env: 'LBTA_LOG_LEVEL', arg: 'LEVEL', kind: { t: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] }, def: 'info',
    help: 'level of the agent\'s own logs (stdout)' },
  { key: 'cloudwatch', long: 'cloudwatch', env: 'LBTA_CLOUDWATCH', arg: 'MODE', kind: { t: 'enum', values: ['auto', 'on', 'off'] }, def: 'auto',
    help: 'ship events and metrics to CloudWatch: auto = when a region, an instance id and AWS credentials are found' },
  { key: 'region', long: 'region', env: 'LBTA_REGION', arg: 'REGION', kind: { t: 'str' }, def: undefined,
    help: 'AWS region (default: AWS_REGION, then instance metadata)' },
  { key: 'instanceId', long: 'instance-id', env: 'LBTA_INSTANCE_ID', arg: 'ID', kind: { t: 'str' }, def: undefined,
    help: 'EC2 instance id (default: instance metadata); for use off EC2' },
  { key: 'logGroup', long: 'log-group', env: 'LBTA_LOG_GROUP', arg: 'NAME', kind: { t: 'str' }, def: '/lb-traffic-analyzer/events',
    help: 'CloudWatch Logs group for events (created when missing)' },
  { key: 'logStream', long: 'log-stream', env: 'LBTA_LOG_STREAM', arg: 'NAME', kind: { t: 'str' }, def: undefined,
    help: 'CloudWatch Logs stream (default: the instance id, one stream per instance)' },
  { key: 'cloudwatchRetentionDays', long: 'cloudwatch-retention-days', env: 'LBTA_CLOUDWATCH_RETENTION_DAYS', arg: 'DAYS',
    kind: { t: 'enum', values: ['14', '30', '60', '90', '120', '150', '180', '365', '400', '545', '731', '1096', '1827', '2192', '2557', '2922', '3288', '3653'] }, def: '14',
    help: 'retention set on the log group; at least 14 so every event the local log still holds can be shipped' },
  { key: 'metricsNamespace', long: 'metrics-namespace', env: 'LBTA_METRICS_NAMESPACE', arg: 'NS', kind: { t: 'str' }, def: DEFAULT_NAMESPACE,
    help: 'CloudWatch metrics namespace' },
  { key: 'metricsIntervalSec', long: 'metrics-interval', env: 'LBTA_METRICS_INTERVAL', arg: 'SEC', kind: INT(10, 3600, 'seconds, 10..3600'), def: 60,
    help: 'publish aggregated metrics every SEC seconds' },
  { key: 'discoveryIntervalSec', long: 'discovery-interval', env: 'LBTA_DISCOVERY_INTERVAL', arg: 'SEC', kind: INT(30, 86_400, 'seconds, 30..86400'), def: 300,
    help: 'refresh the load balancers and target groups serving this instance every SEC seconds' },
  { key: 'imdsEndpoint', long: 'imds-endpoint', env: 'LBTA_IMDS_ENDPOINT', arg: 'URL', kind: { t: 'str' }, def: undefined,
    help: 'instance metadata endpoint (default http://169.254.169.254)' },
  { key: 'trustedProxies', long: 'trusted-proxies', env: 'LBTA_TRUSTED_PROXIES', arg: 'IP,...', kind: { t: 'list' }, def: [],
    help: 'proxies besides the load balancers whose X-Forwarded-For entries are skipped when finding the client IP' },
  { key: 'logQueryStrings', long: 'log-query-strings', env: 'LBTA_LOG_QUERY_STRINGS', kind: { t: 'bool' }, def: false,
    help: 'keep query strings in event paths (off by default: they can carry tokens)' },
];

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type ParseResult =
  | Readonly<{ kind: 'run'; config: FullConfig }>
  | Readonly<{ kind: 'help' }>
  | Readonly<{ kind: 'version' }>;

function flagName(s: Spec): string {
  return s.short ? `-${s.short}/--${s.long}` : `--${s.long}`;
}

function convert(s: Spec, raw: string, problems: string[], origin: string): unknown {
  const k = s.kind;
  const where = origin === 'flag' ? flagName(s) : `${s.env} (${flagName(s)})`;
  switch (k.t) {
    case 'int': {
      const n = /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) { problems.push(`${where}: "${raw}" is not an integer (${k.hint})`); return undefined; }
      if (n < k.min || n > k.max) { problems.push(`${where}: ${n} is out of range (${k.hint})`); return undefined; }
      return n;
    }
    case 'num': {
      const n = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(n)) { problems.push(`${where}: "${raw}" is not a number (${k.hint})`); return undefined; }
      if (n < k.min || n > k.max) { problems.push(`${where}: ${n} is out of range (${k.hint})`); return undefined; }
      return n;
    }
    case 'enum':
      if (!k.values.includes(raw)) { problems.push(`${where}: "${raw}" is not one of: ${k.values.join(', ')}`); return undefined; }
      return raw;
    case 'str':
      if (raw === '') { problems.push(`${where}: needs a non-empty value`); return undefined; }
      return raw;
    case 'list':
      return raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
    case 'bool': {
      const v = raw.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
      problems.push(`${where}: "${raw}" is not one of: true, false`);
      return undefined;
    }
  }
}

/** Levenshtein distance, for "did you mean" on unknown flags. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

function suggest(flag: string): string {
  const name = flag.replace(/^-+/, '');
  let best: Spec | undefined;
  let bestD = Infinity;
  for (const s of OPTIONS) {
    const dd = distance(name, s.long);
    if (dd < bestD) { bestD = dd; best = s; }
  }
  return best && bestD <= 3 ? ` (did you mean --${best.long}?)` : '';
}

/**
 * Parse argv (without node and the script) and the environment. Throws ConfigError
 * listing every problem. `defaults` supplies computed defaults (the interface).
 */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  computed: { defaultInterface?: () => string | undefined } = {},
): ParseResult {
  const problems: string[] = [];
  const fromFlags = new Map<keyof FullConfig, unknown>();
  const byLong = new Map(OPTIONS.map((s) => [s.long, s]));
  const byShort = new Map(OPTIONS.filter((s) => s.short).map((s) => [s.short as string, s]));

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '-V' || arg === '--version') return { kind: 'version' };
    let spec: Spec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      if (eq >= 0) inline = arg.slice(eq + 1);
      spec = byLong.get(name);
      if (!spec && name.startsWith('no-')) {
        const neg = byLong.get(name.slice(3));
        if (neg && neg.kind.t === 'bool') { fromFlags.set(neg.key, false); continue; }
      }
    } else if (/^-[a-zA-Z]/.test(arg)) {
      spec = byShort.get(arg.slice(1, 2));
      if (arg.length > 2) inline = arg.slice(2);
    } else {
      problems.push(`unexpected argument "${arg}" (flags take the form -i eth0 or --interface eth0; see --help)`);
      continue;
    }
    if (!spec) {
      problems.push(`unknown flag ${arg.split('=')[0]}${suggest(arg.split('=')[0] as string)}; see --help`);
      // Its value, if it had one, is not a stray argument.
      const next = argv[i + 1];
      if (inline === undefined && next !== undefined && !next.startsWith('-')) i++;
      continue;
    }
    if (spec.kind.t === 'bool') {
      fromFlags.set(spec.key, inline === undefined ? true : convert(spec, inline, problems, 'flag'));
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next.length > 1 && !/^-\d/.test(next))) {
        problems.push(`${flagName(spec)}: needs a value (${spec.arg ?? 'VALUE'})`);
        continue;
      }
      value = next;
      i++;
    }
    const v = convert(spec, value, problems, 'flag');
    if (v !== undefined) fromFlags.set(spec.key, v);
  }

  const out: Record<string, unknown> = {};
  for (const s of OPTIONS) {
    if (fromFlags.has(s.key)) { out[s.key] = fromFlags.get(s.key); continue; }
    const e = env[s.env];
    if (e !== undefined && e !== '') {
      const v = convert(s, e, problems, 'env');
      out[s.key] = v !== undefined ? v : s.def;
      continue;
    }
    out[s.key] = s.def;
  }
  // AWS_REGION is the SDK's own variable; honour it below our flag and env.
  if (out['region'] === undefined) out['region'] = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  out['cloudwatchRetentionDays'] = Number(out['cloudwatchRetentionDays']);

  if (out['readFile'] !== undefined && fromFlags.has('interface')) {
    problems.push('-i/--interface and -r/--read exclude each other: capture live or read a file');
  }
  if (out['readFile'] === undefined && out['interface'] === undefined) {
    const iface = computed.defaultInterface?.();
    if (iface === undefined) problems.push('-i/--interface: no default route on this machine, so no default interface; name one (list them with: ip -br link)');
    out['interface'] = iface;
  }
  if (out['readFile'] !== undefined && out['interface'] === undefined) out['interface'] = '';
  if (typeof out['imdsEndpoint'] === 'string' && !/^https?:\/\/[^/]+/.test(out['imdsEndpoint'])) {
    problems.push(`--imds-endpoint: "${String(out['imdsEndpoint'])}" is not an http:// or https:// URL`);
  }
  for (const ip of (out['trustedProxies'] as string[]) ?? []) {
    if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(ip)) problems.push(`--trusted-proxies: "${ip}" is not an IP address or CIDR`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { kind: 'run', config: Object.freeze(out) as FullConfig };
}

/** The --help text, derived from the option table. */
export function helpText(version: string): string {
  const lines = [
    `lb-traffic-analyzer ${version}: finds what goes wrong between AWS load balancers and this instance`,
    '',
    'Usage: lb-traffic-analyzer [options]              capture live (default: the default-route interface)',
    '       lb-traffic-analyzer --read capture.pcap    analyse a capture file and exit',
    '',
    'Options (each also as an environment variable; a flag wins over the variable):',
  ];
  for (const s of OPTIONS) {
    const flag = `${s.short ? `-${s.short}, ` : '    '}--${s.long}${s.arg ? ` ${s.arg}` : ''}`;
    const def = s.def === undefined || (Array.isArray(s.def) && s.def.length === 0) ? '' : ` [default: ${String(s.def)}]`;
    const values = s.kind.t === 'enum' && s.kind.values.length <= 6 ? ` (${s.kind.values.join('|')})` : '';
    lines.push(`  ${flag.padEnd(40)} ${s.help}${values}${def}`);
    lines.push(`  ${''.padEnd(40)} env ${s.env}`);
  }
  lines.push('  -h, --help                               this text');
  lines.push('  -V, --version                            the version');
  lines.push('');
  lines.push('Events go to LOG_DIR/errors_YYYY-MM-DD.log (one JSON object per line); a summary is printed every');
  lines.push('--summary-interval seconds. Capturing needs root or CAP_NET_RAW. Interfaces: ip -br link.');
  return lines.join('\n');
}
