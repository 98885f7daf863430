/**
 * `npm run bench` (not a test): whole-pipeline figures, side by side in one run with
 * tshark and tcpdump on the same input, on this machine.
 *
 * 1. Offline: a generated capture of LB-like traffic (≥ 1M packets: keep-alive HTTP
 *    from load-balancer nodes with X-Forwarded-For and trace ids, 4xx/5xx, health
 *    checks, resets, refused SYNs, retransmissions) read with --read; tshark with TCP
 *    analysis and an HTTP display filter, tshark conversations, tcpdump -nn, tcpdump -w.
 *    Where the full run's time goes: the start alone (1,000 packets of the same mix), and
 *    twice the packets, whose second half (the medians' difference) is what the analysis
 *    costs once started and JIT-compiled.
 * 2. Live: after a warm-up on other connections of the same mix and 200k packets at the
 *    measured rate (settling: see WARMUP_PACKETS), the next 200k frames replayed
 *    with tcpreplay onto a veth pair at 20k pkt/s (median of BENCH_LIVE_REPEATS runs for the
 *    batch and pcap engines) and at top speed; the analyzer captures with --engine batch
 *    (the default), pcap and cap; CPU % of one core from /proc/PID/stat, kernel drops from
 *    the final summary; the batch engine also with --wakeup-interval 0 and 100, the pcap
 *    engine with 0 (default 200). The last rows measure the batch and pcap engines' live sources alone, with a
 *    handler that only counts (pcap-floor.ts), and the agent on a quiet interface (idle: CPU and wake-ups
 *    over 30 s from each thread's schedstat, a tick count being too coarse there).
 * 3. Memory: peak RSS with 100k tracked connections (handshakes only; one answered HTTP
 *    request each; a TLS handshake each), and during a SYN flood from 1M distinct sources
 *    (the flood test's capture) with its exact counts checked.
 * 4. Live with the kernel filter (batch engine): 20k pkt/s at -s 1, 10 and 100, 100k pkt/s
 *    at -s 1 and 10; a one-second burst of 300k packets at 300k pkt/s with both libpcap engines,
 *    and 600k packets at top speed, sent by burst-sender.c (tcpreplay falls short of 300k pkt/s here).
 *
 * The agent runs with the Node.js options it is deployed with (agent/node-flags.ts), and so do
 * the live floor rows' sources.
 *
 * The headline offline pair (full analysis, tshark with TCP analysis) runs BENCH_OFFLINE_REPEATS
 * times, alternating, and shows the median: one run of either moves by a quarter on a shared VM;
 * so do the start-alone and twice-the-packets rows.
 *
 * 5. On Node.js 24, the image's runtime (fetched once with npm into .bench/): the full analysis,
 *    the three 100k-connection rows, and the batch engine at 20k and 100k pkt/s.
 *
 * Options (env): BENCH_PACKETS (default 1_000_000), BENCH_SKIP_LIVE=1, BENCH_LIVE_REPEATS (default 3),
 * BENCH_OFFLINE_REPEATS (default 3), BENCH_NODE24=0 (no Node.js 24 rows), BENCH_OUT (markdown file to write).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateLbTraffic } from '../helpers/lb-traffic.js';
import { TcpConversation } from '../helpers/packet-builder.js';
import { PcapWriter } from '../helpers/pcap-writer.js';
import { clientHelloRecord, tlsRecord } from '../helpers/tls-records.js';
import { proxyV2 } from '../unit/classify/bytes.js';
import { TestNetwork } from '../helpers/netns.js';
import { packNode24 } from '../helpers/docker.js';
import { writeSynFlood } from '../integration/flood/syn-flood-capture.js';
import { NODE_FLAGS } from '../../agent/node-flags.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..', '..');
const MAIN = join(HERE, '..', '..', 'agent', 'main.js');
/** The agent as it is deployed: its Node.js options, then main.js (arguments follow). */
const AGENT = [...NODE_FLAGS, MAIN];
const CACHE = join(ROOT, '.bench');
const PACKETS = Number(process.env['BENCH_PACKETS'] ?? 1_000_000);

type Row = { what: string; seconds: number; pps: number; cpu: number; rssMb: number | undefined; note: string };

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown';
  const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const mem = Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024 / 1024);
  return `${cpu}, ${cpus().length} cores, ${mem} GiB, Linux ${kernel}, Node.js ${process.version}`;
}

/**
 * What each of the 100k connections carries before it is left open: only the handshake (the
 * table's memory at its default bound), one answered keep-alive HTTP request (the classifier's
 * state of an HTTP connection), the same over IPv6 (addresses as texts are longer), or a TLS
 * handshake with a 1.3 KB ClientHello (that of a TLS one).
 */
