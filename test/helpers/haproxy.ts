/**
 * haproxy as a stand-in AWS load balancer for integration tests (see DESIGN,
 * "Real components in tests"): an ALB-like HTTP frontend adding X-Forwarded-*
 * and an X-Amzn-Trace-Id-style header with ELB-HealthChecker/2.0 checks, an
 * NLB-like TCP frontend with send-proxy-v2 (its TCP checks then carry a PROXY v2
 * LOCAL header), and CLB-like ones (ELB-HealthChecker/1.0 checks; proxy v1).
 * The config is generated from a small spec so tests say what they mean.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { TestNetwork } from './netns.js';

export function haproxyUnavailableReason(): string | undefined {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'haproxy is not installed (scripts/setup.sh --test installs it)';
  }
}

export type LbStyle = 'alb' | 'nlb' | 'clb-http' | 'clb-tcp';

export type BackendSpec = Readonly<{
  name: string;
  style: LbStyle;
  /** target address:port */
  server: string;
  /** Health checks every `checkIntervalMs` (HTTP styles: GET checkPath; NLB: TCP with PROXY v2 LOCAL). */
  check?: boolean;
  checkPath?: string;
  checkIntervalMs?: number;
}>;

export type FrontendSpec = Readonly<{
  name: string;
  style: LbStyle;
  /** address:port to listen on */
  bind: string;
  defaultBackend: string;
  /** path prefix → backend name (HTTP styles only) */
  routes?: Readonly<Record<string, string>>;
}>;

export type HaproxySpec = Readonly<{
  frontends: readonly FrontendSpec[];
  backends: readonly BackendSpec[];
  /** Admin socket, used to stop checks at a known moment. */
  statsSocket: string;
  /** `timeout check`: how long a check waits for its answer. */
  checkTimeoutMs?: number;
}>;

const isHttp = (s: LbStyle): boolean => s === 'alb' || s === 'clb-http';

export function haproxyConfig(spec: HaproxySpec): string {
  const out: string[] = [
    'global',
    '  maxconn 512',
    `  stats socket ${spec.statsSocket} level admin`,
    'defaults',
    '  timeout connect 2s',
    '  timeout client 10s',
    '  timeout server 10s',
    `  timeout check ${spec.checkTimeoutMs ?? 1000}ms`,
    // Retry only a failed connect, never a request that reached the target (as an ALB).
    '  retries 0',
  ];
  for (const f of spec.frontends) {
    out.push(`frontend ${f.name}`, `  mode ${isHttp(f.style) ? 'http' : 'tcp'}`, `  bind ${f.bind}`);
    if (isHttp(f.style)) {
      out.push('  option forwardfor', '  http-request set-header X-Forwarded-Proto http', `  http-request set-header X-Forwarded-Port ${f.bind.split(':').pop() ?? ''}`);
      if (f.style === 'alb') {
        // ALB keeps an incoming trace id's Root and otherwise starts one.
        out.push('  http-request set-header X-Amzn-Trace-Id "Root=1-%[date,hex]-%[uuid]" unless { req.hdr(X-Amzn-Trace-Id) -m found }');
      }
      for (const [prefix, backend] of Object.entries(f.routes ?? {})) out.push(`  use_backend ${backend} if { path_beg ${prefix} }`);
    }
    out.push(`  default_backend ${f.defaultBackend}`);
  }
  for (const b of spec.backends) {
    out.push(`backend ${b.name}`, `  mode ${isHttp(b.style) ? 'http' : 'tcp'}`);
    if (isHttp(b.style) && b.check === true) {
      const ua = b.style === 'alb' ? 'ELB-HealthChecker/2.0' : 'ELB-HealthChecker/1.0';
      out.push('  option httpchk', `  http-check send meth GET uri ${b.checkPath ?? '/health'} ver HTTP/1.1 hdr Host target hdr User-Agent ${ua}`);
    }
    const proxy = b.style === 'nlb' ? ' send-proxy-v2' : b.style === 'clb-tcp' ? ' send-proxy' : '';
    const check = b.check === true ? ` check inter ${b.checkIntervalMs ?? 300}ms` : '';
    out.push(`  server s ${b.server}${proxy}${check}`);
  }
  return out.join('\n') + '\n';
}

export class Haproxy {
  readonly #net: TestNetwork;
  readonly #spec: HaproxySpec;
  #child: ChildProcess | undefined;
  #stderr = '';

  constructor(net: TestNetwork, spec: HaproxySpec) {
    this.#net = net;
    this.#spec = spec;
  }

  /** Start in namespace `ns` with the config written to `configPath`; resolves when the admin socket answers. */
  async start(ns: string, configPath: string): Promise<void> {
    writeFileSync(configPath, haproxyConfig(this.#spec));
    execFileSync('haproxy', ['-c', '-q', '-f', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const child = this.#net.spawn(ns, 'haproxy', ['-db', '-f', configPath]);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => { if (this.#stderr.length < 8192) this.#stderr += s; });
    this.#child = child;
    const deadline = Date.now() + 5000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited: ${this.#stderr.trim()}`);
      try {
        await this.command('show info');
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`haproxy did not open ${this.#spec.statsSocket}: ${this.#stderr.trim()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** One admin-socket command, e.g. "disable health be/s" (the socket is a file: reachable from any namespace). */
  command(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = connect(this.#spec.statsSocket);
      let out = '';
      const timer = setTimeout(() => { sock.destroy(); reject(new Error(`haproxy admin socket: no answer to "${cmd}"`)); }, 2000);
      sock.setEncoding('utf8');
      sock.on('connect', () => sock.write(`${cmd}\n`));
      sock.on('data', (d: string) => { out += d; });
      sock.on('error', (err) => { clearTimeout(timer); reject(err); });
      sock.on('close', () => { clearTimeout(timer); resolve(out); });
    });
  }

  /** Stop every health check now, so the number of checks in a capture is settled. */
  async stopChecks(): Promise<void> {
    for (const b of this.#spec.backends) {
      if (b.check !== true) continue;
      const answer = await this.command(`disable health ${b.name}/s`);
      if (answer.trim() !== '') throw new Error(`haproxy refused "disable health ${b.name}/s": ${answer.trim()}`);
    }
  }

  get stderr(): string { return this.#stderr; }

  stop(): void {
    if (this.#child !== undefined && this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}
