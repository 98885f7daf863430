import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cursor } from './cursor.js';
import { TORN_LINE_MARK } from './local-log.js';

const MARK = Buffer.from(TORN_LINE_MARK, 'latin1');

/** True when the `MARK.length` bytes before `end` in `buf` (after `carry`, the bytes before `buf`) are the torn-line mark. */
function endsWithMark(buf: Buffer, end: number, carry: Buffer): boolean {
  for (let k = 1; k <= MARK.length; k++) {
    const i = end - k;
    const b = i >= 0 ? buf[i] : carry[carry.length + i];
    if (b !== MARK[MARK.length - k]) return false;
  }
  return true;
}

/** The local log's daily files, written by ship/local-log.ts. Names sort by date. */
export const LOG_FILE_PATTERN = /^errors_\d{4}-\d{2}-\d{2}\.log$/;

/** One complete line of the local log and where it ends (the cursor after it). */
export type LogLine = Readonly<{
  file: string;
  /** Byte offset just after this line's newline. */
  endOffset: number;
  /** The line without its newline; '' when `oversized`. */
  text: string;
  /** Longer than the reader's bound: its bytes were skipped, not kept in memory. */
  oversized: boolean;
}>;

export type LogReaderOptions = Readonly<{
  /** Bytes read from disk at a time; memory use is a small multiple of this. */
  chunkBytes?: number;
  /** Lines longer than this are reported as oversized instead of buffered. */
  maxLineBytes?: number;
}>;

export async function listLogFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => LOG_FILE_PATTERN.test(n)).sort();
}

/**
 * Reads the local log forward from a cursor, in bounded chunks, across daily files.
 * Only complete lines are returned; a line still being written waits for its newline,
 * unless a newer file exists (the writer moved on), in which case the tail is
 * returned as it is so shipping never stalls on it (the writer closes every tail it
 * tears, so this is only a log written by something else).
 *
 * Torn lines (a crash, SIGKILL or a full disk cut a write short) are never returned:
 * the writer ends them with TORN_LINE_MARK (ship/local-log.ts). They are counted in
 * `anomalies.tornLines`; the cursor moves past them with the next line returned, so
 * after a restart they are read and skipped again, never shipped.
 *
 * A start cursor that does not sit just after a newline (a cursor file from
 * elsewhere, a file rewritten under it) is moved back to the start of its line:
 * at worst one event is sent again (its id lets a reader drop the duplicate),
 * never one skipped or cut in two.
 */
export class LogReader {
  readonly #dir: string;
  readonly #chunkBytes: number;
  readonly #maxLineBytes: number;
  #file: string;
  #readPos: number;
  #fh: FileHandle | undefined;
  readonly #queue: LogLine[] = [];
  #queueHead = 0;
  #partial: Buffer[] = [];
  #partialLen = 0;
  #oversized = false;
  #pushedBack: LogLine | undefined;
  /** The last bytes of the line being assembled, to recognise TORN_LINE_MARK. */
  readonly #tail = Buffer.alloc(MARK.length);
  #tailLen = 0;
  /** The start cursor is checked against the file once, at the first open. */
  #checkStart: boolean;
  /**
   * Lines returned as oversized, files found shorter than the cursor, torn lines
   * skipped, and start cursors moved back to the start of their line.
   */
  readonly anomalies = { oversizedLines: 0, truncatedFiles: 0, tornLines: 0, cursorRealigned: 0 };

  constructor(dir: string, start: Cursor, options: LogReaderOptions = {}) {
    this.#dir = dir;
    this.#chunkBytes = options.chunkBytes ?? 1 << 20;
    this.#maxLineBytes = options.maxLineBytes ?? 1 << 20;
    this.#file = start.file;
    this.#readPos = start.offset;
    this.#checkStart = start.offset > 0;
  }

  /** Give back the last line read; the next call to next() returns it again. */
  unread(line: LogLine): void {
    this.#pushedBack = line;
  }

