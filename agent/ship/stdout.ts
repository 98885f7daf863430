/**
 * The agent's stdout: log lines and summaries, written synchronously (a line is out
 * before the process can exit, and one writer keeps log lines and summaries in order).
 *
 * A reader that stops reading must not stop the analysis. Docker's awslogs driver in
 * its default blocking mode stops reading the container's stdout while CloudWatch Logs
 * is unreachable, and a plain blocking write to the full pipe would then freeze the
 * agent in the kernel: no capture, no event log, not even SIGTERM (seen with a
 * blocking write). So a pipe or a terminal on stdout is reopened through /proc/self/fd/1 as a
 * non-blocking description of its own (the parent's stays as it was), and a full one
 * makes a write wait at most RETRY_MS; after one such wait, later writes do not wait at
 * all until one goes through. A line that cannot be written is dropped and counted
 * (stdioErrors), and a line cut in the middle is ended before the next one, so readers
 * never see two lines run together. A reader gone for good (EPIPE: the log collector
 * restarted, a pipe to `head` closed) is the same: dropped and counted, never fatal.
 * A socket (journald's stream under systemd, a parent's socketpair) cannot be reopened:
 * it is put in non-blocking mode, as Node.js does for process.stdout. A file never blocks.
 */
import { constants, fstatSync, openSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';

/** Lines written to stdout or stderr that were dropped (reader gone, or stdout full for RETRY_MS). */
export const stdioErrors = { dropped: 0 };

/** How long a write waits for a full stdout before its line is dropped. */
export const RETRY_MS = 100;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Per descriptor: whether the last write gave up on a full reader (then the next does not wait), and whether it cut a line. */
const stalled = new Set<number>();
const torn = new Set<number>();

/**
 * Writes all of `text` to the file descriptor, or drops what is left of it and counts
 * it (see the module comment). Never throws.
 */
export function writeFdSync(fd: number, text: string): void {
  const buf = Buffer.from(torn.has(fd) ? `\n${text}` : text, 'utf8');
  let at = 0;
  let waited = 0;
  const budget = stalled.has(fd) ? 0 : RETRY_MS;
  while (at < buf.length) {
    try {
      at += writeSync(fd, buf, at, buf.length - at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN' && waited < budget) {
        Atomics.wait(sleeper, 0, 0, 1);
        waited++;
        continue;
      }
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') stalled.add(fd);
      stdioErrors.dropped++;
      // Only the newline that ends a cut line is owed; a line never begun is simply gone.
      if (at > 0) torn.add(fd);
      return;
    }
  }
  stalled.delete(fd);
  torn.delete(fd);
}

/**
 * The descriptor to write `fd`'s output through: for a pipe, FIFO or terminal, a
 * non-blocking description of its own, opened through /proc/self/fd (the one `fd`
 * shares with the parent keeps its flags); otherwise (a file, a socket, or the reopening
 * failed) `fd` itself.
 */
export function nonBlockingDescriptor(fd: number): number {
  try {
    const st = fstatSync(fd);
    if (st.isSocket() && fd === 1) {
      // A socket cannot be reopened. Node.js puts the socket on stdout in non-blocking mode
      // when it makes process.stdout (and never closes it): made once here, not written to.
      void process.stdout.writable;
      return fd;
    }
    if (!st.isFIFO() && !st.isCharacterDevice()) return fd;
    return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return fd;
  }
}

let stdoutFd: number | undefined;

/** One piece of output on stdout (a log line, a summary); the caller ends it with a newline. */
export function writeStdout(text: string): void {
  stdoutFd ??= nonBlockingDescriptor(1);
  writeFdSync(stdoutFd, text);
}

/** Whether stdout is a terminal (readable lines and tables instead of JSON). */
export function stdoutIsTty(): boolean {
  return isatty(1);
}
