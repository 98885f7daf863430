import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Where CloudWatch Logs shipping stands in the local log: everything before `offset`
 * in `file` (and every earlier file) has been acknowledged by PutLogEvents.
 * `lastId` is the id of the last acknowledged event, kept so a person (or a test) can
 * check the cursor against the log.
 */
export type Cursor = Readonly<{
  /** Base name of a local log file, e.g. errors_2026-02-15.log. */
  file: string;
  /** Byte offset just after the last acknowledged line. */
  offset: number;
  lastId: string | undefined;
}>;

export const CURSOR_FILE_NAME = '.cloudwatch-cursor.json';

/** The cursor before anything was shipped: the start of the oldest file. */
export const START_CURSOR: Cursor = Object.freeze({ file: '', offset: 0, lastId: undefined });

/**
 * Reads and writes the cursor file. A write goes to a temporary file that is synced
 * and renamed over the old one, so a crash (SIGKILL at any point, power loss) leaves
 * either the old or the new cursor, never a torn one; a temporary file left behind
 * is simply overwritten by the next save. The offset is always just after a newline
 * (the end of an acknowledged line); the reader moves a cursor that is not back to
 * the start of its line.
 */
export class CursorStore {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  get path(): string {
    return this.#path;
  }

  /** The saved cursor, or START_CURSOR when there is none or it cannot be read. */
  async load(): Promise<{ cursor: Cursor; problem?: string }> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { cursor: START_CURSOR };
      return { cursor: START_CURSOR, problem: `cannot read ${this.#path}: ${(err as Error).message}` };
    }
    const parsed = parseCursor(text);
    if (parsed === undefined) return { cursor: START_CURSOR, problem: `ignoring malformed cursor file ${this.#path}` };
    return { cursor: parsed };
  }

  async save(cursor: Cursor): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true });
    const tmp = `${this.#path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify({ file: cursor.file, offset: cursor.offset, lastId: cursor.lastId ?? null }) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.#path);
    // The rename itself survives a power loss only once the directory is synced; a kill needs nothing more.
    try {
      const d = await open(dirname(this.#path), 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch {
      /* some file systems refuse to sync a directory: the cursor is still consistent, only possibly older */
    }
  }
}

export function parseCursor(text: string): Cursor | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.file !== 'string' || typeof v.offset !== 'number' || !Number.isSafeInteger(v.offset) || v.offset < 0) {
    return undefined;
  }
  const lastId = typeof v.lastId === 'string' ? v.lastId : undefined;
  return { file: v.file, offset: v.offset, lastId };
}
