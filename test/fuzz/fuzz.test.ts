/**
 * The short fuzzing run of CI: every target for a few seconds from the committed
 * corpus with a fresh random seed (printed), one after the other (~1 core, ~75 s in
 * all). A crash, a hang or a heap blow-up fails the test with the reproducer's path,
 * its bytes in hex (when small) and the command that replays it. Longer runs:
 * `npm run fuzz -- <target> [seconds]` (test/README.md).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import type { EngineResult } from './engine/engine.js';
import { TARGET_NAMES, type TargetName } from './target.js';

/** Seconds per target: the pipeline target runs ~100 inputs/s, the parsers thousands. */
const SECONDS: Partial<Record<TargetName, number>> = { pipeline: 8, 'pcap-file': 5 };
const DEFAULT_SECONDS = 4;
const runJs = fileURLToPath(new URL('./run.js', import.meta.url));
const artifacts = mkdtempSync(join(tmpdir(), 'lbta-fuzz-ci-'));

function parseResult(stdout: string): EngineResult | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('FUZZ-RESULT '));
  return line === undefined ? undefined : (JSON.parse(line.slice('FUZZ-RESULT '.length)) as EngineResult);
}

describe('fuzzing: a short coverage-guided run of every target', () => {
  after(() => rmSync(artifacts, { recursive: true, force: true }));

  for (const name of TARGET_NAMES) {
    test(`${name}: nothing throws, hangs or grows the heap without bound`, (t) => {
      // Prepare
      const seconds = SECONDS[name] ?? DEFAULT_SECONDS;
      const seed = (Date.now() ^ (process.pid << 8)) >>> 0;
      // Act
      const r = spawnSync(process.execPath, [runJs, name, String(seconds), '--seed', String(seed), '--quiet', '--artifacts', artifacts], {
        encoding: 'utf8', timeout: (seconds + 90) * 1000,
      });
      // Assess
      const result = parseResult(r.stdout ?? '');
      if (result?.crash !== undefined) {
        const bytes = readFileSync(result.crash.artifact);
        assert.fail(`${result.crash.kind} in ${name} (seed ${seed}): ${result.crash.message.split('\n').slice(0, 8).join('\n')}\n` +
          `reproducer: ${result.crash.artifact}${bytes.length <= 4096 ? `\nhex: ${bytes.toString('hex')}` : ''}\n` +
          `replay: node ${runJs} ${name} --repro <file with those bytes>`);
      }
      assert.equal(r.status, 0, `run.js exited ${r.status} (${r.signal ?? ''}): ${(r.stderr ?? '').slice(-2000)}`);
      assert.ok(result !== undefined, 'no FUZZ-RESULT line');
      t.diagnostic(`${name}: ${result.execs} execs in ${result.seconds} s (${result.execsPerSec}/s), ` +
        `coverage ${result.covered}/${result.counters} counters, ${result.features} features, corpus ${result.seeds} -> ${result.corpus}, seed ${seed}` +
        (result.report !== undefined ? `, ${JSON.stringify(result.report)}` : ''));
      assert.ok(result.execs > result.seeds, `only ${result.execs} runs for ${result.seeds} seeds`);
      assert.ok(result.covered > 0, 'no coverage signal: is agent/ instrumented?');
      if (result.report !== undefined && 'heapPeakMB' in result.report) {
        assert.ok((result.report['heapPeakMB'] ?? 0) < 100, `heap peak ${result.report['heapPeakMB']} MB`);
      }
    });
  }
});
