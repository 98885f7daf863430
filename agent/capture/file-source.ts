/**
 * A capture file (--read FILE, pcap or pcapng) delivered through the same handler as
 * live traffic; `done` resolves after the last packet.
 *
 * Without a user filter (the default) the file is read by PcapFileReader, a plain
 * JavaScript reader (millions of packets per second on one core). A BPF filter needs
 * libpcap, whose binding cannot dispatch a file in pieces: then libpcap reads the file
 * in a child process (see file-reader-child.ts) and this side replays the stream in
 * pipe-sized chunks, so timers and signals keep running between chunks.
 */
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { badFileError, captureErrorFromPcap } from './capture-errors.js';
import { FileReaderExit, RECORD_HEADER_BYTES } from './file-reader-protocol.js';
import { CaptureError, CaptureErrorCode, type CaptureStats, type PacketHandler, type PacketSource } from './packet-source.js';
import { linkTypeFromName, loadPcapBinding, MAX_SNAPLEN } from './pcap-binding.js';
import { PcapFileReader } from './pcap-file-reader.js';
import { Completion } from './completion.js';
import { NODE_FLAGS } from '../node-flags.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./file-reader-child.js', import.meta.url));
/** Enough of the child's stderr for its one-line message. */
const MAX_STDERR = 4096;

export type FileSourceOptions = Readonly<{
  path: string;
  /** The BPF expression, or a function of the file's link type (known only once it is opened). */
  filter: string | ((linkType: number) => string);
}>;

/** Open `path` with libpcap in this process, returning the link type or throwing its reason. */
function probe(path: string, filter: string): number {
  const session = new (loadPcapBinding().PcapSession)();
  const lt = session.open_offline(path, filter, 0, 0, '', () => undefined, false, 0, () => undefined, false);
  // close() only sets libpcap's break flag; the next dispatch sees it first, delivers
  // nothing and releases the handle.
  session.close();
  session.dispatch(Buffer.alloc(1), Buffer.alloc(16));
  return linkTypeFromName(lt);
}

export class FileSource implements PacketSource {
  readonly engine = 'file';
  readonly name: string;
  #linkType = -1;
  readonly #filter: FileSourceOptions['filter'];
  #child: ChildProcess | undefined;
  #reader: PcapFileReader | undefined;
  #started = false;
  #stopped = false;
  #packets = 0;
  /** A record split across two pipe reads. */
  readonly #carry = Buffer.alloc(RECORD_HEADER_BYTES + MAX_SNAPLEN);
  #carryUsed = 0;
  #onPacket: PacketHandler = () => undefined;
  readonly #completion = new Completion();
  readonly done: Promise<void> = this.#completion.promise;

  constructor(opts: FileSourceOptions) {
    this.name = opts.path;
    this.#filter = opts.filter;
  }

  get linkType(): number {
    return this.#linkType;
  }

  /** Packets delivered so far. */
  get packets(): number {
    return this.#reader?.packets ?? this.#packets;
  }

  /**
   * pcapng packets skipped because their interface's link type differs from the first
   * interface's (the source has one link type). Always 0 with a user filter (libpcap).
   */
  get otherLinkTypePackets(): number {
    return this.#reader?.otherLinkTypePackets ?? 0;
  }

