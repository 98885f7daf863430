import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cursor } from './cursor.js';

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
 * returned as it is so shipping never stalls on it.
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
  /** Lines returned as oversized, and files found shorter than the cursor. */
  readonly anomalies = { oversizedLines: 0, truncatedFiles: 0 };

  constructor(dir: string, start: Cursor, options: LogReaderOptions = {}) {
    this.#dir = dir;
    this.#chunkBytes = options.chunkBytes ?? 1 << 20;
    this.#maxLineBytes = options.maxLineBytes ?? 1 << 20;
    this.#file = start.file;
    this.#readPos = start.offset;
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
      }
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
    if (this.#partialLen > 0 || this.#oversized) this.#emitPartial(this.#readPos);
    await this.close();
    this.#switchTo(next);
    return true;
  }

  #switchTo(file: string): void {
    this.#file = file;
    this.#readPos = 0;
    this.#resetPartial();
  }

  #resetPartial(): void {
    this.#partial = [];
    this.#partialLen = 0;
    this.#oversized = false;
  }

  #split(chunk: Buffer, chunkStart: number): void {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl === -1) break;
      this.#appendPartial(chunk.subarray(from, nl));
      this.#emitPartial(chunkStart + nl + 1);
      from = nl + 1;
    }
    if (from < chunk.length) this.#appendPartial(chunk.subarray(from));
  }

  #appendPartial(piece: Buffer): void {
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

  #emitPartial(endOffset: number): void {
    const oversized = this.#oversized;
    const text = oversized ? '' : Buffer.concat(this.#partial, this.#partialLen).toString('utf8');
    if (oversized) this.anomalies.oversizedLines++;
    this.#queue.push({ file: this.#file, endOffset, text, oversized });
    this.#resetPartial();
  }
}

/**
 * Complete lines after the cursor, counted in bounded chunks (for the EventsPending
 * gauge).
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
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, chunkBytes, pos);
        if (bytesRead === 0) break;
        let i = buf.indexOf(0x0a, 0);
        while (i !== -1 && i < bytesRead) {
          count++;
          i = buf.indexOf(0x0a, i + 1);
        }
        pos += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }
  return count;
}
