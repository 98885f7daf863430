/**
 * A stand-alone shipping agent for restart and memory tests: runs startShipping()
 * against the AWS double, prints JSON lines on stdout ({"type":"mem",...} every
 * 100 ms, {"type":"exit",...} after a SIGTERM flush). Configured by environment:
 * LBTA_TEST_ENDPOINT, LBTA_TEST_LOG_DIR, LBTA_TEST_FLUSH_MS, LBTA_TEST_REQUEST_TIMEOUT_MS.
 */
import { startShipping } from '../../../agent/ship/shipping.js';
import { SILENT_LOGGER, ZERO_COUNTERS } from '../../../agent/ship/shipping-types.js';
import { fakeCredentials } from './aws-double.js';

const endpoint = process.env.LBTA_TEST_ENDPOINT ?? '';
const logDir = process.env.LBTA_TEST_LOG_DIR ?? '';
const flushMs = Number(process.env.LBTA_TEST_FLUSH_MS ?? 1000);
const requestTimeoutMs = Number(process.env.LBTA_TEST_REQUEST_TIMEOUT_MS ?? 2000);

const shipping = startShipping({
  config: {
    logDir, cloudwatch: 'on', region: 'eu-west-1', instanceId: 'i-0123456789abcdef0', logGroup: '/lbta/test',
    logStream: undefined, cloudwatchRetentionDays: 14, metricsNamespace: 'LBTrafficAnalyzerTest',
    metricsIntervalSec: 3600, discoveryIntervalSec: 300, imdsEndpoint: undefined,
  },
  logger: SILENT_LOGGER,
  statsSource: () => ({ counters: ZERO_COUNTERS }),
  context: { mode: 'aws', region: 'eu-west-1', instanceId: 'i-0123456789abcdef0', identity: undefined },
  clientSettings: { endpoint, credentials: fakeCredentials(), requestTimeoutMs, connectionTimeoutMs: 500 },
  pollIntervalMs: 50,
  backoff: { baseMs: 20, capMs: 200 },
});

let peakRss = 0;
let peakHeap = 0;
const report = (): void => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
  const s = shipping.status();
  const sent = s.mode === 'aws' ? s.logs.eventsSent : 0;
  process.stdout.write(JSON.stringify({ type: 'mem', rss: m.rss, heapUsed: m.heapUsed, peakRss, peakHeap, sent }) + '\n');
};
const timer = setInterval(report, 100);

process.once('SIGTERM', () => {
  const started = Date.now();
  void shipping.flush(flushMs).then((r) => {
    clearInterval(timer);
    report();
    process.stdout.write(JSON.stringify({ type: 'exit', caughtUp: r.caughtUp, flushTookMs: Date.now() - started, peakRss, peakHeap }) + '\n');
    process.exit(0);
  });
});