  /** The next complete line, or undefined when none is available yet. */
  async next(): Promise<LogLine | undefined> {
    if (this.#pushedBack !== undefined) {
      const line = this.#pushedBack;
      this.#pushedBack = undefined;
      return line;
    }
    for (;;) {
      const queued = this.#queue[this.#queueHead];
      if (queued !== undefined) {
        this.#queueHead++;
        if (this.#queueHead === this.#queue.length) {
          this.#queue.length = 0;
          this.#queueHead = 0;
        }
        return queued;
      }
      if (!(await this.#fill())) return undefined;
    }
  }

  async close(): Promise<void> {
    await this.#fh?.close();
    this.#fh = undefined;
  }

  /** Reads one chunk or moves to the next file; false when there is nothing more now. */
  async #fill(): Promise<boolean> {
    if (this.#fh === undefined) {
      const files = await listLogFiles(this.#dir);
      if (!files.includes(this.#file)) {
        // Not started yet, or the file was removed by local retention: take the next one.
        const next = files.find((f) => f > this.#file);
        if (next === undefined) return false;
        this.#switchTo(next);
      }
      try {
        this.#fh = await open(join(this.#dir, this.#file), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
      const size = (await this.#fh.stat()).size;
      if (size < this.#readPos) {
        // Rewritten under us: start the file again rather than skip what is there now.
        this.anomalies.truncatedFiles++;
        this.#readPos = 0;
        this.#resetPartial();
      } else if (this.#checkStart && this.#file !== '') {
        await this.#alignStart(this.#fh);
      }
      this.#checkStart = false;
    }
    const buf = Buffer.allocUnsafe(this.#chunkBytes);
    const { bytesRead } = await this.#fh.read(buf, 0, this.#chunkBytes, this.#readPos);
    if (bytesRead > 0) {
      this.#split(buf.subarray(0, bytesRead), this.#readPos);
      this.#readPos += bytesRead;
      return true;
    }
    // End of this file: if a newer one exists, this one is finished.
    const files = await listLogFiles(this.#dir);
    const next = files.find((f) => f > this.#file);
    if (next === undefined) {
      // Keep the handle only while the file exists; a removed file is noticed next time.
      await this.close();
      return false;
    }
    if (this.#partialLen > 0 || this.#oversized) this.#emitPartial(this.#readPos, false);
    await this.close();
    this.#switchTo(next);
    return true;
  }

  #switchTo(file: string): void {
    this.#file = file;
    this.#readPos = 0;
    this.#checkStart = false;
    this.#resetPartial();
  }

  /** Moves a start position that is not just after a newline back to its line's start. */
  async #alignStart(fh: FileHandle): Promise<void> {
    const probe = Buffer.alloc(1);
    await fh.read(probe, 0, 1, this.#readPos - 1);
    if (probe[0] === 0x0a) return;
    this.anomalies.cursorRealigned++;
    const limit = Math.max(0, this.#readPos - this.#maxLineBytes - 1);
    const buf = Buffer.allocUnsafe(Math.min(this.#chunkBytes, 64 * 1024));
    let end = this.#readPos;
    while (end > limit) {
      const from = Math.max(limit, end - buf.length);
      const { bytesRead } = await fh.read(buf, 0, end - from, from);
      const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (nl !== -1) {
        this.#readPos = from + nl + 1;
        return;
      }
      end = from;
    }
    if (limit === 0) {
      this.#readPos = 0;
      return;
    }
    // A line longer than the bound: skip the rest of it as oversized rather than ship a fragment.
    this.#oversized = true;
  }

  #resetPartial(): void {
    this.#partial = [];
    this.#partialLen = 0;
    this.#oversized = false;
    this.#tailLen = 0;
  }

  #split(chunk: Buffer, chunkStart: number): void {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl === -1) break;
      this.#appendPartial(chunk.subarray(from, nl));
      this.#emitPartial(chunkStart + nl + 1, true);
      from = nl + 1;
    }
    if (from < chunk.length) this.#appendPartial(chunk.subarray(from));
  }

  #appendPartial(piece: Buffer): void {
    this.#keepTail(piece);
    if (this.#oversized) {
      this.#partialLen += piece.length;
      return;
    }
    if (this.#partialLen + piece.length > this.#maxLineBytes) {
      this.#oversized = true;
      this.#partial = [];
      this.#partialLen += piece.length;
      return;
    }
    // Copy: the chunk buffer is not kept beyond this fill.
    this.#partial.push(Buffer.from(piece));
    this.#partialLen += piece.length;
  }

  #keepTail(piece: Buffer): void {
    const n = MARK.length;
    if (piece.length >= n) {
      piece.copy(this.#tail, 0, piece.length - n);
      this.#tailLen = n;
      return;
    }
    const keep = Math.min(this.#tailLen, n - piece.length);
    this.#tail.copy(this.#tail, 0, this.#tailLen - keep, this.#tailLen);
    piece.copy(this.#tail, keep);
    this.#tailLen = keep + piece.length;
  }

  /** `terminated`: the line ended with its own newline. */
  #emitPartial(endOffset: number, terminated: boolean): void {
    if (terminated && this.#tailLen === MARK.length && this.#tail.equals(MARK)) {
      this.anomalies.tornLines++;
      this.#resetPartial();
      return;
    }
    const oversized = this.#oversized;
    const text = oversized ? '' : Buffer.concat(this.#partial, this.#partialLen).toString('utf8');
    if (oversized) this.anomalies.oversizedLines++;
    this.#queue.push({ file: this.#file, endOffset, text, oversized });
    this.#resetPartial();
  }
}

/**
 * Lines after the cursor, counted in bounded chunks (for the EventsPending gauge).
 * Like the reader, it leaves out torn lines: they are never shipped, so they must
 * not look pending forever.
 */
export async function countLinesAfter(dir: string, cursor: Cursor, chunkBytes = 1 << 20): Promise<number> {
  const files = await listLogFiles(dir);
  let count = 0;
  const buf = Buffer.allocUnsafe(chunkBytes);
  for (const file of files) {
    if (file < cursor.file) continue;
    let pos = file === cursor.file ? cursor.offset : 0;
    let fh: FileHandle;
    try {
      fh = await open(join(dir, file), 'r');
    } catch {
      continue;
    }
    try {
      if ((await stat(join(dir, file))).size < pos) pos = 0;
      const carry = Buffer.alloc(MARK.length);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, chunkBytes, pos);
        if (bytesRead === 0) break;
        let i = buf.indexOf(0x0a, 0);
        while (i !== -1 && i < bytesRead) {
          if (!endsWithMark(buf, i, carry)) count++;
          i = buf.indexOf(0x0a, i + 1);
        }
        // The bytes before the next chunk (the mark may straddle two chunks).
        if (bytesRead >= MARK.length) buf.copy(carry, 0, bytesRead - MARK.length, bytesRead);
        else {
          carry.copy(carry, 0, bytesRead);
          buf.copy(carry, MARK.length - bytesRead, 0, bytesRead);
        }
        pos += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }
  return count;
}
