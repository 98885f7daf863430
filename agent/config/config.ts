/**
 * The validated, frozen configuration. Only agent/config reads argv and the
 * environment; every other module receives this object (or a part of it).
 * Precedence everywhere: flag > environment variable > default.
 */
export const Engine = { BATCH: 'batch', PCAP: 'pcap', CAP: 'cap' } as const;
export type Engine = (typeof Engine)[keyof typeof Engine];

export type Config = Readonly<{
  /** -i / LBTA_INTERFACE. Default: the interface carrying the default route. */
  interface: string;
  /** --read / LBTA_READ: analyse a capture file instead of a live interface. */
  readFile: string | undefined;
  /** -s / LBTA_SAMPLE: analyse per-segment details of 1 flow in N (1 = all). */
  sample: number;
  /** -l / LBTA_LOG_DIR. Default ./logs as in the original script. */
  logDir: string;
  /** --engine / LBTA_ENGINE. */
  engine: Engine;
  /** --summary-interval / LBTA_SUMMARY_INTERVAL, seconds. */
  summaryIntervalSec: number;
  /** --snaplen / LBTA_SNAPLEN, bytes captured per packet. */
  snaplen: number;
  /** --buffer-size / LBTA_BUFFER_MB, kernel capture buffer in MiB. */
  bufferSizeMb: number;
  /** --buffer-timeout / LBTA_BUFFER_TIMEOUT_MS: libpcap hands packets over in blocks at most this late. */
  bufferTimeoutMs: number;
  /** --wakeup-interval / LBTA_WAKEUP_INTERVAL_MS: the libpcap engines (batch, pcap) read the kernel ring at most this often. */
  wakeupIntervalMs: number;
  /** --filter / LBTA_FILTER: extra BPF expression ANDed with the built-in one. */
  filter: string | undefined;
  /** --retention-days / LBTA_RETENTION_DAYS: local log files older than this are removed. */
  retentionDays: number;
  /** --max-connections / LBTA_MAX_CONNECTIONS: bound of the TCP connection table. */
  maxConnections: number;
  /** --syn-timeout / LBTA_SYN_TIMEOUT, seconds before a SYN without SYN-ACK is "unanswered". */
  synTimeoutSec: number;
  /** --idle-timeout / LBTA_IDLE_TIMEOUT, seconds before an idle connection is expired. */
  idleTimeoutSec: number;
  /** --log-level / LBTA_LOG_LEVEL for the agent's own log lines. */
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
}>;

/** Fields added for the summary, CloudWatch and classification (flag > env > default). */
export type SummaryFormat = 'auto' | 'table' | 'json';
export type CloudwatchMode = 'auto' | 'on' | 'off';

export type FullConfig = Config & Readonly<{
  /** --summary-format / LBTA_SUMMARY_FORMAT: auto = table on a TTY, JSON otherwise. */
  summaryFormat: SummaryFormat;
  /** --cloudwatch / LBTA_CLOUDWATCH: auto = on when a region, an instance id and credentials are found. */
  cloudwatch: CloudwatchMode;
  /** --region / LBTA_REGION (then AWS_REGION, then IMDS). */
  region: string | undefined;
  /** --instance-id / LBTA_INSTANCE_ID (default from IMDS). */
  instanceId: string | undefined;
  /** --log-group / LBTA_LOG_GROUP. */
  logGroup: string;
  /** --log-stream / LBTA_LOG_STREAM (default: the instance id). */
  logStream: string | undefined;
  /** --cloudwatch-retention-days / LBTA_CLOUDWATCH_RETENTION_DAYS. */
  cloudwatchRetentionDays: number;
  /** --metrics-namespace / LBTA_METRICS_NAMESPACE. */
  metricsNamespace: string;
  /** --metrics-interval / LBTA_METRICS_INTERVAL, seconds. */
  metricsIntervalSec: number;
  /** --discovery-interval / LBTA_DISCOVERY_INTERVAL, seconds. */
  discoveryIntervalSec: number;
  /** --imds-endpoint / LBTA_IMDS_ENDPOINT. */
  imdsEndpoint: string | undefined;
  /** --trusted-proxies / LBTA_TRUSTED_PROXIES: CIDRs skipped when reading X-Forwarded-For from the right. */
  trustedProxies: readonly string[];
  /** --log-query-strings / LBTA_LOG_QUERY_STRINGS: keep query strings in events (off: they can carry tokens). */
  logQueryStrings: boolean;
}>;
