import { setFlagsFromString } from 'node:v8';

/**
 * The Node.js options the agent runs with: the Dockerfile's ENTRYPOINT, scripts/run.sh,
 * `npm start`, the benchmark, and the agent itself to its --filter file reader child pass
 * these (test/unit/infra/node-flags.test.ts keeps them in step). The `lb-traffic-analyzer`
 * command's first line stays `#!/usr/bin/env node`: options there need `env -S`, which
 * older coreutils (Amazon Linux 2's 8.22) lack. Measured with
 * `npm run bench` and interleaved runs (BENCHMARKS.md, 2026-12-06 09:55-10:31 UTC):
 *
 * - `--max-semi-space-size=1`: V8 doubles the young generation's two semispaces (up to
 *   16 MB each) whenever enough objects survive scavenges, which module compilation at
 *   start-up and classifier state that lives as long as its connection both do. The
 *   agent allocates ~100 bytes per packet, so 1 MB semispaces only mean more, equally
 *   short scavenges: no CPU difference in interleaved offline and live runs, and ~5 MB
 *   less peak RSS with 100k open connections, ~16 MB less on the benchmark capture.
 * - `--v8-pool-size=1`: one V8 background thread (concurrent compilation, GC helpers)
 *   instead of four, each of which kept a stack and a malloc arena: ~1.7 MB less RSS
 *   (~3 MB on the benchmark capture).
 *   An agent meant to use a few percent of one core has no use for four.
 *
 * - `--no-maglev`: no Maglev, V8's mid-tier optimising compiler, which is on by default in the
 *   Node.js 24 the container runs (off in Node.js 20). On Node.js 24.22 (BENCHMARKS.md, the section of 2026-12-07
 *   05:16-05:46 UTC) it cost the agent more than it saved: at 20k pkt/s 4.0 % of one core against 2.8 %
 *   without it, 175 against 149 MB of RSS (three interleaved pairs); on the benchmark file 2.17
 *   against 2.07 CPU s and 104 against 86 MB of peak RSS (four pairs). Turbofan still compiles
 *   the hot path.
 *
 * The first two are accepted in NODE_OPTIONS too (NODE_OPTIONS_FLAGS), for a launch this project
 * does not control (that command, or `node dist/agent/main.js` by hand). Node.js refuses
 * `--no-maglev` there, so the agent sets it itself at start (useRuntimeFlags) when it was not
 * given: only module loading has run by then, nothing hot enough for an optimising tier.
 */
/** The options of NODE_FLAGS that Node.js takes in NODE_OPTIONS. */
export const NODE_OPTIONS_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--v8-pool-size=1'];

/** V8 options the agent sets itself when its command line lacks them (see above). */
const RUNTIME_FLAGS: readonly string[] = ['--no-maglev'];

export const NODE_FLAGS: readonly string[] = [...NODE_OPTIONS_FLAGS, ...RUNTIME_FLAGS];

/** Sets those RUNTIME_FLAGS that `execArgv` lacks; returns them. */
export function useRuntimeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const missing = RUNTIME_FLAGS.filter((f) => !execArgv.includes(f));
  for (const f of missing) setFlagsFromString(f);
  return missing;
}
