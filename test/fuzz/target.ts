/**
 * What a fuzz target module exports: `target`. The fuzzer calls fuzz() with each
 * generated input; a target asserts its invariants by throwing (node:assert), so any
 * exception, from the code under test or from an invariant, is a crash.
 */
export type FuzzTarget = Readonly<{
  name: string;
  /** Largest input the mutator produces. */
  maxLen: number;
  /** Tokens the mutator inserts (protocol keywords, magic numbers). */
  dictionary?: readonly (string | Uint8Array)[];
  fuzz(data: Buffer): void | Promise<void>;
  /** Figures the target wants in the run's result (e.g. heap before/after). */
  report?(): Readonly<Record<string, number>>;
}>;

/** The targets, by name: test/fuzz/targets/<name>.js and test/fuzz/corpus/<name>/. */
export const TARGET_NAMES = [
  'decode-ethernet',
  'decode-sll',
  'decode-sll2',
  'decode-raw-ip',
  'decode-null',
  'geneve',
  'proxy-protocol',
  'tls',
  'http-head',
  'http-stream',
  'pcap-file',
  'pipeline',
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** Invariant helper: a clear message names the broken bound. */
export function within(what: string, value: number, lo: number, hi: number): void {
  if (!(Number.isInteger(value) && value >= lo && value <= hi)) {
    throw new Error(`invariant: ${what}=${value} outside [${lo}, ${hi}]`);
  }
}
