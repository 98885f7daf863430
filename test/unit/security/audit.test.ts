/**
 * The CI audit step (scripts/audit.mjs) judged on saved `npm audit --json` reports in
 * npm 11's format: a high advisory in a production dependency fails, dev-only ones are
 * reported without failing, an unreachable advisory database is a loud warning.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/repo-root.js';

const SCRIPT = join(repoRoot(), 'scripts', 'audit.mjs');
const dir = mkdtempSync(join(tmpdir(), 'lbsc-audit-'));

type Vuln = { name: string; severity: string; fixAvailable: unknown; via: unknown[]; range: string };

function vuln(name: string, severity: string, fixAvailable: unknown = true): Vuln {
  return { name, severity, fixAvailable, range: '<1.2.3', via: [{ title: `${name} does something bad`, url: `https://example.invalid/${name}`, severity }] };
}

function report(vulns: Vuln[]): object {
  const count = (s: string) => vulns.filter((v) => v.severity === s).length;
  return {
    auditReportVersion: 2,
    vulnerabilities: Object.fromEntries(vulns.map((v) => [v.name, v])),
    metadata: { vulnerabilities: { info: 0, low: count('low'), moderate: count('moderate'), high: count('high'), critical: count('critical'), total: vulns.length } },
  };
}

/** The 405 answer npm prints when the registry has no audit endpoint (seen on this machine). */
const UNREACHABLE = { message: '405 Method Not Allowed - POST <registry>/-/npm/v1/security/advisories/bulk', statusCode: 405, error: { summary: '', detail: '' } };

function judge(prod: object, all: object, env: NodeJS.ProcessEnv = {}): { code: number | null; out: string } {
  const p = join(dir, `prod-${Math.random().toString(36).slice(2)}.json`);
  const a = join(dir, `all-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, JSON.stringify(prod));
  writeFileSync(a, JSON.stringify(all));
  const r = spawnSync(process.execPath, [SCRIPT, '--prod-json', p, '--all-json', a], { encoding: 'utf8', env: { ...process.env, LBTA_AUDIT_REQUIRED: '', ...env } });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('the CI audit step', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fails on a high advisory in a production dependency, naming the package and its fix', () => {
    // Prepare
    const prod = report([vuln('fast-xml-parser', 'high', { name: '@aws-sdk/client-cloudwatch', version: '3.2000.0', isSemVerMajor: false }), vuln('debug', 'low')]);
    // Act
    const { code, out } = judge(prod, prod);
    // Assess
    assert.equal(code, 1);
    assert.match(out, /FAILED: 1 high\/critical advisories in production dependencies: fast-xml-parser \(high\)/);
    assert.match(out, /high fast-xml-parser <1\.2\.3: fast-xml-parser does something bad .*fix: @aws-sdk\/client-cloudwatch@3\.2000\.0/);
  });

  it('fails on a critical one too, and says when no fix exists', () => {
    // Act
    const { code, out } = judge(report([vuln('pcap', 'critical', false)]), report([vuln('pcap', 'critical', false)]));
    // Assess
    assert.equal(code, 1);
    assert.match(out, /critical pcap .*no fix available yet/);
  });

  it('passes with moderate production advisories and high dev-only ones, reporting both', () => {
    // Prepare
    const prod = report([vuln('pino', 'moderate')]);
    const all = report([vuln('pino', 'moderate'), vuln('aws-cdk-lib', 'high'), vuln('typescript', 'critical')]);
    // Act
    const { code, out } = judge(prod, all);
    // Assess
    assert.equal(code, 0, out);
    assert.match(out, /production dependencies: 1 advisories \(critical 0, high 0, moderate 1, low 0\)/);
    assert.match(out, /dev-only dependencies: 2 advisories \(reported, not failing/);
    assert.match(out, /high aws-cdk-lib/);
    assert.match(out, /OK: no high or critical advisory in production dependencies/);
  });

  it('warns loudly and passes when the advisory database cannot be reached', () => {
    // Act
    const { code, out } = judge(UNREACHABLE, UNREACHABLE);
    // Assess
    assert.equal(code, 0);
    assert.match(out, /WARNING: npm audit could not run, production dependencies were NOT checked: 405 Method Not Allowed/);
  });

  it('fails when the database cannot be reached and LBTA_AUDIT_REQUIRED=1', () => {
    // Act
    const { code, out } = judge(UNREACHABLE, UNREACHABLE, { LBTA_AUDIT_REQUIRED: '1' });
    // Assess
    assert.equal(code, 1);
    assert.match(out, /FAILED: LBTA_AUDIT_REQUIRED=1/);
  });
});