type OpenKind = 'handshake' | 'http' | 'http6' | 'tls' | 'proxy';

const OPEN_TLS_HELLO = clientHelloRecord({ sni: 'shop.example.com', alpn: ['h2', 'http/1.1'], versions: [0x0304, 0x0303], padding: 1200 });
const OPEN_TLS_SERVER = Buffer.concat([tlsRecord(22, Buffer.alloc(90, 2), 0x0303), tlsRecord(20, Buffer.from([1]), 0x0303), tlsRecord(23, Buffer.alloc(1000, 3), 0x0303)]);
const OPEN_TLS_CLIENT = Buffer.concat([tlsRecord(20, Buffer.from([1]), 0x0303), tlsRecord(23, Buffer.alloc(53, 4), 0x0303)]);

/**
 * Open n connections of a kind and leave them open. Initial sequence numbers are spread over
 * the whole 32-bit space as real stacks pick them (RFC 6528): half of them are over 2^31,
 * which JavaScript cannot keep as a small integer, so a number kept in an object per
 * connection costs what it costs on real traffic (the files before 2026-12-07 13:00 UTC used
 * 1000 and 5000 for every connection).
 */
function generateOpen(path: string, n: number, kind: OpenKind): void {
  const w = new PcapWriter(path);
  let t = 1_771_147_815_000_000;
  const put = (f: Buffer): void => { t += 2; w.write(t, f); };
  for (let i = 0; i < n; i++) {
    const v6 = kind === 'http6';
    const client = v6 ? `2001:db8:62::${(i >> 8).toString(16)}` : `198.18.${62 + (i >> 16)}.${(i >> 8) & 255}`;
    const c = new TcpConversation(client, v6 ? '2001:db8:61::10' : '198.18.61.10', 1024 + (i & 255) * 200 + (i % 200), kind === 'tls' ? 443 : 8080,
      { c: Math.imul(i + 1, 0x9e3779b1) >>> 0, s: Math.imul(i + 1, 0x85ebca6b) >>> 0 });
    for (const f of c.handshake()) put(f);
    if (kind === 'http' || kind === 'http6') {
      put(c.seg(true, 'PA', `GET /api/items/${i} HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: curl/8.5.0\r\n` +
        `X-Forwarded-For: 203.0.${(i >> 8) & 255}.${i & 255}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n` +
        `X-Amzn-Trace-Id: Root=1-67891233-${String(i).padStart(24, '0')}\r\n\r\n`));
      put(c.seg(false, 'PA', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'));
      put(c.seg(true, 'A'));
    } else if (kind === 'proxy') {
      // An NLB with proxy protocol v2: the client's address in the header, the request after it.
      const header = proxyV2({ src: [203, 0, (i >> 8) & 255, i & 255], dst: [198, 18, 61, 10], sport: 1024 + (i % 60000), dport: 8080 });
      put(c.seg(true, 'PA', Buffer.concat([header, Buffer.from(`GET /api/items/${i} HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: curl/8.5.0\r\n\r\n`, 'latin1')])));
      put(c.seg(false, 'PA', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'));
      put(c.seg(true, 'A'));
    } else if (kind === 'tls') {
      put(c.seg(true, 'PA', OPEN_TLS_HELLO));
      put(c.seg(false, 'PA', OPEN_TLS_SERVER));
      put(c.seg(true, 'PA', OPEN_TLS_CLIENT));
      put(c.seg(false, 'PA', tlsRecord(23, Buffer.alloc(300, 5), 0x0303)));
      put(c.seg(true, 'A'));
    }
  }
  w.close();
}

/** Run a command under GNU time: wall seconds, CPU seconds, peak RSS. */
function timed(cmd: string, args: string[]): { seconds: number; cpu: number; rssMb: number; stdout: string } {
  const started = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.slice(-500)}`);
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [u, s, m] = last.split(' ').map(Number);
  return { seconds, cpu: (u ?? 0) + (s ?? 0), rssMb: (m ?? 0) / 1024, stdout: r.stdout };
}

type Timed = ReturnType<typeof timed>;

/** The run whose `by` is the median (the lower middle of an even count). */
function middle<T>(runs: T[], by: (r: T) => number): T {
  const sorted = [...runs].sort((a, b) => by(a) - by(b));
  return sorted[Math.floor((sorted.length - 1) / 2)] as T;
}

/** The run of median duration, and a note listing every run's. */
function median(runs: Timed[]): Timed & { spread: string } {
  const spread = runs.length > 1 ? `median of ${runs.length} runs: ${runs.map((r) => r.seconds.toFixed(2)).join(', ')} s` : '';
  return { ...middle(runs, (r) => r.seconds), spread };
}

function finalSummary(stdout: string): Record<string, Record<string, unknown>> {
  const line = stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
  return line ? (JSON.parse(line) as Record<string, Record<string, unknown>>) : {};
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, after the comm field
}

/**
 * Before each measured live run the agent is warmed up with WARMUP_PACKETS of the same mix
 * on connections of their own (target port 9080) at WARMUP_PPS, so the figures are those of
 * an agent that has been running (hot path JIT-compiled, tables populated); the measured
 * replay then starts at the capture's first packet. A summary a second tells how many
 * packets the warm-up brought, which the final totals leave out.
 *
 * 1M packets: V8 optimises a function after enough calls, and the ones that run per event
 * (a reset, a refusal, a 5xx: one request in a few hundred) were still being compiled for
 * ~20 s after a 300k-packet warm-up: in 10-s windows of one 50-s run at 20k pkt/s, the
 * first measured 6.6 % of a core, the next four 4.6-5.2 % (pcap engine).
 *
 * Then the rate changes (100k pkt/s, a pause, the measured rate), and the first seconds at
 * the new rate are a transient of that change: ~8 s after it V8's memory reducer runs three
 * compacting collections in a row (`--trace-gc`: "Mark-Compact (reduce)", 23 → 8 MB), which
 * an agent that keeps one rate does not repeat (none in the next 120 s at 20k pkt/s, nor in
 * 150 s at 5k). So a row at a fixed rate replays `limit` packets at that rate first (settling,
 * measured apart and shown in the note), then `limit` more, measured: the row's figure.
 */
const WARMUP_PACKETS = 1_000_000;
const WARMUP_PPS = 100_000;
function warmupFile(): string {
  const file = join(CACHE, `lb-traffic-warmup-${WARMUP_PACKETS}.pcap`);
  if (!existsSync(file)) generateLbTraffic(file, WARMUP_PACKETS, { targetPort: 9080 });
  return file;
}

/** Live runs of the headline row (20k pkt/s, default engine): CPU on a shared VM varies run to run. */
const LIVE_REPEATS = Number(process.env['BENCH_LIVE_REPEATS'] ?? 3);
const OFFLINE_REPEATS = Number(process.env['BENCH_OFFLINE_REPEATS'] ?? 3);

type LiveRun = { seconds: number; cpu: number; rssMb: number; seen: number; drops: string;
  /** CPU % of one core while settling at the measured rate (rows at a fixed rate), else undefined. */
  settlePct: number | undefined;
  /** The rate burst-sender reached (its own clock), for rows it sent; else undefined. */
  sentPps: number | undefined };

/**
 * Node.js 24, the runtime of the image (Dockerfile), unpacked once into .bench/ from the npm
 * package the container test uses: the rows "on Node.js 24" show what a deployed agent costs
 * (this machine's Node.js 20 runs the rest). BENCH_NODE24=0 leaves them out; so does a
 * failed download, with a line that says so.
 */
async function imageNode(): Promise<{ bin: string; name: string } | undefined> {
  if (process.env['BENCH_NODE24'] === '0') return undefined;
  const dir = join(CACHE, 'node24');
  try {
    const bin = join(dir, 'package', 'bin', 'node');
    if (!existsSync(bin)) await packNode24(dir);
    return { bin, name: `Node.js ${execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '')}` };
  } catch (err) {
    process.stdout.write(`no Node.js 24 rows: ${err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err)}\n`);
    return undefined;
  }
}

/**
 * The sender of the burst rows (test/bench/burst-sender.c, compiled here with the system's C
 * compiler): tcpreplay sends a frame per system call and falls short of 300k pkt/s on this VM.
 */
function burstSender(): string {
  const src = join(ROOT, 'test', 'bench', 'burst-sender.c');
  const bin = join(CACHE, 'burst-sender');
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) execFileSync('cc', ['-O2', '-Wall', '-o', bin, src]);
  return bin;
}

/**
 * After the last packet is sent, a live run waits this long for the agent to finish the tail
 * before reading its CPU: the CPU % is over the sending time plus this wait, the packets/s
 * column over the sending time alone (the rate sent).
 */
const DRAIN_MS = 500;

/** One capture process on a fresh veth: warm-up, then `limit` packets of `file` at `pps`, measured (with `settle`, after `limit` more at that rate). */
async function liveRun(argv: string[], file: string, pps: number | 'top', limit: number, ready: string, settle: boolean,
  analysed: (out: string, warmSeen: number) => { seen: number; drops: string }, sender?: string, node = process.execPath): Promise<LiveRun> {
  const net = new TestNetwork();
  try {
    net.addNamespace('lbx-bench');
    net.addVeth({ nameA: 'lbxb0', nameB: 'lbxb1', nsB: 'lbx-bench' });
    const proc = spawn(node, [...NODE_FLAGS, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<void>((r) => proc.on('exit', () => r()));
    const deadline = Date.now() + 30_000;
    while (!out.includes(ready)) {
      if (Date.now() > deadline) throw new Error(`capture did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    net.exec('lbx-bench', 'tcpreplay', ['-q', '-i', 'lbxb1', '--pps', String(WARMUP_PPS), warmupFile()]);
    // A summary a second: the last one after the warm-up says how many packets it brought.
    await new Promise((r) => setTimeout(r, 1500));
    const intervals = out.split('\n').filter((l) => l.startsWith('{"summary":"interval"'));
    const lastInterval = JSON.parse(intervals[intervals.length - 1] ?? '{}') as Record<string, Record<string, unknown>>;
    const warmSeen = Number(lastInterval['totals']?.['packets'] ?? 0);
    const pid = proc.pid as number;
    const hz = 100;
    const rate = pps === 'top' ? ['--topspeed'] : ['--pps', String(pps)];
    let settlePct: number | undefined;
    let t0: number;
    let w0: number;
    let sentPps: number | undefined;
    if (sender !== undefined) {
      // The clocks start once the sender has loaded its frames (its first line), before the first is sent.
      const send = net.spawn('lbx-bench', sender, ['lbxb1', file, String(limit), pps === 'top' ? '1e9' : String(pps)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let said = '';
      const sent = new Promise<number | null>((r) => send.on('exit', (code) => r(code)));
      send.stdout?.on('data', (d: Buffer) => { said += d.toString(); });
      while (!said.includes('\n') && send.exitCode === null) await new Promise((r) => setTimeout(r, 5));
      t0 = cpuTicks(pid);
      w0 = Date.now();
      const code = await sent;
      if (code !== 0) throw new Error(`burst-sender exited with ${String(code)}`);
      sentPps = Number((JSON.parse(said.trim().split('\n').pop() ?? '{}') as { pps?: number }).pps);
    } else if (settle && pps !== 'top') {
      // One replay of 2 x limit packets: the first half settles at this rate, the second is measured.
      const s0 = cpuTicks(pid);
      const sw0 = Date.now();
      const replay = net.spawn('lbx-bench', 'tcpreplay', ['-q', '-i', 'lbxb1', ...rate, '--limit', String(2 * limit), file], { stdio: 'ignore' });
      const replayed = new Promise<number | null>((r) => replay.on('exit', (code) => r(code)));
      await new Promise((r) => setTimeout(r, (1000 * limit) / pps));
      t0 = cpuTicks(pid);
      w0 = Date.now();
      settlePct = (100 * (t0 - s0)) / hz / ((w0 - sw0) / 1000);
      const code = await replayed;
      if (code !== 0) throw new Error(`tcpreplay exited with ${String(code)}`);
    } else {
      t0 = cpuTicks(pid);
      w0 = Date.now();
      net.exec('lbx-bench', 'tcpreplay', ['-q', '-i', 'lbxb1', ...rate, '--limit', String(limit), file]);
    }
    await new Promise((r) => setTimeout(r, DRAIN_MS));
    const cpu = (cpuTicks(pid) - t0) / hz;
    const wall = (Date.now() - w0) / 1000;
    const rss = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    proc.kill('SIGTERM');
    await exited;
    return { seconds: wall, cpu, rssMb: rss, settlePct, sentPps, ...analysed(out, warmSeen) };
  } finally {
    net.destroy();
  }
}

/**
 * How a live row sends (burst-sender instead of tcpreplay), which Node.js runs the agent (with its
 * name for the row), and what the capture is when not the benchmark file (said in the row).
 */
type LiveVia = { sender?: string; node?: { bin: string; name: string }; input?: string };

async function live(file: string, engine: string, pps: number | 'top', limit: number, sample = 1, label = '', repeats = 1, extra: string[] = [], via: LiveVia = {}): Promise<Row> {
  const runs: LiveRun[] = [];
  // Settling needs 2 x limit packets of the capture (a second pass would replay connections already seen).
  const settle = canSettle(pps, limit, label);
  const replayed = settle ? 2 * limit : limit;
  for (let i = 0; i < repeats; i++) {
    const logs = mkdtempSync(join(tmpdir(), 'lbta-bench-'));
    try {
      runs.push(await liveRun([MAIN, '-i', 'lbxb0', '--engine', engine, '-l', logs, '--summary-format', 'json', '--summary-interval', '1', '--cloudwatch', 'off', '-s', String(sample), ...extra],
        file, pps, limit, '"msg":"capturing"', settle, (out, warmSeen) => {
          const s = finalSummary(out);
          const cap = s['capture'] ?? {};
          // The warm-up's packets are in the totals too (the kernel filter may have left some out at -s N).
          const seen = Number(s['totals']?.['packets'] ?? 0) - warmSeen;
          const drops = cap['dropped'] !== undefined ? `${String(cap['dropped'])} kernel drops, ${String(cap['if_dropped'])} interface drops` : `kernel drops not available (${replayed - seen} packets missing)`;
          return { seen, drops };
        }, via.sender, via.node?.bin));
    } finally {
      rmSync(logs, { recursive: true, force: true });
    }
  }
  const pct = (r: LiveRun) => 100 * r.cpu / r.seconds;
  const mid = middle(runs, pct);
  const spread = runs.length > 1 ? ` (median of ${runs.length} runs: ${runs.map((r) => pct(r).toFixed(1)).join(', ')} %)` : '';
  const sent = mid.sentPps !== undefined ? `; sent at ${Math.round(mid.sentPps).toLocaleString('en-US')} pkt/s` : '';
  return {
    what: `live ${engine}${extra.length > 0 ? ` ${extra.join(' ')}` : ''} -s ${sample}${via.node ? ` on ${via.node.name}` : ''}${via.input ? `, ${via.input}` : ''}, ${label || `tcpreplay ${pps === 'top' ? 'top speed' : `${pps.toLocaleString('en-US')} pkt/s`}`}, ${limit.toLocaleString('en-US')} packets${settle ? ' after as many at that rate' : ''}`,
    seconds: mid.seconds, pps: limit / (mid.seconds - DRAIN_MS / 1000), cpu: mid.cpu, rssMb: mid.rssMb,
    note: `${pct(mid).toFixed(1)} % of one core${spread}${settleNote(runs)}${sent}; analysed ${mid.seen.toLocaleString('en-US')} of ${replayed.toLocaleString('en-US')}; ${runs.map((r) => r.drops).filter((d, i, a) => a.indexOf(d) === i).join(' / ')}`,
  };
}

/** Rows at a fixed rate settle first (see WARMUP_PACKETS), when the capture holds 2 x limit packets; not the burst. */
function canSettle(pps: number | 'top', limit: number, label: string): boolean {
  return pps !== 'top' && label === '' && 2 * limit <= PACKETS;
}

/** The settling halves' CPU, for the note: what the first seconds at the rate cost. */
function settleNote(runs: LiveRun[]): string {
  const s = runs.map((r) => r.settlePct).filter((v): v is number => v !== undefined);
  return s.length === 0 ? '' : `; while settling: ${s.map((v) => v.toFixed(1)).join(', ')} %`;
}

/**
 * The floor of delivery: test/bench/pcap-floor.ts opens an engine with the agent's settings
 * and only counts packets. Whatever the analysis costs comes on top of this, at the same rate.
 */
async function deliveryFloor(file: string, engine: 'pcap' | 'batch', pps: number, limit: number): Promise<Row> {
  const settle = canSettle(pps, limit, '');
  const r = await liveRun([join(HERE, 'pcap-floor.js'), 'lbxb0', engine], file, pps, limit, 'ready', settle, () => ({ seen: 0, drops: '' }));
  return {
    what: `${engine === 'pcap' ? 'node_pcap engine' : 'batch engine'} alone (no analysis: a handler that counts), tcpreplay ${pps.toLocaleString('en-US')} pkt/s, ${limit.toLocaleString('en-US')} packets${settle ? ' after as many at that rate' : ''}`,
    seconds: r.seconds, pps: limit / (r.seconds - DRAIN_MS / 1000), cpu: r.cpu, rssMb: r.rssMb,
    note: `${(100 * r.cpu / r.seconds).toFixed(1)} % of one core${settleNote([r])}: ${engine === 'pcap' ? 'a read per wake-up (200 ms), one JavaScript callback per packet' : 'a few dispatches per wake-up (200 ms), a handler call per packet'}`,
  };
}

/** CPU time (ns) of every thread of `pid` so far (schedstat: a tick count is too coarse for an idle process). */
function cpuNanos(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended meanwhile; what it used is in no file any more (none ends while idle).
    }
  }
  return ns;
}