  start(onPacket: PacketHandler): void {
    if (this.#started || this.#stopped) throw new CaptureError(CaptureErrorCode.OTHER, `file "${this.name}" already read`);
    const path = this.name;
    // The JS reader checks the format and finds the link type the filter depends on.
    const reader = new PcapFileReader({ path });
    reader.open();
    const userFilter = typeof this.#filter === 'function' ? this.#filter(reader.linkType) : this.#filter;
    if (!userFilter) {
      this.#started = true;
      this.#reader = reader;
      this.#linkType = reader.linkType;
      reader.run(onPacket).then(() => this.#finish(), (err: Error) => this.#finish(err));
      return;
    }
    reader.close();
    this.#started = true;
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      throw badFileError(path, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message);
    }
    // Synchronous checks in this process, so start() throws the exact libpcap reason.
    try {
      this.#linkType = probe(path, '');
    } catch (err) {
      throw captureErrorFromPcap((err as Error).message, { file: path });
    }
    const filter = typeof this.#filter === 'function' ? this.#filter(this.#linkType) : this.#filter;
    if (filter) {
      try {
        probe(path, filter);
      } catch (err) {
        throw captureErrorFromPcap((err as Error).message, { file: path, filter });
      }
    }
    this.#onPacket = onPacket;
    // The reader runs a JavaScript callback per packet: it gets the agent's Node.js options too.
    // node:child_process is loaded here, not at start: only a filtered file needs it (~1 MB resident).
    const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
    const child = spawn(process.execPath, [...NODE_FLAGS, CHILD_SCRIPT, path, filter], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      if (stderr.length < MAX_STDERR) stderr += s;
    });
    child.stdout?.on('data', (chunk: Buffer) => this.#onData(chunk));
    child.on('error', (err) => this.#finish(new CaptureError(CaptureErrorCode.OTHER, `cannot start the file reader: ${err.message}`)));
    child.on('close', (code) => {
      const reason = stderr.trim().split('\n')[0] ?? '';
      if (code === FileReaderExit.OK && this.#carryUsed === 0) this.#finish();
      else if (code === FileReaderExit.OK) this.#finish(badFileError(path, `stream ended inside a packet after ${this.#packets} packets`));
      else if (code === FileReaderExit.READ_FAILED || code === FileReaderExit.OPEN_FAILED) {
        this.#finish(badFileError(path, `${reason}; ${this.#packets} packets were analysed`));
      } else this.#finish(new CaptureError(CaptureErrorCode.OTHER, `file reader for "${path}" exited with ${code ?? 'a signal'}: ${reason}`));
    });
  }

  #finish(err?: Error): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#child = undefined;
    if (err) this.#completion.reject(err);
    else this.#completion.resolve();
  }

  /** Replay every whole record in `chunk`; keep a split one for the next chunk. */
  #onData(chunk: Buffer): void {
    if (this.#stopped) return;
    const len = chunk.length;
    let off = 0;
    if (this.#carryUsed > 0) {
      off = this.#fillCarry(chunk);
      if (off < 0) return;
    }
    const onPacket = this.#onPacket;
    while (off + RECORD_HEADER_BYTES <= len && !this.#stopped) {
      const capLen = chunk.readUInt32LE(off + 8);
      const end = off + RECORD_HEADER_BYTES + capLen;
      if (end > len) break;
      this.#packets++;
      onPacket(chunk, capLen, chunk.readUInt32LE(off + 12), chunk.readUInt32LE(off), chunk.readUInt32LE(off + 4), off + RECORD_HEADER_BYTES);
      off = end;
    }
    if (off < len && !this.#stopped) {
      chunk.copy(this.#carry, 0, off, len);
      this.#carryUsed = len - off;
    }
  }

  /** Complete the carried record from the start of `chunk`; returns where to go on, or -1 when it needs more. */
  #fillCarry(chunk: Buffer): number {
    const carry = this.#carry;
    let off = 0;
    if (this.#carryUsed < RECORD_HEADER_BYTES) {
      const take = Math.min(RECORD_HEADER_BYTES - this.#carryUsed, chunk.length);
      chunk.copy(carry, this.#carryUsed, 0, take);
      this.#carryUsed += take;
      off = take;
      if (this.#carryUsed < RECORD_HEADER_BYTES) return -1;
    }
    const capLen = carry.readUInt32LE(8);
    if (capLen > MAX_SNAPLEN) {
      this.#abort(badFileError(this.name, `reader stream out of step (record of ${capLen} bytes)`));
      return -1;
    }
    const need = RECORD_HEADER_BYTES + capLen;
    const take = Math.min(need - this.#carryUsed, chunk.length - off);
    chunk.copy(carry, this.#carryUsed, off, off + take);
    this.#carryUsed += take;
    off += take;
    if (this.#carryUsed < need) return -1;
    this.#carryUsed = 0;
    this.#packets++;
    this.#onPacket(carry, capLen, carry.readUInt32LE(12), carry.readUInt32LE(0), carry.readUInt32LE(4), RECORD_HEADER_BYTES);
    return off;
  }

  /** Files have no kernel counters. */
  stats(): CaptureStats | undefined {
    return undefined;
  }

  /** Stop delivering; `done` resolves (it never rejects because of a stop). */
  stop(): void {
    // The reader's run() then resolves, which resolves done.
    if (this.#reader) this.#reader.stop();
    else this.#abort();
  }

  #abort(err?: Error): void {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    this.#finish(err);
  }
}
