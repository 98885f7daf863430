/**
 * Test networks made of real network namespaces and veth pairs (iproute2).
 * Addresses come from 198.18.0.0/15 (RFC 2544 benchmarking range); traffic never
 * leaves the machine. Everything created is removed by destroy(), which tests call
 * in `after()` so a failing test still cleans up; stale leftovers of a crashed
 * run with the same names are removed on creation.
 *
 * Layout used by most tests: the *target* end of a veth pair stays in the root
 * namespace (so an in-process capture or a child analyzer can open it), the
 * *peer* end (clients, a load balancer) lives in a namespace of its own.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export function run(cmd: string, args: readonly string[], opts: { allowFail?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** The first of `tools` that is not on the PATH, said as why a test is skipped; undefined when all are. */
export function missingTools(tools: readonly string[]): string | undefined {
  for (const tool of tools) {
    try { execFileSync('which', [tool], { stdio: 'ignore' }); } catch { return `${tool} is not installed (scripts/setup.sh --test installs it)`; }
  }
  return undefined;
}

/** Why network tests cannot run here, or undefined when they can. */
export function netnsUnavailableReason(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespace tests need root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (ip) is not installed';
  }
  return undefined;
}

export type VethSpec = Readonly<{
  /** Interface name in the root namespace or in nsA (≤ 15 characters). */
  nameA: string;
  nameB: string;
  /** Namespace of each end; undefined = root namespace. */
  nsA?: string | undefined;
  nsB?: string | undefined;
  /** Addresses with prefix, e.g. 198.18.1.1/24. */
  addrA?: string | undefined;
  addrB?: string | undefined;
  addr6A?: string | undefined;
  addr6B?: string | undefined;
}>;

export class TestNetwork {
  readonly #namespaces: string[] = [];
  readonly #links: string[] = [];
  readonly #children: ChildProcess[] = [];

  /** Create (or re-create) a namespace with loopback up. */
  addNamespace(name: string): string {
    run('ip', ['netns', 'del', name], { allowFail: true });
    // Re-creating a name just deleted can race with the old mount going away
    // ("Invalid netns value"): retry until the new namespace answers.
    for (let attempt = 0; ; attempt++) {
      run('ip', ['netns', 'add', name], { allowFail: attempt > 0 });
      try {
        run('ip', ['-n', name, 'link', 'show', 'lo']);
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        run('ip', ['netns', 'del', name], { allowFail: true });
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
    }
    this.#namespaces.push(name);
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** Create a veth pair, move ends into namespaces, address them, bring them up. */
  addVeth(spec: VethSpec): void {
    run('ip', ['link', 'del', spec.nameA], { allowFail: true });
    run('ip', ['link', 'del', spec.nameB], { allowFail: true });
    run('ip', ['link', 'add', spec.nameA, 'type', 'veth', 'peer', 'name', spec.nameB]);
    if (!spec.nsA) this.#links.push(spec.nameA);
    else if (!spec.nsB) this.#links.push(spec.nameB);
    const ends: [string, string | undefined, string | undefined, string | undefined][] = [
      [spec.nameA, spec.nsA, spec.addrA, spec.addr6A],
      [spec.nameB, spec.nsB, spec.addrB, spec.addr6B],
    ];
    for (const [name, ns, addr, addr6] of ends) {
      if (ns) {
        for (let attempt = 0; ; attempt++) {
          try {
            run('ip', ['link', 'set', name, 'netns', ns]);
            break;
          } catch (err) {
            if (attempt >= 20) throw err;
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
          }
        }
      }
      const ipArgs = ns ? ['-n', ns] : [];
      // Offloads would hand the capture 64 KB super-segments; real NICs on EC2 show MTU-sized ones.
      if (ns) run('ip', ['netns', 'exec', ns, 'ethtool', '-K', name, 'tso', 'off', 'gso', 'off', 'gro', 'off'], { allowFail: true });
      else run('ethtool', ['-K', name, 'tso', 'off', 'gso', 'off', 'gro', 'off'], { allowFail: true });
      if (addr) run('ip', [...ipArgs, 'addr', 'add', addr, 'dev', name]);
      if (addr6) run('ip', [...ipArgs, 'addr', 'add', addr6, 'dev', name, 'nodad']);
      run('ip', [...ipArgs, 'link', 'set', name, 'up']);
    }
  }

  /** Run a command inside a namespace and return its stdout. */
  exec(ns: string, cmd: string, args: readonly string[], opts: { allowFail?: boolean } = {}): string {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  /** Start a long-running process inside a namespace (or the root one when ns is undefined); killed by destroy(). */
  spawn(ns: string | undefined, cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const child = ns
      ? spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'pipe', ...opts })
      : spawn(cmd, [...args], { stdio: 'pipe', ...opts });
    this.#children.push(child);
    return child;
  }

  /** Kill every child, delete every link and namespace. Safe to call twice. */
  destroy(): void {
    for (const c of this.#children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    for (const l of this.#links.splice(0)) run('ip', ['link', 'del', l], { allowFail: true });
    for (const n of this.#namespaces.splice(0)) run('ip', ['netns', 'del', n], { allowFail: true });
  }
}

/** Wait until `fn` returns true, polling; throws after `timeoutMs`. */
export async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
