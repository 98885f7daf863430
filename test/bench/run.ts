/**
 * `npm run bench` (not a test): whole-pipeline figures, side by side in one run with
 * tshark and tcpdump on the same input, on this machine.
 *
 * 1. Offline: a generated capture of LB-like traffic (≥ 1M packets: keep-alive HTTP
 *    from load-balancer nodes with X-Forwarded-For and trace ids, 4xx/5xx, health
 *    checks, resets, refused SYNs, retransmissions) read with --read; tshark with TCP
 *    analysis and an HTTP display filter, tshark conversations, tcpdump -nn, tcpdump -w.
 * 2. Live: the same frames replayed with tcpreplay onto a veth pair at 20k pkt/s and at
 *    top speed; the analyzer captures with --engine pcap and --engine cap; CPU % of one
 *    core from /proc/PID/stat, kernel drops from the final summary.
 * 3. Memory: peak RSS with 100k tracked connections.
 *
 * Options (env): BENCH_PACKETS (default 1_000_000), BENCH_SKIP_LIVE=1, BENCH_OUT (markdown file to write).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TcpConversation, TcpOpt } from '../helpers/packet-builder.js';
import { PcapWriter } from '../helpers/pcap-writer.js';
import { TestNetwork } from '../helpers/netns.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..', '..');
const MAIN = join(HERE, '..', '..', 'agent', 'main.js');
const CACHE = join(ROOT, '.bench');
const PACKETS = Number(process.env['BENCH_PACKETS'] ?? 1_000_000);

type Row = { what: string; seconds: number; pps: number; cpu: number; rssMb: number | undefined; note: string };

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown';
  const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  const mem = Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024 / 1024);
  return `${cpu}, ${cpus().length} cores, ${mem} GiB, Linux ${kernel}, Node.js ${process.version}`;
}

/** LB-like traffic: the same mix the product meets behind an ALB. Deterministic. */
function generate(path: string, packets: number): number {
  const w = new PcapWriter(path);
  let t = 1_771_147_815_000_000;
  let seed = 42;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const lbNodes = ['198.18.60.11', '198.18.60.12', '198.18.60.13'];
  const target = '198.18.61.10';
  const body = 'x'.repeat(1200);
  const emit = (f: Buffer) => { t += 50; w.write(t, f); };
  // 300 keep-alive connections from the LB nodes, used round-robin.
  const conns: TcpConversation[] = [];
  for (let i = 0; i < 300; i++) {
    const c = new TcpConversation(lbNodes[i % 3] as string, target, 20000 + i, 8080, { c: 1000 + i * 7919, s: 90000 + i * 104729 });
    emit(c.seg(true, 'S', '', { options: Buffer.concat([TcpOpt.mss(8961), TcpOpt.sackPermitted(), TcpOpt.wscale(7)]) }));
    emit(c.seg(false, 'SA', '', { options: Buffer.concat([TcpOpt.mss(8961), TcpOpt.sackPermitted(), TcpOpt.wscale(7)]) }));
    emit(c.seg(true, 'A'));
    conns.push(c);
  }
  let extraPort = 40000;
  let req = 0;
  while (w.count < packets) {
    const c = conns[rnd(conns.length)] as TcpConversation;
    const r = rnd(1000);
    req++;
    const client = `203.0.${113 + (rnd(4) === 0 ? 0 : rnd(3))}.${rnd(250) + 1}`;
    const request = `GET /api/items/${rnd(5000)}?page=2 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: Mozilla/5.0\r\n` +
      `X-Forwarded-For: ${client}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n` +
      `X-Amzn-Trace-Id: Root=1-67891233-${req.toString(16).padStart(24, '0')}\r\nAccept: */*\r\n\r\n`;
    emit(c.seg(true, 'PA', request));
    const status = r < 940 ? '200 OK' : r < 985 ? '404 Not Found' : r < 995 ? '503 Service Unavailable' : '500 Internal Server Error';
    const res = `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    if (r % 97 === 0) {
      // A lost response segment: the retransmission comes later.
      const seq = c.sseq;
      emit(c.seg(false, 'PA', res));
      emit(c.seg(false, 'PA', res, { seq }));
    } else {
      emit(c.seg(false, 'PA', res));
    }
    emit(c.seg(true, 'A'));
    if (r % 50 === 0) {
      // A health check on its own connection.
      const h = new TcpConversation(lbNodes[rnd(3)] as string, target, extraPort++ % 60000 + 1024, 8080);
      for (const f of h.handshake()) emit(f);
      emit(h.seg(true, 'PA', 'GET /health HTTP/1.1\r\nHost: 198.18.61.10:8080\r\nConnection: close\r\nUser-Agent: ELB-HealthChecker/2.0\r\nAccept-Encoding: gzip, compressed\r\n\r\n'));
      emit(h.seg(false, 'PA', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'));
      emit(h.seg(false, 'FA'));
      emit(h.seg(true, 'FA'));
      emit(h.seg(false, 'A'));
    }
    if (r % 333 === 0) {
      // A refused connection and a reset one.
      const x = new TcpConversation(lbNodes[rnd(3)] as string, target, extraPort++ % 60000 + 1024, 8081);
      emit(x.seg(true, 'S'));
      emit(x.seg(false, 'RA'));
      const y = new TcpConversation(lbNodes[rnd(3)] as string, target, extraPort++ % 60000 + 1024, 8080);
      for (const f of y.handshake()) emit(f);
      emit(y.seg(false, 'RA'));
    }
  }
  w.close();
  return w.count;
}

/** Open 100k connections and leave them open: the table's memory at its default bound. */
function generateOpen(path: string, n: number): void {
  const w = new PcapWriter(path);
  let t = 1_771_147_815_000_000;
  for (let i = 0; i < n; i++) {
    const c = new TcpConversation(`198.18.${62 + (i >> 16)}.${(i >> 8) & 255}`, '198.18.61.10', 1024 + (i & 255) * 200 + (i % 200), 8080);
    for (const f of c.handshake()) { t += 2; w.write(t, f); }
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

function finalSummary(stdout: string): Record<string, Record<string, unknown>> {
  const line = stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
  return line ? (JSON.parse(line) as Record<string, Record<string, unknown>>) : {};
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, after the comm field
}

async function live(file: string, engine: string, pps: number | 'top', limit: number): Promise<Row> {
  const net = new TestNetwork();
  const logs = mkdtempSync(join(tmpdir(), 'lbta-bench-'));
  try {
    net.addNamespace('lbx-bench');
    net.addVeth({ nameA: 'lbxb0', nameB: 'lbxb1', nsB: 'lbx-bench' });
    const agent = spawn(process.execPath, [MAIN, '-i', 'lbxb0', '--engine', engine, '-l', logs, '--summary-format', 'json', '--summary-interval', '0', '--cloudwatch', 'off'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    agent.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<void>((r) => agent.on('exit', () => r()));
    const deadline = Date.now() + 30_000;
    while (!out.includes('"msg":"capturing"')) {
      if (Date.now() > deadline) throw new Error(`agent did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const pid = agent.pid as number;
    const hz = 100;
    const t0 = cpuTicks(pid);
    const w0 = Date.now();
    const rate = pps === 'top' ? ['--topspeed'] : ['--pps', String(pps)];
    net.exec('lbx-bench', 'tcpreplay', ['-q', '-i', 'lbxb1', ...rate, '--loop', '100', '--limit', String(limit), file]);
    await new Promise((r) => setTimeout(r, 500));
    const cpu = (cpuTicks(pid) - t0) / hz;
    const wall = (Date.now() - w0) / 1000;
    const rss = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    agent.kill('SIGTERM');
    await exited;
    const s = finalSummary(out);
    const cap = s['capture'] ?? {};
    const seen = Number(s['totals']?.['packets'] ?? 0);
    const drops = cap['dropped'] !== undefined ? `${String(cap['dropped'])} kernel drops, ${String(cap['if_dropped'])} interface drops` : `kernel drops not available (${limit - seen} packets missing)`;
    return {
      what: `live ${engine}, tcpreplay ${pps === 'top' ? 'top speed' : `${pps} pkt/s`}, ${limit.toLocaleString('en-US')} packets`,
      seconds: wall, pps: limit / wall, cpu, rssMb: rss,
      note: `${(100 * cpu / wall).toFixed(1)} % of one core; analysed ${seen.toLocaleString('en-US')}; ${drops}`,
    };
  } finally {
    net.destroy();
    rmSync(logs, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `lb-traffic-${PACKETS}.pcap`);
  if (!existsSync(file)) {
    process.stdout.write(`generating ${PACKETS.toLocaleString('en-US')} packets into ${file} ...\n`);
    generate(file, PACKETS);
  }
  const packets = PACKETS;
  const mb = statSync(file).size / 1e6;
  const rows: Row[] = [];
  const logs = mkdtempSync(join(tmpdir(), 'lbta-bench-'));
  const row = (what: string, r: { seconds: number; cpu: number; rssMb: number }, note = ''): Row =>
    ({ what, seconds: r.seconds, pps: packets / r.seconds, cpu: r.cpu, rssMb: r.rssMb, note });

  process.stdout.write('offline runs ...\n');
  const ours = timed(process.execPath, [MAIN, '--read', file, '-l', logs, '--summary-format', 'json', '--cloudwatch', 'off']);
  const s = finalSummary(ours.stdout);
  rows.push(row('lb-traffic-analyzer --read (full analysis)', ours,
    `${String(s['http_errors']?.['status_classes'] ? JSON.stringify(s['http_errors']['status_classes']) : '')} events ${JSON.stringify(s['events'] ?? {})}`));
  const oursS10 = timed(process.execPath, [MAIN, '--read', file, '-l', logs, '-s', '10', '--summary-format', 'json', '--cloudwatch', 'off']);
  rows.push(row('lb-traffic-analyzer --read -s 10', oursS10));
  rows.push(row('tshark TCP analysis + HTTP display filter', timed('tshark', ['-n', '-r', file, '-o', 'tcp.analyze_sequence_numbers:TRUE', '-Y', 'http', '-q'])));
  rows.push(row('tshark -q -z conv,tcp', timed('tshark', ['-n', '-r', file, '-q', '-z', 'conv,tcp'])));
  rows.push(row('tcpdump -nn -r (print every packet)', timed('bash', ['-c', `tcpdump -nn -r ${file} > /dev/null 2>&1`])));
  rows.push(row('tcpdump -r -w /dev/null (copy only)', timed('bash', ['-c', `tcpdump -r ${file} -w /dev/null 2>/dev/null`])));

  const openFile = join(CACHE, 'open-100k.pcap');
  if (!existsSync(openFile)) generateOpen(openFile, 100_000);
  const mem = timed(process.execPath, [MAIN, '--read', openFile, '-l', logs, '--summary-format', 'json', '--cloudwatch', 'off', '--idle-timeout', '86400']);
  const ms = finalSummary(mem.stdout);
  rows.push({ what: '100k open connections (--read)', seconds: mem.seconds, pps: 300_000 / mem.seconds, cpu: mem.cpu, rssMb: mem.rssMb,
    note: `peak tracked ${String(ms['connections']?.['tracked_peak'] ?? '?')}` });
  rmSync(logs, { recursive: true, force: true });

  if (process.env['BENCH_SKIP_LIVE'] !== '1' && process.getuid?.() === 0) {
    process.stdout.write('live runs ...\n');
    for (const engine of ['pcap', 'cap']) {
      rows.push(await live(file, engine, 20_000, 200_000));
      rows.push(await live(file, engine, 'top', 300_000));
    }
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
