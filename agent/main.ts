#!/usr/bin/env node
/**
 * Composition root: config → logger → local log → packet source → pipeline →
 * summaries, health file, CloudWatch shipping and LB discovery. The one place
 * that wires stages together. Exit codes: 0 done, 1 runtime/capture failure,
 * 2 bad configuration. Problems a user can fix are one line on stderr, never a
 * stack trace.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureEngine, createPacketSource } from './capture/create-packet-source.js';
import { defaultRouteInterface, localAddresses } from './capture/interfaces.js';
import { CaptureError, type CaptureStats, type PacketSource } from './capture/packet-source.js';
import { ResilientLiveSource } from './capture/resilient-source.js';
import type { FullConfig } from './config/config.js';
import { ConfigError, helpText, parseConfig } from './config/parse.js';
import type { AwsContext } from './enrich/enrichment.js';
import { HealthReconciler } from './enrich/health-reconcile.js';
import { lbKnowledgeOf } from './enrich/lb-knowledge-adapter.js';
import { EventFactory } from './events/event-factory.js';
import { EventType } from './events/schema.js';
import { StaticLocalAddresses } from './flows/local-addresses.js';
import { Pipeline } from './pipeline.js';
import { writeHealthFile } from './ship/health-file.js';
import { LocalLog, LocalLogError } from './ship/local-log.js';
import { createLogger, type AgentLogger } from './ship/logger.js';
import { stdioErrors, stdoutIsTty, writeFdSync, writeStdout } from './ship/stdout.js';
import type { Shipping } from './ship/shipping.js';
import type { StatsSnapshot } from './ship/shipping-types.js';
import { buildSummary, summaryJson, summaryTable } from './ship/summary.js';
import { IdleClock } from './flows/idle-clock.js';
import { useRuntimeFlags } from './node-flags.js';

const SHUTDOWN_BUDGET_MS = 4000;
/** How long past the buffer timeout capture runs after SIGTERM, for the kernel's last block. */
const DRAIN_MARGIN_MS = 30;
const HEALTH_INTERVAL_MS = 10_000;
const TICK_INTERVAL_MS = 1000;

function version(): string {
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    for (const p of [join(here, '..', '..', 'package.json'), join(here, '..', '..', '..', 'package.json')]) {
      try {
        return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
      } catch {
        /* try the next layout */
      }
    }
  } catch {
    /* fall through */
  }
  return 'unknown';
}

function fail(code: number, message: string): never {
  writeFdSync(2, `lb-traffic-analyzer: ${message}\n`);
  process.exit(code);
}

/** The cumulative counters CloudWatch metrics are made from; response times are drained per call. */
function statsFor(pipeline: Pipeline, source: PacketSource, localLog: LocalLog): () => StatsSnapshot {
  const classifier = pipeline.classify.classifier;
  return () => {
    const s = pipeline.snapshot(0);
    const f = s.flows;
    const c = s.classify;
    const cap = source.stats();
    const byTarget = [...classifier.targets()].map((t) => ({
      loadBalancer: t.loadBalancer,
      targetGroup: t.targetGroup,
      counters: {
        requests: t.requests,
        http4xx: t.http4xx,
        http5xx: t.http5xx,
        healthChecksOk: t.healthChecksOk,
        healthChecksFailed: t.healthChecksFailed,
      },
      responseTime: t.responseTime.drain(),
    }));
    return {
      counters: {
        requests: c.http.requests,
        http4xx: c.http.statusClasses['4xx'],
        http5xx: c.http.statusClasses['5xx'],
        resetsByTarget: f.resets_by_target,
        resetsByPeer: f.resets_by_peer,
        refused: f.refused,
        unanswered: f.unanswered,
        retransmissions: f.retransmissions,
        zeroWindows: f.zero_windows,
        healthChecksOk: c.healthChecks.http.ok + c.healthChecks.tcp.ok,
        healthChecksFailed: c.healthChecks.http.failed + c.healthChecks.tcp.failed,
        loops: Object.values(c.loops).reduce((a, b) => a + b, 0),
        captureDrops: cap === undefined ? 0 : cap.dropped + cap.ifDropped,
        captureGaps: source.health?.().gaps ?? 0,
        localLogLost: localLog.stats().lost + localLog.stats().torn_lines,
      },
      responseTime: classifier.drainResponseTimes(),
      byTarget,
    };
  };
}

