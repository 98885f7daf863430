/**
 * The agent's stdout: log lines and summaries, written synchronously to fd 1.
 *
 * Written with fs.writeSync, as the logging library before it did: a line is out before
 * the process can exit, and one writer for log lines and summaries keeps them in order
 * whatever stdout is (a pipe from docker or journald, a file, a terminal).
 *
 * A stdout whose reader went away (EPIPE: the log collector restarted, a pipe to `head`
 * closed) must not stop the analysis: a write that fails is dropped and counted
 * (stdioErrors) instead of ending the process. A non-blocking stdout that is full
 * (EAGAIN: a slow reader) is retried for up to RETRY_MS, then the rest of the line is
 * dropped and counted: a slow log reader never stalls the capture for longer. The event
 * log on disk is the record; these lines are a courtesy.
 */
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';

/** Writes to stdout/stderr that failed (reader gone, or full for longer than RETRY_MS) and were dropped. */
export const stdioErrors = { dropped: 0 };

/** How long a write waits for a full non-blocking stdout before its line is dropped. */
const RETRY_MS = 100;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `text` to the file descriptor, or drops the rest and counts it (see the module comment). */
export function writeFdSync(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  let at = 0;
  let waited = 0;
  while (at < buf.length) {
    try {
      at += writeSync(fd, buf, at, buf.length - at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && waited < RETRY_MS) {
        Atomics.wait(sleeper, 0, 0, 1);
        waited++;
        continue;
      }
      stdioErrors.dropped++;
      return;
    }
  }
}

/** One piece of output on stdout (a log line, a summary); the caller ends it with a newline. */
export function writeStdout(text: string): void {
  writeFdSync(1, text);
}

/** Whether stdout is a terminal (readable lines and tables instead of JSON). */
export function stdoutIsTty(): boolean {
  return isatty(1);
}
