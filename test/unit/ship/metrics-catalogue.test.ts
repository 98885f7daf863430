import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MetricName } from '../../../agent/events/metric-names.js';

describe('metric catalogue documentation', () => {
  it('docs/cloudwatch.md lists every metric the agent publishes, and no other', () => {
    // Prepare: the test runs from <out>/test/unit/ship; the docs are at the repository root.
    const root = fileURLToPath(new URL('../../../../', import.meta.url));
    const candidates = [`${root}docs/cloudwatch.md`, `${root}../docs/cloudwatch.md`];
    const text = candidates.map((p) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } }).find((t) => t !== '') ?? '';
    // Act
    const documented = new Set([...text.matchAll(/^\| `([A-Za-z0-9_]+)` \|/gm)].map((m) => m[1]));
    // Assess
    assert.notEqual(text, '', 'docs/cloudwatch.md found');
    assert.deepEqual(documented, new Set(Object.values(MetricName)));
  });
});
