/**
 * What the flood and hostile-input tests share: reading the event log, and running the
 * real binary on one end of a veth pair while tcpreplay sends a capture from the other.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { netnsUnavailableReason, run, TestNetwork, waitFor } from '../../helpers/netns.js';
import { NODE_FLAGS } from '../../../agent/node-flags.js';

export const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url));
/** The agent as it is deployed (its Node.js options, agent/node-flags.ts), then main.js: these runs measure memory. */
export const AGENT: readonly string[] = [...NODE_FLAGS, MAIN];

export type Event = Record<string, unknown> & { type: string; reason: string };
export type Json = Record<string, Record<string, unknown>>;

/** Every event line of the local log in `dir` (none when it does not exist). */
export function readEvents(dir: string): Event[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^errors_.*\.log$/.test(n))
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Event);
}

/** Why a live replay cannot run here, or undefined. */
export function liveReplayUnavailable(): string | undefined {
  const why = netnsUnavailableReason();
  if (why !== undefined) return why;
  if (spawnSync('tcpreplay', ['--version']).error !== undefined) return 'tcpreplay is not installed: scripts/setup.sh --test installs it';
  return undefined;
}

export type LiveReplay = Readonly<{
  /** Namespace holding the sending end; interfaces of the pair; the /24 they use (e.g. '198.18.47'). */
  ns: string;
  targetIf: string;
  peerIf: string;
  subnet: string;
  file: string;
  pps: number;
  logs: string;
  /** Analyzer flags beyond -i, -l and the summary/CloudWatch settings. */
  args: readonly string[];
}>;

export type LiveResult = { code: number | null; stdout: string; stderr: string; summary: Json; peakRssMb: number };

/**
 * The analyzer captures `targetIf` while the capture is replayed once onto `peerIf` at
 * `pps` (bounded by the file's frame count); then SIGTERM and its final summary.
 */
export async function replayLive(net: TestNetwork, o: LiveReplay): Promise<LiveResult> {
  net.addNamespace(o.ns);
  net.addVeth({ nameA: o.targetIf, nameB: o.peerIf, nsB: o.ns, addrA: `${o.subnet}.1/24`, addrB: `${o.subnet}.2/24` });
  // No IPv6 chatter (router solicitations, MLD) on the captured link: only the replayed frames.
  run('sysctl', ['-qw', `net.ipv6.conf.${o.targetIf}.disable_ipv6=1`], { allowFail: true });
  net.exec(o.ns, 'sysctl', ['-qw', `net.ipv6.conf.${o.peerIf}.disable_ipv6=1`], { allowFail: true });
  const agent = spawn(process.execPath, [...AGENT, '-i', o.targetIf, '-l', o.logs, '--summary-format', 'json', '--summary-interval', '0',
    '--cloudwatch', 'off', ...o.args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  agent.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  agent.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => agent.on('exit', (c) => resolve(c)));
  let peakRssMb = 0;
  try {
    await waitFor(() => stdout.includes('"msg":"capturing"'), 20_000, 'the agent to start capturing');
    net.exec(o.ns, 'tcpreplay', ['-q', '-i', o.peerIf, '--pps', String(o.pps), o.file]);
    await new Promise((r) => setTimeout(r, 1000));
    peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${String(agent.pid)}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } finally {
    agent.kill('SIGTERM');
  }
  const code = await exited;
  const line = stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
  return { code, stdout, stderr, summary: line !== undefined ? (JSON.parse(line) as Json) : {}, peakRssMb };
}

/** "ip:port" of the client of each event of `reason` that stands for itself (not a rate-limit summary), sorted. */
export function clientsOf(events: readonly Event[], reason: string, target: string): string[] {
  return events
    .filter((x) => x.reason === reason && x['suppressed'] === undefined)
    .map((x) => (x['src_ip'] === target ? `${String(x['dst_ip'])}:${String(x['dst_port'])}` : `${String(x['src_ip'])}:${String(x['src_port'])}`))
    .sort();
}
