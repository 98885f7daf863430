/**
 * The container HEALTHCHECK (agent/healthcheck.ts): healthy only when health.json is
 * fresh, capture runs, and shipping (when on) is not stuck with events waiting.
 * Lives beside the deployment tests because it is part of the image's contract.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { assessHealth, checkHealthFile, DEFAULT_MAX_AGE_SEC, DEFAULT_SHIPPING_STUCK_SEC } from '../../../agent/healthcheck.js';

const NOW = Date.parse('2026-02-15T09:30:00Z');
const T = { maxAgeSec: DEFAULT_MAX_AGE_SEC, shippingStuckSec: DEFAULT_SHIPPING_STUCK_SEC };
const ago = (sec: number): string => new Date(NOW - sec * 1000).toISOString();

function health(over: { updatedAgo?: number; running?: boolean; shipping?: Record<string, unknown> } = {}): unknown {
  return {
    updated_at: ago(over.updatedAgo ?? 5),
    capture: { running: over.running ?? true, last_packet_at: ago(1), packets: 1234, drops: 0 },
    shipping: over.shipping ?? { enabled: true, pending: 3, last_success_at: ago(20), last_error: null },
  };
}

describe('assessHealth', () => {
  it('is healthy when the file is fresh, capture runs and shipping succeeded recently', () => {
    // Prepare / Act
    const verdict = assessHealth(health(), NOW, T);

    // Assess
    assert.deepEqual(verdict, { healthy: true, reasons: [] });
  });

  it('is unhealthy when health.json was not rewritten for longer than the limit', () => {
    // Prepare / Act
    const verdict = assessHealth(health({ updatedAgo: 60 }), NOW, T);

    // Assess
    assert.equal(verdict.healthy, false);
    assert.match(verdict.reasons.join(), /stale: updated 60 s ago \(limit 35 s\)/);
  });

  it('is unhealthy when capture is not running', () => {
    // Prepare / Act
    const verdict = assessHealth(health({ running: false }), NOW, T);

    // Assess
    assert.deepEqual(verdict.reasons, ['capture is not running']);
  });

  it('is unhealthy when events wait and nothing was acknowledged for longer than the threshold', () => {
    // Prepare / Act
    const verdict = assessHealth(
      health({ shipping: { enabled: true, pending: 420, last_success_at: ago(301), last_error: 'ThrottlingException' } }),
      NOW,
      T,
    );

    // Assess
    assert.equal(verdict.healthy, false);
    assert.match(verdict.reasons.join(), /420 events pending, last success 301 s ago \(limit 300 s\); last error: ThrottlingException/);
  });

  it('is unhealthy when events wait and no batch was ever acknowledged', () => {
    // Prepare / Act
    const verdict = assessHealth(health({ shipping: { enabled: true, pending: 2, last_success_at: null, last_error: null } }), NOW, T);

    // Assess
    assert.match(verdict.reasons.join(), /2 events pending and no batch acknowledged yet/);
  });

  it('stays healthy when shipping is idle (nothing pending) or off, however old the last success', () => {
    // Prepare / Act
    const idle = assessHealth(health({ shipping: { enabled: true, pending: 0, last_success_at: ago(86_400), last_error: null } }), NOW, T);
    const off = assessHealth(health({ shipping: { enabled: false, pending: 99, last_success_at: null, last_error: null } }), NOW, T);

    // Assess
    assert.equal(idle.healthy, true);
    assert.equal(off.healthy, true);
  });

  it('is unhealthy for garbage instead of the expected shape', () => {
    // Prepare / Act / Assess
    assert.equal(assessHealth(null, NOW, T).healthy, false);
    assert.equal(assessHealth([], NOW, T).healthy, false);
    assert.deepEqual(assessHealth({ updated_at: 'yesterday' }, NOW, T).reasons, ['health.json has no valid updated_at', 'health.json has no capture section']);
  });
});

describe('the healthcheck command', () => {
  let dir = '';
  const script = resolve(dirname(fileURLToPath(import.meta.url)), '../../../agent/healthcheck.js');
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbta-health-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports a missing file as unhealthy with the path', () => {
    // Prepare / Act
    const verdict = checkHealthFile(join(dir, 'nope'), NOW, T);

    // Assess
    assert.match(verdict.reasons.join(), /cannot read .*nope\/health\.json \(ENOENT\)/);
  });

  it('exits 0 for a fresh file and 1 with one line for a stale one, reading LBTA_LOG_DIR', () => {
    // Prepare
    const fresh = { updated_at: new Date().toISOString(), capture: { running: true }, shipping: { enabled: false } };
    writeFileSync(join(dir, 'health.json'), JSON.stringify(fresh));

    // Act
    const ok = spawnSync(process.execPath, [script], { env: { LBTA_LOG_DIR: dir }, encoding: 'utf8' });
    writeFileSync(join(dir, 'health.json'), JSON.stringify({ ...fresh, updated_at: new Date(Date.now() - 600_000).toISOString() }));
    const stale = spawnSync(process.execPath, [script], { env: { LBTA_LOG_DIR: dir }, encoding: 'utf8' });
    const badEnv = spawnSync(process.execPath, [script], { env: { LBTA_LOG_DIR: dir, LBTA_HEALTH_MAX_AGE: 'soon' }, encoding: 'utf8' });

    // Assess
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.equal(ok.stdout, 'healthy\n');
    assert.equal(stale.status, 1);
    assert.match(stale.stdout, /^unhealthy: health\.json is stale: updated 600 s ago \(limit 35 s\)\n$/);
    assert.equal(badEnv.status, 1);
    assert.match(badEnv.stderr, /LBTA_HEALTH_MAX_AGE: "soon" is not a positive number of seconds/);
  });
});
