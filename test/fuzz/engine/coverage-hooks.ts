/**
 * Module-loader hooks (node:module register) that give the fuzzer its coverage
 * signal: every compiled agent/ module is instrumented with istanbul counters
 * (statements and branch arms) into globalThis.__fuzzCoverage as it is loaded.
 * Only agent/ code is instrumented: the targets, the engine and node_modules
 * would only add noise to the signal.
 */
import { fileURLToPath } from 'node:url';
import { createInstrumenter } from 'istanbul-lib-instrument';
import { COVERAGE_VARIABLE } from './coverage-variable.js';

const instrumenter = createInstrumenter({
  coverageVariable: COVERAGE_VARIABLE,
  esModules: true,
  compact: true,
  produceSourceMap: false,
  preserveComments: false,
});

function wanted(url: string): boolean {
  return url.startsWith('file:') && url.endsWith('.js') && url.includes('/agent/') && !url.includes('/node_modules/');
}

type LoadResult = { format?: string | null; source?: string | ArrayBuffer | Uint8Array | null; shortCircuit?: boolean };
type NextLoad = (url: string, context: unknown) => Promise<LoadResult>;

export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  if (!wanted(url) || result.format !== 'module' || result.source == null) return result;
  const source = typeof result.source === 'string' ? result.source : Buffer.from(result.source as Uint8Array).toString('utf8');
  const code = instrumenter.instrumentSync(source, fileURLToPath(url));
  return { ...result, source: code, shortCircuit: true };
}
