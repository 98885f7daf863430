/**
 * scripts/sbom.sh lists exactly the production npm packages: every name@version that
 * package-lock.json does not mark "dev" (what the image's `npm prune --omit=dev` keeps,
 * checked once against a built image's /app/node_modules: 58 = 58), and no dev tool.
 * Guards against npm's own `npm sbom --omit=dev`, which drops production packages a
 * dev dependency also uses (npm/cli#7909: tslib here).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/repo-root.js';

type Bom = { bomFormat: string; specVersion: string; components: { name: string; version: string; purl?: string }[] };
type Lock = { packages: Record<string, { version?: string; name?: string; dev?: boolean; link?: boolean }> };

describe('the SBOM script', () => {
  const root = repoRoot();
  const out = mkdtempSync(join(tmpdir(), 'lbsc-sbom-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  it('lists every production package of the lockfile, and only those, as CycloneDX', { timeout: 60_000 }, () => {
    // Prepare
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lock;
    const prod = new Set(Object.entries(lock.packages).filter(([k, v]) => k !== '' && v.dev !== true && v.link !== true)
      .map(([k, v]) => `${v.name ?? k.split('node_modules/').pop() ?? k}@${v.version ?? ''}`));
    // Act
    const r = spawnSync('bash', [join(root, 'scripts', 'sbom.sh'), out], { cwd: root, encoding: 'utf8' });
    // Assess
    assert.equal(r.status, 0, r.stderr);
    const bom = JSON.parse(readFileSync(join(out, 'npm-cyclonedx.json'), 'utf8')) as Bom;
    assert.equal(bom.bomFormat, 'CycloneDX');
    const listed = bom.components.map((c) => `${c.name}@${c.version}`);
    assert.deepEqual(new Set(listed), prod);
    assert.ok(listed.some((c) => c.startsWith('tslib@')), 'tslib, which npm sbom --omit=dev drops');
    for (const dev of ['typescript', 'aws-cdk-lib', 'sinon']) assert.ok(!bom.components.some((c) => c.name === dev), `${dev} is a dev tool`);
    assert.ok(bom.components.every((c) => c.purl?.startsWith('pkg:npm/')), 'package URLs for scanners');
  });
});
