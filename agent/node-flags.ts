/**
 * The Node.js options the agent runs with: the Dockerfile's ENTRYPOINT, scripts/run.sh,
 * `npm start` and the benchmark pass these (test/unit/infra/node-flags.test.ts keeps them
 * in step). The `lb-traffic-analyzer` command's first line stays `#!/usr/bin/env node`:
 * options there need `env -S`, which older coreutils (Amazon Linux 2's 8.22) lack. Measured with
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
 * Both are accepted in NODE_OPTIONS too, for a launch this project does not control (that
 * command, or `node dist/agent/main.js` by hand).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--v8-pool-size=1'];
