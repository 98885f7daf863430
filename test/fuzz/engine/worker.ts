/**
 * Worker-thread entry of a fuzz run: installs the coverage hooks, then imports the
 * target (so agent/ modules load instrumented) and runs the loop.
 */
import { register } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type { FuzzTarget } from '../target.js';
import { fuzz, type EngineResult } from './engine.js';

export type WorkerInput = Readonly<{
  targetUrl: string;
  corpusDirs: readonly string[];
  outDir: string | undefined;
  artifactDir: string;
  seconds: number;
  runs: number;
  seed: number;
  slowMs: number;
  shared: SharedArrayBuffer;
  sharedInts: number;
  quiet: boolean;
}>;

export type WorkerMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'log'; readonly line: string }
  | { readonly kind: 'done'; readonly result: EngineResult };

const data = workerData as WorkerInput;
const port = parentPort;
if (port === null) throw new Error('worker.js runs as a worker thread of run.js');

register('./coverage-hooks.js', import.meta.url);
const mod = (await import(data.targetUrl)) as { target: FuzzTarget };
const header = new Int32Array(data.shared, 0, data.sharedInts);
const input = new Uint8Array(data.shared, data.sharedInts * 4);
port.postMessage({ kind: 'ready' } satisfies WorkerMessage);
const result = await fuzz({
  target: mod.target, corpusDirs: data.corpusDirs, outDir: data.outDir, artifactDir: data.artifactDir,
  seconds: data.seconds, runs: data.runs, seed: data.seed, slowMs: data.slowMs, header, input,
  log: (line) => { if (!data.quiet) port.postMessage({ kind: 'log', line } satisfies WorkerMessage); },
});
port.postMessage({ kind: 'done', result } satisfies WorkerMessage);
