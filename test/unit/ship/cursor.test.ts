import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CursorStore, START_CURSOR } from '../../../agent/ship/cursor.js';

describe('shipping cursor file under crashes', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbta-cursor-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a kill between writing the new cursor and the rename leaves the old cursor, whole', async () => {
    // Prepare: a saved cursor, then a half-written temporary file as a SIGKILL would leave it.
    const path = join(dir, 'cursor.json');
    const store = new CursorStore(path);
    await store.save({ file: 'errors_2026-02-15.log', offset: 420, lastId: 'A' });
    writeFileSync(`${path}.tmp`, '{"file":"errors_2026-02-15.log","off');
    // Act
    const loaded = await store.load();
    // Assess
    assert.deepEqual(loaded, { cursor: { file: 'errors_2026-02-15.log', offset: 420, lastId: 'A' } });
  });

  test('the next save overwrites a temporary file left behind and leaves none', async () => {
    // Prepare
    const path = join(dir, 'cursor.json');
    writeFileSync(`${path}.tmp`, 'garbage');
    const store = new CursorStore(path);
    // Act
    await store.save({ file: 'errors_2026-02-16.log', offset: 7, lastId: undefined });
    // Assess
    assert.equal(existsSync(`${path}.tmp`), false);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { file: 'errors_2026-02-16.log', offset: 7, lastId: null });
  });

  test('a cursor file cut short (a copy, a full disk) means "start again", never a wrong offset', async () => {
    // Prepare
    const path = join(dir, 'cursor.json');
    writeFileSync(path, '{"file":"errors_2026-02-15.log","offset":4');
    // Act
    const loaded = await new CursorStore(path).load();
    // Assess
    assert.equal(loaded.cursor, START_CURSOR);
    assert.match(loaded.problem ?? '', /malformed/);
  });
});
