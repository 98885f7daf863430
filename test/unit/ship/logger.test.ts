/**
 * The agent's own log lines: pino's JSON shape (which log pipelines already parse),
 * the level threshold, Errors as type/message/stack, readable lines on a terminal, and
 * output failures that are counted instead of thrown.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, formatLine, prettyLine } from '../../../agent/ship/logger.js';
import { nonBlockingDescriptor, RETRY_MS, stdioErrors, writeFdSync } from '../../../agent/ship/stdout.js';

function collector(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { stream, lines };
}

describe('agent log lines', () => {
  test('a line has the keys pino wrote, in its order: level, time, name, the fields, msg', () => {
    // Prepare
    const { stream, lines } = collector();
    const log = createLogger('info', { destination: stream, pretty: false });
    const before = Date.now();
    // Act
    log.info({ source: 'ens5', sample: 1 }, 'capturing');
    // Assess
    assert.equal(lines.length, 1);
    const line = lines[0] as string;
    assert.ok(line.endsWith('}\n'), 'one line, newline-terminated');
    const o = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(o), ['level', 'time', 'name', 'source', 'sample', 'msg']);
    assert.equal(o['level'], 30);
    assert.ok((o['time'] as number) >= before && (o['time'] as number) <= Date.now());
    assert.equal(o['name'], 'lb-traffic-analyzer');
    assert.equal(o['msg'], 'capturing');
  });

  test('levels below the configured one are not written; each level has pino\'s number', () => {
    // Prepare
    const { stream, lines } = collector();
    const log = createLogger('warn', { destination: stream, pretty: false });
    // Act
    log.trace({}, 't');
    log.debug({}, 'd');
    log.info({}, 'i');
    log.warn({}, 'w');
    log.error({}, 'e');
    log.fatal({}, 'f');
    // Assess
    assert.deepEqual(lines.map((l) => [JSON.parse(l).level, JSON.parse(l).msg]), [[40, 'w'], [50, 'e'], [60, 'f']]);
    const all = collector();
    const verbose = createLogger('trace', { destination: all.stream, pretty: false });
    verbose.trace('a message alone');
    verbose.debug({ k: 1 });
    assert.equal(all.lines.length, 2);
    assert.equal(JSON.parse(all.lines[0] as string).level, 10);
    assert.equal(JSON.parse(all.lines[0] as string).msg, 'a message alone');
    assert.equal(JSON.parse(all.lines[1] as string).level, 20);
    assert.equal('msg' in JSON.parse(all.lines[1] as string), false, 'no msg key without a message');
  });

  test('an Error is written as its type, message, stack and own fields; undefined fields are left out', () => {
    // Prepare
    const { stream, lines } = collector();
    const log = createLogger('info', { destination: stream, pretty: false });
    const err = Object.assign(new RangeError('no route'), { code: 'EHOSTUNREACH' });
    // Act
    log.error({ err, missing: undefined, nested: { cause: new TypeError('inner') } }, 'unexpected failure');
    // Assess
    const o = JSON.parse(lines[0] as string) as Record<string, Record<string, unknown>>;
    assert.equal(o['err']?.['type'], 'RangeError');
    assert.equal(o['err']?.['message'], 'no route');
    assert.equal(o['err']?.['code'], 'EHOSTUNREACH');
    assert.match(String(o['err']?.['stack']), /RangeError: no route\n\s+at /);
    assert.equal('missing' in o, false);
    assert.equal((o['nested']?.['cause'] as Record<string, unknown>)['message'], 'inner');
  });

  test('a field that cannot be serialised does not lose the line', () => {
    // Prepare
    const { stream, lines } = collector();
    const log = createLogger('info', { destination: stream, pretty: false });
    const loop: Record<string, unknown> = {};
    loop['self'] = loop;
    // Act
    log.warn({ loop, big: 10n, ok: 'yes' }, 'still here');
    // Assess
    const o = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(o['loop'], '[not serialisable]');
    assert.equal(o['big'], '10');
    assert.equal(o['ok'], 'yes');
    assert.equal(o['msg'], 'still here');
  });

  test('messages and field names with quotes, newlines and non-ASCII stay one valid JSON line', () => {
    const line = formatLine(40, 1, ',"pid":1', { 'we"ird\nkey': 'a\u2028b', 'clé': 'é' }, 'line one\nline "two"');
    assert.equal(line.split('\n').length, 2, 'one line and the final newline');
    assert.deepEqual(JSON.parse(line), { level: 40, time: 1, pid: 1, 'we"ird\nkey': 'a\u2028b', 'clé': 'é', msg: 'line one\nline "two"' });
  });

  test('on a terminal a line reads "HH:MM:SS LEVEL message  key=value"', () => {
    // Prepare
    const { stream, lines } = collector();
    const log = createLogger('info', { destination: stream, pretty: true });
    // Act
    log.warn({ interface: 'ens5', gapMs: 1200 }, 'capture interrupted');
    // Assess
    assert.match(lines[0] as string, /^\d\d:\d\d:\d\d WARN  capture interrupted {2}interface=ens5 gapMs=1200\n$/);
    assert.equal(prettyLine('not json'), 'not json');
  });
});

describe('stdout writes', () => {
  test('a write that fails (a closed descriptor, as a reader gone away) is counted and dropped, never thrown', () => {
    // Prepare: a descriptor that was open and is closed now.
    const fd = openSync('/dev/null', 'w');
    closeSync(fd);
    const before = stdioErrors.dropped;
    // Act
    assert.doesNotThrow(() => writeFdSync(fd, 'a line\n'));
    // Assess
    assert.equal(stdioErrors.dropped, before + 1);
  });

  test('a whole line, however long and whatever its characters, reaches a working descriptor', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'lbta-stdout-'));
    const file = join(dir, 'out');
    const fd = openSync(file, 'w');
    const before = stdioErrors.dropped;
    const text = `${'x'.repeat(100_000)} é ✓\n`;
    // Act
    try {
      writeFdSync(fd, text);
    } finally {
      closeSync(fd);
    }
    // Assess
    try {
      assert.equal(readFileSync(file, 'utf8'), text);
      assert.equal(stdioErrors.dropped, before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a reader that stops reading costs a write at most RETRY_MS once, then nothing; lines are dropped whole or ended, never run together', () => {
    // Prepare: a FIFO with a reader that reads nothing for now, and the writer's end made non-blocking as stdout is.
    const dir = mkdtempSync(join(tmpdir(), 'lbta-stdout-'));
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const blocking = openSync(fifo, constants.O_WRONLY);
    const fd = nonBlockingDescriptor(blocking);
    try {
      assert.notEqual(fd, blocking, 'a FIFO gets a descriptor of its own');
      const before = stdioErrors.dropped;
      const line = (n: number): string => `{"n":${n},"pad":"${'x'.repeat(10_000)}"}\n`;
      // Act: write until the pipe (64 KiB here) is full and lines are dropped.
      const started = Date.now();
      let n = 0;
      while (stdioErrors.dropped === before && n < 1000) writeFdSync(fd, line(n++));
      const firstFull = Date.now() - started;
      const t0 = Date.now();
      for (let i = 0; i < 20; i++) writeFdSync(fd, line(n++));
      const stalledWrites = Date.now() - t0;
      // The reader comes back: it drains the pipe, then one more line is written.
      const chunks: Buffer[] = [];
      const drain = (): void => {
        const b = Buffer.alloc(1 << 16);
        for (;;) {
          let got = 0;
          try {
            got = readSync(rfd, b, 0, b.length, null);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
            throw err;
          }
          if (got === 0) return;
          chunks.push(Buffer.from(b.subarray(0, got)));
        }
      };
      drain();
      writeFdSync(fd, line(n++));
      drain();
      // Assess
      assert.ok(n < 1000, 'the pipe filled');
      assert.ok(firstFull < 20 * RETRY_MS, `the first full write waited ${firstFull} ms`);
      assert.ok(stalledWrites < RETRY_MS, `20 writes to a stalled reader took ${stalledWrites} ms: no waiting once stalled`);
      assert.equal(stdioErrors.dropped - before, 21, 'the line that found the pipe full and the 20 after it are dropped');
      const lines = Buffer.concat(chunks).toString('utf8').split('\n');
      assert.equal(lines.pop(), '', 'the output ends with a newline');
      const whole = lines.filter((l) => l.endsWith('"}'));
      // Every line is one whole line or the start of one that was cut; none holds two.
      for (const l of lines) assert.equal(l.split('{"n":').length, 2, `one line per line: ${l.slice(0, 40)}…`);
      for (const l of whole) JSON.parse(l);
      assert.ok(lines.length - whole.length <= 1, 'at most the line that found the pipe full is cut');
      assert.equal(JSON.parse(lines.at(-1) as string).n, n - 1, 'the line after the reader came back is whole and last');
    } finally {
      if (fd !== blocking) closeSync(fd);
      closeSync(blocking);
      closeSync(rfd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
