/**
 * Every way the agent is started passes the Node.js options of agent/node-flags.ts, and
 * Node.js accepts them, on the command line and in NODE_OPTIONS.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS, NODE_OPTIONS_FLAGS, useRuntimeFlags } from '../../../agent/node-flags.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const root = (() => {
  let dir = HERE;
  while (!(existsSync(join(dir, 'Dockerfile')) && existsSync(join(dir, 'package.json')))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('no Dockerfile above the test');
    dir = up;
  }
  return dir;
})();
const MAIN = join(HERE, '..', '..', '..', 'agent', 'main.js');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');
const spaced = NODE_FLAGS.join(' ');

describe('The Node.js options the agent runs with', () => {
  it('are in the Dockerfile ENTRYPOINT, scripts/run.sh and npm start', () => {
    const entry = `ENTRYPOINT ["node", ${NODE_FLAGS.map((f) => JSON.stringify(f)).join(', ')}, "dist/agent/main.js"]`;
    assert.ok(read('Dockerfile').split('\n').includes(entry), `Dockerfile has ${entry}`);
    assert.match(read('scripts/run.sh'), new RegExp(`\\bnode ${spaced} dist/agent/main\\.js "\\$@"`));
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts['start'], `node ${spaced} dist/agent/main.js`);
    // The --filter reader child runs a callback per packet, with the same options.
    assert.match(read('agent/capture/file-source.ts'), /spawn\(process\.execPath, \[\.\.\.NODE_FLAGS, CHILD_SCRIPT,/);
    // The command's first line carries no options: `env -S` is missing from older coreutils.
    assert.equal(read('agent/main.ts').split('\n')[0], '#!/usr/bin/env node');
  });

  it('are accepted by this Node.js on the command line (the agent starts and prints its version)', () => {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, MAIN, '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  });

  it('are accepted in NODE_OPTIONS (those Node.js allows there), and take effect (a 1 MB semispace: new space of 2 MB)', () => {
    assert.ok(NODE_OPTIONS_FLAGS.every((f) => NODE_FLAGS.includes(f)));
    const r = spawnSync(process.execPath, ['-e',
      "const v8 = require('v8'); const keep = []; for (let i = 0; i < 2e6; i++) { const o = { i, a: [i] }; if (i % 100 === 0) keep.push(o); }" +
      "console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)"],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: NODE_OPTIONS_FLAGS.join(' ') } });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout) > 0 && Number(r.stdout) <= 2 * 1024 * 1024, `new space ${r.stdout.trim()} bytes`);
  });

  it('the rest (--no-maglev) the agent sets itself when the command line lacks them', () => {
    // Node.js refuses --no-maglev in NODE_OPTIONS: that is why the agent sets it at start.
    const refused = spawnSync(process.execPath, ['-e', '0'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '--no-maglev' } });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /--no-maglev is not allowed in NODE_OPTIONS/);
    assert.deepEqual(NODE_FLAGS.filter((f) => !NODE_OPTIONS_FLAGS.includes(f)), ['--no-maglev']);
    assert.deepEqual(useRuntimeFlags([...NODE_FLAGS]), []);
    assert.deepEqual(useRuntimeFlags(['--max-semi-space-size=1']), ['--no-maglev']);
    assert.match(read('agent/main.ts'), /async function main\(\): Promise<void> \{\n  useRuntimeFlags\(\);/);
  });
});
