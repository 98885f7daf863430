/**
 * Golden tests: the committed captures in test/fixtures/pcap/ replayed through the
 * real binary with --read; the events (without their random ids) and the final
 * summary's counters must equal test/fixtures/golden/NAME.json.
 *
 * When a change of output is intended: UPDATE_GOLDEN=1 npm test -- dist/test/system
 * and review the diff of test/fixtures/golden/ before committing it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURE_DIR, FIXTURES } from '../fixtures/make-fixtures.js';

const MAIN = fileURLToPath(new URL('../../agent/main.js', import.meta.url));
const GOLDEN_DIR = join(dirname(FIXTURE_DIR), 'golden');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

type Json = Record<string, unknown>;

function analyse(pcap: string): Json {
  const logs = mkdtempSync(join(tmpdir(), 'lbta-golden-'));
  try {
    const r = spawnSync(process.execPath, [MAIN, '--read', pcap, '-l', logs, '--summary-format', 'json'], { encoding: 'utf8', env: { ...process.env, LBTA_CLOUDWATCH: 'off' } });
    assert.equal(r.status, 0, r.stderr);
    const events = readdirSync(logs).filter((n) => n.startsWith('errors_'))
      .flatMap((n) => readFileSync(join(logs, n), 'utf8').split('\n').filter(Boolean))
      .map((l) => { const { id: _id, ...rest } = JSON.parse(l) as Json; return rest; });
    const line = r.stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
    assert.ok(line, 'a final summary line');
    // Volatile or machine-specific parts of the summary are left out.
    const { time: _t, uptime_s: _u, source: _s, local_log: _l, shipping: _sh, ...summary } = JSON.parse(line) as Json;
    return { events, summary };
  } finally {
    rmSync(logs, { recursive: true, force: true });
  }
}

describe('golden captures through the real binary', () => {
  for (const name of Object.keys(FIXTURES)) {
    test(`${name}.pcap gives the golden events and summary`, () => {
      const actual = analyse(join(FIXTURE_DIR, `${name}.pcap`));
      const goldenFile = join(GOLDEN_DIR, `${name}.json`);
      if (UPDATE) writeFileSync(goldenFile, `${JSON.stringify(actual, null, 2)}\n`);
      const golden = JSON.parse(readFileSync(goldenFile, 'utf8')) as Json;
      assert.deepEqual(actual, golden);
    });
  }

  test('no secret of the requests reaches the events', () => {
    const text = readFileSync(join(GOLDEN_DIR, 'alb-keepalive.json'), 'utf8');
    for (const secret of ['token=secret', 'Bearer abc', 's=1']) assert.ok(!text.includes(secret), secret);
  });
});