/**
 * Signals are taken from the first moment: a SIGTERM during start-up (IMDS and
 * credential look-ups can take seconds) still ends in an orderly exit 0.
 */
let onStopSignal: (signal: string) => void = (signal) => {
  writeFdSync(2, `lb-traffic-analyzer: ${signal} during start-up, exiting\n`);
  process.exit(0);
};
process.on('SIGTERM', () => onStopSignal('SIGTERM'));
process.on('SIGINT', () => onStopSignal('SIGINT'));

async function run(config: FullConfig, logger: AgentLogger): Promise<number> {
  const started = Date.now();
  const localLog = new LocalLog({
    dir: config.logDir,
    retentionDays: config.retentionDays,
    logger,
    // Written once the disk takes lines again (or at start, for a line torn by a crash).
    lossEvent: (reason, count, d) => events.create(EventType.CAPTURE_LOSS, `local_log_${reason}`, reason === 'overflow'
      ? `${count} events lost: the local log could not be written (${d.lastError ?? 'error'}) and its ${Math.round(d.maxPendingBytes / 1048576)} MiB memory buffer was full`
      : `${count} event lost: a line of the local log was torn by a crash (kill -9, power loss)`, Date.now() * 1000, { lost: count }),
  });
  const live = config.readFile === undefined;

  const source = createPacketSource({
    interface: live ? config.interface : undefined,
    readFile: config.readFile,
    engine: config.engine,
    warn: (message) => logger.warn(message),
    snaplen: config.snaplen,
    bufferSizeMb: config.bufferSizeMb,
    bufferTimeoutMs: config.bufferTimeoutMs,
    wakeupIntervalMs: config.wakeupIntervalMs,
    filter: config.filter,
    sample: config.sample,
  });

  // An old capture's events would be refused by CloudWatch (older than 14 days): ship files only when asked.
  const cloudwatch = !live && config.cloudwatch === 'auto' ? 'off' : config.cloudwatch;
  // The AWS SDK is loaded only when CloudWatch may be used: it is most of the start-up time.
  const aws = cloudwatch === 'off' ? undefined : await import('./enrich/enrichment.js');
  let context: AwsContext;
  if (aws === undefined) {
    const reason = !live && config.cloudwatch === 'auto' ? 'reading a capture file (ship its events with --cloudwatch on)' : '--cloudwatch off';
    logger.info({ reason }, `CloudWatch disabled, local-only mode: ${reason}`);
    context = { mode: 'local', reason, region: config.region, instanceId: config.instanceId, identity: undefined };
  } else {
    context = await aws.resolveAwsContext({ config: { ...config, cloudwatch }, logger });
  }
  const discovery = live && aws !== undefined ? aws.startDiscovery({ config, logger, context }) : undefined;

  const events = new EventFactory();
  let shipping: Shipping | undefined;
  localLog.start();
  const pipeline = new Pipeline({
    linkType: () => source.linkType,
    sink: localLog,
    events,
    sample: config.sample,
    maxConnections: config.maxConnections,
    synTimeoutSec: config.synTimeoutSec,
    idleTimeoutSec: config.idleTimeoutSec,
    localAddresses: new StaticLocalAddresses(live ? localAddresses(config.interface) : []),
    ...(discovery ? { knowledge: lbKnowledgeOf(discovery) } : {}),
    trustedProxies: config.trustedProxies,
    logQueryStrings: config.logQueryStrings,
  });

  const pretty = config.summaryFormat === 'table' || (config.summaryFormat === 'auto' && stdoutIsTty());
  let previousCapture: CaptureStats | undefined;
  const printSummary = (final: boolean): void => {
    const capture = source.stats();
    const s = buildSummary({
      nowMs: Date.now(),
      startedMs: started,
      source: { engine: source.engine, name: source.name },
      pipeline: pipeline.snapshot(10),
      capture,
      previousCapture,
      captureHealth: live ? source.health?.() : undefined,
      events: pipeline.eventsByType(),
      localLog: localLog.stats(),
      stdoutDropped: stdioErrors.dropped,
      shipping: shipping?.status() ?? (live && context.mode === 'local' ? { mode: 'local', reason: context.reason } : undefined),
      final,
    });
    previousCapture = capture;
    writeStdout(`${pretty ? summaryTable(s) : summaryJson(s)}\n`);
  };

  source.start(pipeline.onPacket);
  logger.info({ source: source.name, engine: source.engine, linkType: source.linkType, logDir: localLog.dir, sample: config.sample }, live ? 'capturing' : 'reading capture file');

  if (!live) {
    // Ctrl-C while reading a file: stop reading, then report what was read.
    onStopSignal = () => source.stop();
    // A file cut short still has its complete packets analysed and reported before the error.
    const readError = await source.done.then(() => undefined, (err: unknown) => err);
    pipeline.finish();
    localLog.close();
    printSummary(true);
    source.stop();
    if (readError !== undefined) throw readError;
    return 0;
  }

  if (context.mode === 'aws') {
    const { startShipping } = await import('./ship/shipping.js');
    shipping = startShipping({ config, logger, statsSource: statsFor(pipeline, source, localLog), context });
  }
  let captureFailed = false;
  let lastSent = -1;
  let lastSuccess: string | null = null;
  const health = async (): Promise<void> => {
    const st = shipping?.status();
    let enabled = false;
    let pending = 0;
    let lastError: string | null = null;
    if (st && st.mode === 'aws') {
      enabled = true;
      pending = await shipping!.pending().catch(() => pending);
      // Progress: something was acknowledged since the last look, or nothing is waiting.
      if (st.logs.eventsSent !== lastSent || pending === 0) lastSuccess = new Date().toISOString();
      lastSent = st.logs.eventsSent;
      // Non-null only while CloudWatch calls fail: what fails, how often, since when.
      lastError = st.degraded ?? null;
    }
    const cap = source.stats();
    const lastMicros = pipeline.lastPacketMicros;
    const ch = source.health?.();
    writeHealthFile(localLog.dir, {
      updated_at: new Date().toISOString(),
      pid: process.pid,
      capture: {
        running: !captureFailed,
        source: source.name,
        last_packet_at: lastMicros > 0 ? new Date(lastMicros / 1000).toISOString() : null,
        packets: pipeline.decodeStats.packets,
        drops: cap === undefined ? 0 : cap.dropped + cap.ifDropped,
        // Degraded while the interface is down or gone: the process waits and resumes by itself.
        degraded: ch?.state === 'interrupted',
        interrupted_reason: ch?.reason ?? null,
        interrupted_since: ch?.sinceMs != null ? new Date(ch.sinceMs).toISOString() : null,
        gaps: ch?.gaps ?? 0,
      },
      shipping: { enabled, pending, last_success_at: lastSuccess, last_error: lastError },
    });
  };
  void health();
  // Interface down, deleted and re-created, or a stalled session: capture resumes without a
  // restart; each gap is a CAPTURE_LOSS event with its duration and the CaptureGaps metric.
  if (source instanceof ResilientLiveSource) {
    const why = source.linkEventsUnavailable;
    if (why !== undefined) logger.info({ interface: source.name, reason: why }, `link notifications not followed: the interface is checked every ${source.checkIntervalMs} ms`);
    source.listen({
      onGapStart: (reason) => {
        logger.warn({ interface: source.name, reason }, 'capture interrupted; resuming when the interface is back');
        void health();
      },
      onGapEnd: (gap) => {
        logger.info({ interface: gap.interfaceName, reason: gap.reason, gapMs: gap.durationMs }, 'capture resumed');
        localLog.emit(events.create(EventType.CAPTURE_LOSS, gap.reason,
          `Capture on ${gap.interfaceName} interrupted for ${(gap.durationMs / 1000).toFixed(1)} s (${gap.reason}); traffic in that time was not analysed`,
          gap.endMs * 1000, {
            interface: gap.interfaceName,
            gap_ms: gap.durationMs,
            gap_started_at: new Date(gap.startMs).toISOString(),
            gap_ended_at: new Date(gap.endMs).toISOString(),
          }));
        void health();
      },
    });
  }

  const idleClock = new IdleClock();
  // Packets reach the analysis up to this late (the kernel's block timeout, then the libpcap
  // engines' wake-up interval): idle expiry runs that far behind, so a SYN-ACK still in the
  // ring never turns its SYN into an unanswered one.
  const deliveryLagMicros = !live ? 0
    : (config.bufferTimeoutMs + (source.engine === CaptureEngine.CAP ? 0 : config.wakeupIntervalMs)) * 1000;
  const timers: NodeJS.Timeout[] = [
    setInterval(() => {
      pipeline.tick(idleClock.now(pipeline.lastPacketMicros) - deliveryLagMicros);
      pipeline.noteCaptureStats(source.stats(), Date.now() * 1000);
    }, TICK_INTERVAL_MS),
    setInterval(() => void health(), HEALTH_INTERVAL_MS),
  ];
  if (discovery) {
    const reconciler = new HealthReconciler(localLog, events);
    timers.push(setInterval(() => {
      reconciler.check(discovery.picture, pipeline.snapshot(0).classify.healthChecks.byLb, Date.now() * 1000);
    }, config.metricsIntervalSec * 1000));
  }
  if (config.summaryIntervalSec > 0) timers.push(setInterval(() => printSummary(false), config.summaryIntervalSec * 1000));

  let exitCode = 0;
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping: final summary, flushing the local log and CloudWatch');
      // Live: the kernel hands a partly filled block over only when the buffer timeout
      // expires, so what arrived just before the signal is still delivered if capture runs
      // that long (the batch engine reads the ring once more at stop, whatever its wake-up
      // interval); a file stops at once.
      const drainMs = live ? config.bufferTimeoutMs + DRAIN_MARGIN_MS : 0;
      const hardStop = setTimeout(() => resolveExit(exitCode), drainMs + SHUTDOWN_BUDGET_MS + 500);
      hardStop.unref();
      for (const t of timers) clearInterval(t);
      setTimeout(() => finish(hardStop), drainMs);
    };
    const finish = (hardStop: NodeJS.Timeout): void => {
      source.stop();
      // Open connections are not closed out: a SYN sent a moment ago is not "unanswered".
      pipeline.noteCaptureStats(source.stats(), Date.now() * 1000);
      localLog.close();
      printSummary(true);
      discovery?.stop();
      const ship = shipping;
      void (async () => {
        try {
          if (ship) {
            ship.nudge();
            const r = await ship.flush(SHUTDOWN_BUDGET_MS - 500);
            if (!r.caughtUp) logger.warn({}, 'CloudWatch not caught up at exit; the rest is shipped after the restart');
            await ship.stop();
          }
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'flush at exit failed; events stay in the local log');
        }
        clearTimeout(hardStop);
        resolveExit(exitCode);
      })();
    };
    // The interface vanished or libpcap failed: report it, flush, and exit non-zero so the
    // restart policy (systemd, docker) brings capture back.
    source.done.catch((err: unknown) => {
      captureFailed = true;
      const reason = err instanceof Error ? err.message : String(err);
      logger.error({ err: reason }, 'capture stopped');
      localLog.emit(events.create(EventType.CAPTURE_LOSS, 'capture_stopped', `Capture stopped: ${reason}`, Date.now() * 1000, {}));
      exitCode = 1;
      stop('capture failure');
    });
    onStopSignal = stop;
  });
}

async function main(): Promise<void> {
  useRuntimeFlags();
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env, { defaultInterface: () => defaultRouteInterface() });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) writeFdSync(2, `lb-traffic-analyzer: ${p}\n`);
      process.exit(2);
    }
    throw err;
  }
  // Help and version go to stdout as it is (blocking): the process ends right after, and a slow terminal must not cut them.
  if (parsed.kind === 'help') {
    writeFdSync(1, `${helpText(version())}\n`);
    return;
  }
  if (parsed.kind === 'version') {
    writeFdSync(1, `${version()}\n`);
    return;
  }
  const config = parsed.config;
  const logger = createLogger(config.logLevel);
  try {
    const code = await run(config, logger);
    process.exit(code);
  } catch (err) {
    if (err instanceof CaptureError || err instanceof LocalLogError) fail(1, err.message);
    if (err instanceof Error && /--cloudwatch on/.test(err.message)) fail(2, err.message);
    logger.fatal({ err }, 'unexpected failure');
    process.exit(1);
  }
}

void main();
