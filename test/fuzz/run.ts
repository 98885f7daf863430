/**
 * The fuzzer's command line and supervisor.
 *
 *   node dist/test/fuzz/run.js <target|all> [seconds] [--runs N] [--seed N]
 *        [--out DIR (new inputs go to DIR/<target>)] [--artifacts DIR] [--max-heap MB] [--timeout-ms MS] [--quiet]
 *   node dist/test/fuzz/run.js <target> --repro FILE...
 *
 * Each target runs in a worker thread with a heap limit; the supervisor watches a
 * shared exec counter, so an input that hangs (no progress for --timeout-ms) or
 * exhausts the heap is saved as a reproducer like one that throws. The last line per
 * target is `FUZZ-RESULT {json}`. Exit status: 0 clean, 1 a crash, 2 bad usage.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { repoRoot } from '../helpers/repo-root.js';
import { Shared, type EngineResult } from './engine/engine.js';
import type { WorkerInput, WorkerMessage } from './engine/worker.js';
import { TARGET_NAMES, type TargetName } from './target.js';

/** Largest input any target may ask for (shared-memory copy of the current input). */
const MAX_INPUT = 1 << 20;

export type RunOptions = Readonly<{
  target: TargetName;
  seconds: number;
  runs: number;
  seed: number;
  corpusDirs: readonly string[];
  outDir: string | undefined;
  artifactDir: string;
  maxHeapMb: number;
  timeoutMs: number;
  quiet: boolean;
}>;

/** Heap limits: the pipeline target keeps one long-lived Pipeline, so its bound is the memory check. */
const HEAP_MB: Partial<Record<TargetName, number>> = { pipeline: 128 };

export function defaultCorpus(target: string): string {
  return join(repoRoot(import.meta.url), 'test', 'fuzz', 'corpus', target);
}

function save(dir: string, kind: string, target: string, data: Uint8Array): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${kind}-${target}-${createHash('sha1').update(data).digest('hex')}`);
  writeFileSync(path, data);
  return path;
}

/** Runs one target to its end (time, runs or first crash). */
export function runTarget(o: RunOptions): Promise<EngineResult> {
  const shared = new SharedArrayBuffer(Shared.INTS * 4 + MAX_INPUT);
  const header = new Int32Array(shared, 0, Shared.INTS);
  const input: WorkerInput = {
    targetUrl: new URL(`./targets/${o.target}.js`, import.meta.url).href,
    corpusDirs: o.corpusDirs, outDir: o.outDir, artifactDir: o.artifactDir,
    seconds: o.seconds, runs: o.runs, seed: o.seed, slowMs: o.timeoutMs / 2,
    shared, sharedInts: Shared.INTS, quiet: o.quiet,
  };
  const worker = new Worker(new URL('./engine/worker.js', import.meta.url), {
    workerData: input,
    resourceLimits: { maxOldGenerationSizeMb: o.maxHeapMb },
    stdout: false,
    stderr: false,
  });
  const started = Date.now();
  const current = (): Uint8Array => new Uint8Array(shared, Shared.INTS * 4, Atomics.load(header, Shared.LEN)).slice();
  const failed = (kind: string, message: string): EngineResult => {
    const artifact = save(o.artifactDir, kind, o.target, current());
    return {
      target: o.target, seed: o.seed, execs: Atomics.load(header, Shared.EXECS), seconds: (Date.now() - started) / 1000,
      execsPerSec: 0, seeds: 0, corpus: 0, newInputs: 0, covered: 0, counters: 0, features: 0, slowestMs: 0,
      crash: { kind, artifact, message },
    };
  };
  return new Promise((resolve) => {
    let done = false;
    let lastExecs = -1;
    let lastProgress = Date.now();
    let watching = false;
    const finish = (r: EngineResult): void => {
      if (done) return;
      done = true;
      clearInterval(watchdog);
      resolve(r);
    };
    const watchdog = setInterval(() => {
      if (!watching) return;
      const n = Atomics.load(header, Shared.EXECS);
      const now = Date.now();
      if (n !== lastExecs) {
        lastExecs = n;
        lastProgress = now;
      } else if (now - lastProgress > o.timeoutMs) {
        const r = failed('timeout', `no progress for ${now - lastProgress} ms on one input`);
        void worker.terminate();
        finish(r);
      }
    }, 100);
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'ready') { watching = true; lastProgress = Date.now(); }
      else if (m.kind === 'log') process.stderr.write(`[${o.target}] ${m.line}\n`);
      else finish(m.result);
    });
    worker.on('error', (e: Error & { code?: string }) => {
      const kind = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'oom' : 'crash';
      finish(failed(kind, e.stack ?? String(e)));
    });
    worker.on('exit', (code) => {
      if (!done) finish(failed('crash', `worker exited with code ${code} before reporting`));
    });
  });
}

function usage(msg: string): never {
  process.stderr.write(`${msg}\nusage: run.js <${TARGET_NAMES.join('|')}|all> [seconds] [--runs N] [--seed N] [--out DIR] [--artifacts DIR] [--max-heap MB] [--timeout-ms MS] [--quiet] [--repro FILE...]\n`);
  process.exit(2);
}

async function main(argv: readonly string[]): Promise<number> {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  const repro: string[] = [];
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--quiet') quiet = true;
    else if (a === '--repro') { repro.push(...argv.slice(i + 1)); break; }
    else if (a.startsWith('--')) {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      flags.set(a.slice(2), v);
    } else positional.push(a);
  }
  const which = positional[0];
  if (which === undefined) usage('no target');
  const targets: TargetName[] = which === 'all' ? [...TARGET_NAMES] : [which as TargetName];
  for (const t of targets) if (!(TARGET_NAMES as readonly string[]).includes(t)) usage(`unknown target ${t}`);
  const num = (name: string, dflt: number): number => {
    const v = flags.get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) usage(`--${name} ${v}: not a number`);
    return n;
  };
  const seconds = positional[1] !== undefined ? Number(positional[1]) : num('seconds', 60);
  if (!Number.isFinite(seconds)) usage(`seconds: ${positional[1]}`);
  const artifactDir = flags.get('artifacts') ?? join(tmpdir(), 'lbta-fuzz', 'artifacts');
  const out = flags.get('out');
  let crashed = false;
  for (const t of targets) {
    const r = await runTarget({
      target: t,
      seconds: repro.length > 0 ? 0 : seconds,
      runs: repro.length > 0 ? 0 : num('runs', Number.MAX_SAFE_INTEGER),
      seed: num('seed', (Date.now() ^ (process.pid << 16)) >>> 0),
      corpusDirs: repro.length > 0 ? repro : [defaultCorpus(t), ...(out !== undefined ? [join(out, t)] : [])],
      outDir: out !== undefined && repro.length === 0 ? join(out, t) : undefined,
      artifactDir,
      maxHeapMb: num('max-heap', HEAP_MB[t] ?? 256),
      timeoutMs: num('timeout-ms', 4000),
      quiet,
    });
    if (r.crash !== undefined) {
      crashed = true;
      process.stderr.write(`CRASH ${r.crash.kind} in ${t}; reproducer: ${r.crash.artifact}\n${r.crash.message}\n`);
    }
    process.stdout.write(`FUZZ-RESULT ${JSON.stringify(r)}\n`);
  }
  return crashed ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