const IDLE_SETTLE_MS = 10_000;
const IDLE_MS = 30_000;

/**
 * The agent on a quiet interface (default engine and settings): what it costs between
 * bursts and on an instance with no traffic. Measured from IDLE_SETTLE_MS after start (the
 * start and V8's memory reducer are over by then) for IDLE_MS, with the wake-ups counted.
 */
async function idle(): Promise<Row> {
  const net = new TestNetwork();
  const logs = mkdtempSync(join(tmpdir(), 'lbta-bench-'));
  try {
    net.addNamespace('lbx-bench');
    net.addVeth({ nameA: 'lbxb0', nameB: 'lbxb1', nsB: 'lbx-bench' });
    const proc = spawn(process.execPath, [...AGENT, '-i', 'lbxb0', '-l', logs, '--cloudwatch', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((r) => proc.on('exit', () => r()));
    const pid = proc.pid as number;
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const wakeups = (): number => Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    const n0 = cpuNanos(pid);
    const s0 = wakeups();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const cpu = (cpuNanos(pid) - n0) / 1e9;
    const switches = wakeups() - s0;
    const rss = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    proc.kill('SIGTERM');
    await exited;
    return { what: `idle: live batch -s 1 on a quiet interface, ${IDLE_MS / 1000} s`, seconds: IDLE_MS / 1000, pps: 0, cpu, rssMb: rss,
      note: `${(100 * cpu / (IDLE_MS / 1000)).toFixed(3)} % of one core; ${(switches / (IDLE_MS / 1000)).toFixed(1)} wake-ups a second (main thread); from ${IDLE_SETTLE_MS / 1000} s after start` };
  } finally {
    net.destroy();
    rmSync(logs, { recursive: true, force: true });
  }
}

const MIXED_INPUT = 'answers of 1.2 KB to 250 KB';

/** The benchmark's mix with answers of mixed sizes (generateLbTraffic's 'mixed'), PACKETS packets, cached. */
function mixedFile(): string {
  const f = join(CACHE, `lb-traffic-mixed-${PACKETS}.pcap`);
  if (!existsSync(f)) {
    process.stdout.write(`generating ${PACKETS.toLocaleString('en-US')} packets with mixed answer sizes into ${f} ...\n`);
    generateLbTraffic(f, PACKETS, { responses: 'mixed' });
  }
  return f;
}

async function main(): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `lb-traffic-${PACKETS}.pcap`);
  if (!existsSync(file)) {
    process.stdout.write(`generating ${PACKETS.toLocaleString('en-US')} packets into ${file} ...\n`);
    generateLbTraffic(file, PACKETS);
  }
  const packets = PACKETS;
  const mb = statSync(file).size / 1e6;
  const rows: Row[] = [];
  const logs = mkdtempSync(join(tmpdir(), 'lbta-bench-'));
  /** The agent reading a capture, with `extra` options (and another Node.js binary). */
  const read = (path: string, extra: string[] = [], logDir = logs, node = process.execPath): Timed =>
    timed(node, [...AGENT, '--read', path, '-l', logDir, '--summary-format', 'json', '--cloudwatch', 'off', ...extra]);
  const node24 = await imageNode();
  const row = (what: string, r: { seconds: number; cpu: number; rssMb: number }, note = ''): Row =>
    ({ what, seconds: r.seconds, pps: packets / r.seconds, cpu: r.cpu, rssMb: r.rssMb, note });

  process.stdout.write('offline runs ...\n');
  const oursRuns: Timed[] = [];
  const tsharkRuns: Timed[] = [];
  for (let i = 0; i < OFFLINE_REPEATS; i++) {
    oursRuns.push(read(file));
    tsharkRuns.push(timed('tshark', ['-n', '-r', file, '-o', 'tcp.analyze_sequence_numbers:TRUE', '-Y', 'http', '-q']));
  }
  const ours = median(oursRuns);
  const s = finalSummary(ours.stdout);
  rows.push(row('lb-traffic-analyzer --read (full analysis)', ours,
    `${ours.spread}; ${String(s['http_errors']?.['status_classes'] ? JSON.stringify(s['http_errors']['status_classes']) : '')} events ${JSON.stringify(s['events'] ?? {})}`));
  // Where the full run's time goes: the start alone (1,000 packets of the same mix: Node.js, the
  // modules, opening the file), and twice the packets, whose second half costs what the analysis
  // costs once started and JIT-compiled (the generator is seeded: its first half is the file above).
  const startPackets = 1000;
  const startFile = join(CACHE, `lb-traffic-${startPackets}.pcap`);
  if (!existsSync(startFile)) generateLbTraffic(startFile, startPackets);
  const start = median(Array.from({ length: OFFLINE_REPEATS }, () => read(startFile)));
  rows.push({ what: `lb-traffic-analyzer --read, ${startPackets.toLocaleString('en-US')} packets (the start alone)`, seconds: start.seconds,
    pps: startPackets / start.seconds, cpu: start.cpu,
    rssMb: start.rssMb, note: start.spread });
  const doubleFile = join(CACHE, `lb-traffic-${2 * PACKETS}.pcap`);
  if (!existsSync(doubleFile)) {
    process.stdout.write(`generating ${(2 * PACKETS).toLocaleString('en-US')} packets into ${doubleFile} ...\n`);
    generateLbTraffic(doubleFile, 2 * PACKETS);
  }
  const double = median(Array.from({ length: OFFLINE_REPEATS }, () => read(doubleFile)));
  rows.push({ what: `lb-traffic-analyzer --read, ${(2 * packets).toLocaleString('en-US')} packets`, seconds: double.seconds, pps: 2 * packets / double.seconds,
    cpu: double.cpu, rssMb: double.rssMb,
    note: `${double.spread}; the second ${packets.toLocaleString('en-US')} (medians' difference): ${(double.seconds - ours.seconds).toFixed(2)} s, ` +
      `${Math.round(packets / (double.seconds - ours.seconds)).toLocaleString('en-US')} pkt/s, ${(double.cpu - ours.cpu).toFixed(2)} s CPU` });
  const oursS10 = read(file, ['-s', '10']);
  rows.push(row('lb-traffic-analyzer --read -s 10', oursS10));
  rows.push(row('lb-traffic-analyzer --read -s 100', read(file, ['-s', '100'])));
  if (node24 !== undefined) {
    const runs = Array.from({ length: OFFLINE_REPEATS }, () => read(file, [], logs, node24.bin));
    const on24 = median(runs);
    const s24 = finalSummary(on24.stdout);
    const same = JSON.stringify(s24['http_errors']) === JSON.stringify(s['http_errors']) && JSON.stringify(s24['events']) === JSON.stringify(s['events']);
    rows.push(row(`lb-traffic-analyzer --read (full analysis) on ${node24.name}`, on24, `${on24.spread ? `${on24.spread}; ` : ''}${same ? 'the same status classes and events' : `DIFFERENT figures: ${JSON.stringify(s24['events'])}`}`));
  }
  const tshark = median(tsharkRuns);
  rows.push(row('tshark TCP analysis + HTTP display filter', tshark, tshark.spread));
  rows.push(row('tshark -q -z conv,tcp', timed('tshark', ['-n', '-r', file, '-q', '-z', 'conv,tcp'])));
  rows.push(row('tcpdump -nn -r (print every packet)', timed('bash', ['-c', `tcpdump -nn -r ${file} > /dev/null 2>&1`])));
  rows.push(row('tcpdump -r -w /dev/null (copy only)', timed('bash', ['-c', `tcpdump -r ${file} -w /dev/null 2>/dev/null`])));

  const openRuns: Array<[OpenKind, string, string]> = [
    ['handshake', 'open-100k-isn.pcap', '100k open connections (--read)'],
    ['http', 'open-100k-http-isn.pcap', '100k open HTTP connections, one answered request each (--read)'],
    ['tls', 'open-100k-tls-isn.pcap', '100k open TLS connections, handshake done (--read)'],
    ['http6', 'open-100k-http6-isn.pcap', '100k open IPv6 HTTP connections, one answered request each (--read)'],
    ['proxy', 'open-100k-proxy-isn.pcap', '100k open HTTP connections behind proxy protocol v2, one answered request each (--read)'],
  ];
  for (const [kind, name, what] of openRuns) {
    const openFile = join(CACHE, name);
    if (!existsSync(openFile)) generateOpen(openFile, 100_000, kind);
    const packets = kind === 'handshake' ? 300_000 : kind === 'tls' ? 800_000 : 600_000;
    for (const bin of node24 === undefined ? [undefined] : [undefined, node24]) {
      const mem = read(openFile, ['--idle-timeout', '86400'], logs, bin?.bin);
      rows.push({ what: bin === undefined ? what : `${what} on ${bin.name}`, seconds: mem.seconds, pps: packets / mem.seconds, cpu: mem.cpu, rssMb: mem.rssMb,
        note: `peak tracked ${String(finalSummary(mem.stdout)['connections']?.['tracked_peak'] ?? '?')}` });
    }
  }

  const floodFile = join(CACHE, 'syn-flood-1m.pcap');
  const expect = writeSynFlood(floodFile, { syns: 1_000_000 });
  const floodLogs = mkdtempSync(join(tmpdir(), 'lbta-bench-'));
  const flood = read(floodFile, ['--max-connections', '100000'], floodLogs);
  rmSync(floodLogs, { recursive: true, force: true });
  const fs = finalSummary(flood.stdout);
  const tcpErr = (fs['tcp_errors'] ?? {}) as Record<string, unknown>;
  rows.push({ what: 'SYN flood, 1M distinct sources (--read, --max-connections 100000)', seconds: flood.seconds, pps: expect.packets / flood.seconds, cpu: flood.cpu, rssMb: flood.rssMb,
    note: `refused ${String(tcpErr['refused'])} (exact: ${expect.refused}), resets ${String(tcpErr['resets_by_target'])} (exact: ${expect.resets}), evictions ${String(fs['connections']?.['evicted'] ?? '?')}` });
  rmSync(floodFile, { force: true });

  // The same mix with larger answers (see generateLbTraffic's `responses`): most packets are then
  // answer segments and ACKs, which the kernel filter thins at -s N, not heads.
  const mixed = mixedFile();
  const mixedRuns = Array.from({ length: OFFLINE_REPEATS }, () => read(mixed));
  const oursMixed = median(mixedRuns);
  const sm = finalSummary(oursMixed.stdout);
  rows.push(row(`lb-traffic-analyzer --read (full analysis), ${MIXED_INPUT}`, oursMixed,
    `${oursMixed.spread}; ${JSON.stringify(sm['http_errors']?.['status_classes'] ?? {})}, retransmissions ${String(sm['tcp_errors']?.['retransmissions'])}`));
  const tsharkMixed = timed('tshark', ['-n', '-r', mixed, '-o', 'tcp.analyze_sequence_numbers:TRUE', '-Y', 'http', '-q']);
  rows.push(row(`tshark TCP analysis + HTTP display filter, ${MIXED_INPUT}`, tsharkMixed,
    `${(tsharkMixed.cpu / oursMixed.cpu).toFixed(1)}x the CPU of the row above`));
  rmSync(logs, { recursive: true, force: true });

  if (process.env['BENCH_SKIP_LIVE'] !== '1' && process.getuid?.() === 0) {
    process.stdout.write('live runs ...\n');
    // batch is the default engine; pcap (node_pcap) is the one issue 2 names, so both get the repeated headline run.
    for (const engine of ['batch', 'pcap', 'cap']) {
      rows.push(await live(file, engine, 20_000, 200_000, 1, '', engine === 'cap' ? 1 : LIVE_REPEATS));
      rows.push(await live(file, engine, 'top', 300_000));
    }
    // The libpcap engines' wake-up interval (default 200 ms): every block, and 100 ms.
    for (const ms of [0, 100]) rows.push(await live(file, 'batch', 20_000, 200_000, 1, '', LIVE_REPEATS, ['--wakeup-interval', String(ms)]));
    rows.push(await live(file, 'pcap', 20_000, 200_000, 1, '', LIVE_REPEATS, ['--wakeup-interval', '0']));
    // The kernel filter at -s N, with the default engine.
    for (const sample of [10, 100]) rows.push(await live(file, 'batch', 20_000, 200_000, sample));
    for (const sample of [1, 10]) rows.push(await live(file, 'batch', 100_000, 1_000_000, sample));
    // Larger answers: at -s 10 the kernel filter keeps 1 flow in 10's answer segments and ACKs.
    for (const sample of [1, 10]) rows.push(await live(mixedFile(), 'batch', 20_000, 200_000, sample, '', sample === 1 ? LIVE_REPEATS : 1, [], { input: MIXED_INPUT }));
    // The burst: burst-sender reaches the rate, which tcpreplay does not here; then its top speed, past the target.
    const sender = burstSender();
    for (const engine of ['batch', 'pcap']) rows.push(await live(file, engine, 300_000, 300_000, 1, 'one-second burst at 300,000 pkt/s (burst-sender)', 1, [], { sender }));
    rows.push(await live(file, 'batch', 'top', 600_000, 1, 'burst-sender top speed', 1, [], { sender }));
    // The image's runtime: the default engine at 20k and 100k pkt/s.
    if (node24 !== undefined) {
      rows.push(await live(file, 'batch', 20_000, 200_000, 1, '', LIVE_REPEATS, [], { node: node24 }));
      rows.push(await live(file, 'batch', 100_000, 1_000_000, 1, '', 1, [], { node: node24 }));
    }
    for (const engine of ['batch', 'pcap'] as const) rows.push(await deliveryFloor(file, engine, 20_000, 200_000));
    rows.push(await idle());
  }

  const fmt = (n: number | undefined, d = 2) => (n === undefined ? '' : n.toLocaleString('en-US', { maximumFractionDigits: d }));
  const table = [
    `Machine: ${machine()}. Date: ${new Date().toISOString().slice(0, 10)}. Input: ${packets.toLocaleString('en-US')} packets, ${fmt(mb, 0)} MB (generated LB-like traffic, cached in .bench/).`,
    '',
    '| run | wall s | packets/s | CPU s | peak RSS MB | notes |',
    '|---|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.what} | ${fmt(r.seconds)} | ${fmt(r.pps, 0)} | ${fmt(r.cpu)} | ${fmt(r.rssMb, 0)} | ${r.note} |`),
  ].join('\n');
  process.stdout.write(`\n${table}\n`);
  const outFile = process.env['BENCH_OUT'];
  if (outFile) writeFileSync(outFile, `${table}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
