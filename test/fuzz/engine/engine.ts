/**
 * The fuzzing loop (runs in a worker thread, see run.ts): seeds, then pick a corpus
 * entry, mutate it, run the target, keep the input when it reached a new feature.
 * A feature is an istanbul counter (a statement or a branch arm of agent/ code) hit
 * with a new bucketed count (1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+), as libFuzzer
 * counts its edge counters. Before each run the input is copied into shared memory
 * so the supervisor can save it if the worker hangs or runs out of heap.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FuzzTarget } from '../target.js';
import { COVERAGE_VARIABLE } from './coverage-variable.js';
import { Mutator, Rng } from './mutator.js';

type FileCoverage = { s: Record<number, number>; b: Record<number, number[]> };

/** Shared-memory layout between the worker and the supervisor. */
export const Shared = { EXECS: 0, LEN: 1, INTS: 4 } as const;

export type EngineOptions = Readonly<{
  target: FuzzTarget;
  corpusDirs: readonly string[];
  /** Where new interesting inputs are written (none: kept in memory only). */
  outDir: string | undefined;
  artifactDir: string;
  seconds: number;
  runs: number;
  seed: number;
  /** A single run slower than this is a crash ("slow unit"): bounded work per input. */
  slowMs: number;
  header: Int32Array;
  input: Uint8Array;
  log: (line: string) => void;
}>;

export type EngineResult = Readonly<{
  target: string;
  seed: number;
  execs: number;
  seconds: number;
  execsPerSec: number;
  seeds: number;
  corpus: number;
  newInputs: number;
  /** Counters (statements + branch arms) of agent/ code hit at least once / all loaded. */
  covered: number;
  counters: number;
  features: number;
  slowestMs: number;
  crash?: Readonly<{ kind: string; artifact: string; message: string }>;
  report?: Readonly<Record<string, number>>;
}>;

function bucket(c: number): number {
  if (c <= 3) return c - 1;
  if (c < 8) return 3;
  if (c < 16) return 4;
  if (c < 32) return 5;
  if (c < 128) return 6;
  return 7;
}

class CoverageMap {
  #files: FileCoverage[] = [];
  #sizes: number[] = [];
  #branchSizes: number[][] = [];
  #seen = new Uint8Array(0);
  #known = 0;
  counters = 0;
  covered = 0;
  features = 0;

  /** Pick up modules loaded since the last call (their counters start unseen). */
  refresh(): void {
    const all = (globalThis as Record<string, unknown>)[COVERAGE_VARIABLE] as Record<string, FileCoverage> | undefined;
    if (all === undefined) return;
    const keys = Object.keys(all);
    if (keys.length === this.#known) return;
    this.#files = [];
    this.#sizes = [];
    this.#branchSizes = [];
    let total = 0;
    for (const k of keys) {
      const f = all[k] as FileCoverage;
      const ns = Object.keys(f.s).length;
      const bs = Object.keys(f.b).map((id) => (f.b[Number(id)] as number[]).length);
      this.#files.push(f);
      this.#sizes.push(ns);
      this.#branchSizes.push(bs);
      total += ns + bs.reduce((a, b) => a + b, 0);
    }
    const seen = new Uint8Array(total);
    seen.set(this.#seen.subarray(0, Math.min(this.#seen.length, total)));
    this.#seen = seen;
    this.counters = total;
    this.#known = keys.length;
  }

  /** Read and reset every counter; returns how many new features this run reached. */
  collect(): number {
    const seen = this.#seen;
    let idx = 0;
    let fresh = 0;
    for (let fi = 0; fi < this.#files.length; fi++) {
      const f = this.#files[fi] as FileCoverage;
      const s = f.s;
      const ns = this.#sizes[fi] as number;
      for (let i = 0; i < ns; i++, idx++) {
        const c = s[i] as number;
        if (c !== 0) {
          s[i] = 0;
          const bit = 1 << bucket(c);
          const old = seen[idx] as number;
          if ((old & bit) === 0) {
            if (old === 0) this.covered++;
            seen[idx] = old | bit;
            fresh++;
          }
        }
      }
      const bsz = this.#branchSizes[fi] as number[];
      for (let bi = 0; bi < bsz.length; bi++) {
        const arms = f.b[bi] as number[];
        const n = bsz[bi] as number;
        for (let j = 0; j < n; j++, idx++) {
          const c = arms[j] as number;
          if (c !== 0) {
            arms[j] = 0;
            const bit = 1 << bucket(c);
            const old = seen[idx] as number;
            if ((old & bit) === 0) {
              if (old === 0) this.covered++;
              seen[idx] = old | bit;
              fresh++;
            }
          }
        }
      }
    }
    this.features += fresh;
    return fresh;
  }
}

function sha1(data: Uint8Array): string {
  return createHash('sha1').update(data).digest('hex');
}

/** Every file of each directory (or the file itself), in name order. */
function readCorpus(dirs: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      if (statSync(dir).isFile()) { out.push(readFileSync(dir)); continue; }
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (statSync(p).isFile()) out.push(readFileSync(p));
    }
  }
  return out;
}

