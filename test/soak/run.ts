/**
 * `npm run soak` (not a test): the analyzer under steady LB-like traffic for a long
 * time, sampling its resident memory and open file descriptors every minute. Fails
 * (exit 1) when either grew by more than 5 % between the end of the warm-up and the
 * end of the run, or when the kernel dropped packets.
 *
 * Traffic: the benchmark's LB-like capture (`.bench/`, generated when missing),
 * replayed in a loop with tcpreplay from a network namespace onto a veth pair whose
 * other end the analyzer captures. Bounded: tcpreplay stops after SOAK_MINUTES at
 * SOAK_PPS (count and duration both limited), and the run is killed after a margin.
 *
 * Options (env): SOAK_MINUTES (default 60), SOAK_PPS (default 20000),
 * SOAK_WARMUP_MINUTES (default 5, at most a third of the run), SOAK_ENGINE (pcap|cap),
 * SOAK_OUT (a JSON file for the samples). Needs root (namespaces, capture).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestNetwork } from '../helpers/netns.js';
import { generateLbTraffic } from '../helpers/lb-traffic.js';
import { NODE_FLAGS } from '../../agent/node-flags.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..', '..');
const MAIN = join(HERE, '..', '..', 'agent', 'main.js');
const CACHE = join(ROOT, '.bench');
const FILE_PACKETS = 1_000_000;

const num = (name: string, dflt: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw}: expected a positive number`);
  return n;
};

const MINUTES = num('SOAK_MINUTES', 60);
const PPS = num('SOAK_PPS', 20_000);
const WARMUP = Math.min(num('SOAK_WARMUP_MINUTES', 5), MINUTES / 3);
const ENGINE = process.env['SOAK_ENGINE'] ?? 'pcap';
const GROWTH_LIMIT = 0.05;

type Sample = { minute: number; rssMb: number; fds: number; cpuPct: number; packets: number };

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Packets the agent has analysed so far, from its health file (written every 10 s). */
function packetsSoFar(logs: string): number {
  try {
    const h = JSON.parse(readFileSync(join(logs, 'health.json'), 'utf8')) as { capture?: { packets?: number } };
    return Number(h.capture?.packets ?? 0);
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the soak needs root (network namespaces and live capture)');
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `lb-traffic-${FILE_PACKETS}.pcap`);
  if (!existsSync(file)) {
    process.stdout.write(`generating ${FILE_PACKETS.toLocaleString('en-US')} packets into ${file} ...\n`);
    generateLbTraffic(file, FILE_PACKETS);
  }
  const net = new TestNetwork();
  const logs = mkdtempSync(join(tmpdir(), 'lbta-soak-'));
  const samples: Sample[] = [];
  let failed = false;
  try {
    net.addNamespace('lbsk-soak');
    net.addVeth({ nameA: 'lbsk0', nameB: 'lbsk1', nsB: 'lbsk-soak' });
    const agent = spawn(process.execPath, [...NODE_FLAGS, MAIN, '-i', 'lbsk0', '--engine', ENGINE, '-l', logs, '--summary-format', 'json', '--summary-interval', '0', '--cloudwatch', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    agent.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.length > 1 << 20) out = out.slice(-(1 << 19)); });
    agent.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    const exited = new Promise<void>((r) => agent.on('exit', () => r()));
    const deadline = Date.now() + 30_000;
    while (!out.includes('"msg":"capturing"')) {
      if (Date.now() > deadline || agent.exitCode !== null) throw new Error(`agent did not start: ${out.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const pid = agent.pid as number;
    const seconds = Math.round(MINUTES * 60);
    const limit = Math.round(PPS * seconds);
    const replay = net.spawn('lbsk-soak', 'tcpreplay', ['-q', '-i', 'lbsk1', '--pps', String(PPS), '--loop', '0', '--limit', String(limit), '--duration', String(seconds), file]);
    const replayDone = new Promise<void>((r) => replay.on('exit', () => r()));
    process.stdout.write(`soak: ${MINUTES} min at ${PPS} pkt/s (${ENGINE} engine), warm-up ${WARMUP} min, agent pid ${pid}\n`);
    process.stdout.write('| minute | RSS MB | open fds | CPU % of one core | packets analysed |\n|---:|---:|---:|---:|---:|\n');
    const started = Date.now();
    let lastTicks = cpuTicks(pid);
    let lastAt = started;
    for (let minute = 1; minute <= Math.ceil(MINUTES); minute++) {
      const due = started + minute * 60_000;
      while (Date.now() < due && agent.exitCode === null) await new Promise((r) => setTimeout(r, Math.min(1000, due - Date.now())));
      if (agent.exitCode !== null) throw new Error(`the agent exited during the soak (code ${agent.exitCode}): ${out.slice(-2000)}`);
      const ticks = cpuTicks(pid);
      const now = Date.now();
      const s: Sample = { minute, rssMb: rssMb(pid), fds: readdirSync(`/proc/${pid}/fd`).length, cpuPct: (ticks - lastTicks) / ((now - lastAt) / 1000), packets: packetsSoFar(logs) };
      lastTicks = ticks;
      lastAt = now;
      samples.push(s);
      process.stdout.write(`| ${minute} | ${s.rssMb.toFixed(1)} | ${s.fds} | ${s.cpuPct.toFixed(1)} | ${s.packets.toLocaleString('en-US')} |\n`);
    }
    // Bounded: tcpreplay stops by count and duration; a margin, then it is killed.
    await Promise.race([replayDone, new Promise((r) => setTimeout(r, 30_000))]);
    agent.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    const final = out.split('\n').find((l) => l.startsWith('{"summary":"final"'));
    const summary = final ? (JSON.parse(final) as { capture?: { dropped?: number; if_dropped?: number }; totals?: { packets?: number } }) : {};
    const drops = Number(summary.capture?.dropped ?? 0) + Number(summary.capture?.if_dropped ?? 0);

    const base = samples.find((s) => s.minute >= WARMUP) ?? samples[0];
    const tail = samples.slice(-3);
    if (base === undefined || tail.length === 0) throw new Error('no samples taken');
    const endRss = Math.min(...tail.map((s) => s.rssMb));
    const endFds = Math.min(...tail.map((s) => s.fds));
    const rssGrowth = (endRss - base.rssMb) / base.rssMb;
    const fdGrowth = (endFds - base.fds) / base.fds;
    const verdicts = [
      `RSS ${base.rssMb.toFixed(1)} MB after warm-up (minute ${base.minute}) → ${endRss.toFixed(1)} MB at the end (${(100 * rssGrowth).toFixed(1)} %, limit ${100 * GROWTH_LIMIT} %)`,
      `open fds ${base.fds} → ${endFds} (${(100 * fdGrowth).toFixed(1)} %)`,
      `packets analysed ${Number(summary.totals?.packets ?? 0).toLocaleString('en-US')}, kernel drops ${drops}`,
    ];
    failed = rssGrowth > GROWTH_LIMIT || fdGrowth > GROWTH_LIMIT || drops > 0;
    process.stdout.write(`\n${verdicts.join('\n')}\nsoak ${failed ? 'FAILED' : 'passed'}\n`);
    const outFile = process.env['SOAK_OUT'];
    if (outFile) writeFileSync(outFile, JSON.stringify({ minutes: MINUTES, pps: PPS, engine: ENGINE, warmup: WARMUP, samples, rssGrowth, fdGrowth, drops, failed }, null, 2));
  } finally {
    net.destroy();
    rmSync(logs, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
