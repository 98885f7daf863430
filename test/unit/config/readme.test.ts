import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPTIONS } from '../../../agent/config/parse.js';
import { EventType } from '../../../agent/events/schema.js';
import { repoRoot } from '../../helpers/repo-root.js';

const ROOT = repoRoot();
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

test('the README documents every flag with its environment variable', () => {
  for (const o of OPTIONS) {
    assert.ok(README.includes(`\`--${o.long}`), `README lacks --${o.long}`);
    assert.ok(README.includes(`\`${o.env}\``), `README lacks ${o.env}`);
  }
});

test('the README documents every event type', () => {
  for (const t of Object.values(EventType)) assert.ok(README.includes(`\`${t}\``), `README lacks ${t}`);
});

test('the README starts with the run and test commands that CI uses', () => {
  const head = README.slice(0, 400);
  assert.match(head, /sudo \.\/scripts\/run\.sh/);
  assert.match(head, /sudo \.\/scripts\/test\.sh/);
  const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
  assert.match(ci, /scripts\/test\.sh/);
});