function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

export async function fuzz(opts: EngineOptions): Promise<EngineResult> {
  const { target, header, input } = opts;
  const maxLen = target.maxLen;
  const rng = new Rng(opts.seed);
  const dictionary = (target.dictionary ?? []).map((w) => (typeof w === 'string' ? Buffer.from(w, 'latin1') : w));
  const mutator = new Mutator(rng, { maxLen, dictionary });
  const cov = new CoverageMap();
  const corpus: Buffer[] = [];
  const scratch = Buffer.alloc(maxLen);
  let execs = 0;
  let newInputs = 0;
  let slowestMs = 0;
  const t0 = performance.now();
  if (opts.outDir !== undefined) mkdirSync(opts.outDir, { recursive: true });

  const result = (crash?: EngineResult['crash']): EngineResult => {
    const seconds = (performance.now() - t0) / 1000;
    const r: EngineResult = {
      target: target.name, seed: opts.seed, execs, seconds: Math.round(seconds * 10) / 10,
      execsPerSec: Math.round(execs / Math.max(seconds, 1e-3)), seeds: seedCount, corpus: corpus.length, newInputs,
      covered: cov.covered, counters: cov.counters, features: cov.features, slowestMs: Math.round(slowestMs),
      ...(crash !== undefined ? { crash } : {}),
      ...(target.report !== undefined ? { report: target.report() } : {}),
    };
    return r;
  };

  const crashWith = (kind: string, data: Uint8Array, e: unknown): EngineResult => {
    mkdirSync(opts.artifactDir, { recursive: true });
    const artifact = join(opts.artifactDir, `${kind}-${target.name}-${sha1(data)}`);
    writeFileSync(artifact, data);
    return result({ kind, artifact, message: errorText(e) });
  };

  /** One execution; returns an error when the target threw (or was too slow). */
  const run = async (data: Buffer): Promise<{ error: unknown } | undefined> => {
    input.set(data);
    Atomics.store(header, Shared.LEN, data.length);
    Atomics.add(header, Shared.EXECS, 1);
    const start = performance.now();
    try {
      const r = target.fuzz(data);
      if (r !== undefined) await r;
    } catch (error) {
      return { error };
    } finally {
      execs++;
    }
    const ms = performance.now() - start;
    if (ms > slowestMs) slowestMs = ms;
    if (ms > opts.slowMs) return { error: new Error(`slow unit: ${ms.toFixed(0)} ms > ${opts.slowMs} ms`) };
    return undefined;
  };

  // Seeds: every one is run (a seed that crashes is a regression); the ones that add
  // coverage form the starting corpus.
  const seeds = readCorpus(opts.corpusDirs).map((b) => (b.length > maxLen ? b.subarray(0, maxLen) : b));
  if (seeds.length === 0) seeds.push(Buffer.alloc(0));
  const seedCount = seeds.length;
  cov.refresh();
  cov.collect(); // module-evaluation counts are not a feature of any input
  for (const s of seeds) {
    const bad = await run(s);
    if (bad !== undefined) return crashWith(String(bad.error).startsWith('Error: slow unit') ? 'slow' : 'crash', s, bad.error);
    cov.refresh();
    if (cov.collect() > 0 || corpus.length === 0) corpus.push(Buffer.from(s));
  }
  opts.log(`#${execs} INITED cov: ${cov.covered}/${cov.counters} ft: ${cov.features} corp: ${corpus.length}/${seedCount} seeds`);

  const deadline = t0 + opts.seconds * 1000;
  let nextLog = 1024;
  for (;;) {
    if ((execs & 63) === 0 && (performance.now() > deadline || execs >= opts.runs)) break;
    if (execs >= opts.runs) break;
    // Favour recent finds half of the time: they are the frontier.
    const pickRecent = rng.chance(2) && corpus.length > 8;
    const base = corpus[pickRecent ? corpus.length - 1 - rng.below(8) : rng.below(corpus.length)] as Buffer;
    const other = corpus[rng.below(corpus.length)] as Buffer;
    base.copy(scratch, 0, 0, Math.min(base.length, maxLen));
    const len = mutator.mutate(scratch, Math.min(base.length, maxLen), other);
    const data = scratch.subarray(0, len);
    const bad = await run(data);
    if (bad !== undefined) {
      const slow = bad.error instanceof Error && bad.error.message.startsWith('slow unit');
      return crashWith(slow ? 'slow' : 'crash', data, bad.error);
    }
    if (cov.collect() > 0) {
      const keep = Buffer.from(data);
      corpus.push(keep);
      newInputs++;
      if (opts.outDir !== undefined) writeFileSync(join(opts.outDir, sha1(keep)), keep);
    }
    if (execs >= nextLog) {
      nextLog *= 2;
      const secs = (performance.now() - t0) / 1000;
      opts.log(`#${execs} pulse cov: ${cov.covered}/${cov.counters} ft: ${cov.features} corp: ${corpus.length} exec/s: ${Math.round(execs / secs)}`);
    }
  }
  return result();
}
