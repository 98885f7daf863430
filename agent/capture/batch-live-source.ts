/**
 * Live capture through libpcap with a batch of packets per JavaScript call (the
 * project's own addon, native/pcap_batch.c): libuv watches the capture fd, and on each
 * wake-up dispatch() copies what the kernel ring holds, as much as fits, into one reused
 * buffer, whose records go to the handler in place (buffer and offset, no further copy);
 * dispatches follow one another until the ring is empty.
 *
 * What it buys over node_pcap (one JavaScript call per packet): the wake-up interval. At
 * light load a wake-up costs far more than the packets it brings, and libpcap retires a
 * ring block every 15-25 ms at 20k pkt/s; reading the ring at most every 200 ms measured
 * about a quarter less CPU (BENCHMARKS.md). Also: the socket and kernel ring are released
 * at stop(), idle or not, and a failed dispatch says why (pcap_geterr).
 *
 * Same libpcap settings as the pcap engine (packet-mmap ring in block mode, snaplen,
 * buffer size, buffer timeout, kernel filter), same kernel counters.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { captureErrorFromPcap } from './capture-errors.js';
import { Completion } from './completion.js';
import { assertInterfaceExists, interfaceNames } from './interfaces.js';
import { CaptureError, CaptureErrorCode, type CaptureStats, type PacketHandler, type PacketSource } from './packet-source.js';
import { pcapSettings, wakeupInterval, type PcapLiveOptions, type PcapSettings } from './pcap-live-source.js';

type SessionHandle = { readonly __brand: 'pcap_batch session' };

/** native/pcap_batch.c's exports. */
export type PcapBatchBinding = {
  open(device: string, filter: string, snaplen: number, bufferBytes: number, timeoutMs: number, holdoffMs: number,
    batch: Buffer, onReadable: (status: number) => void): { handle: SessionHandle; linkType: number };
  /** Packets written into the batch buffer from offset 0; 0 none ready, -1 error (see error()), -2 closed. */
  dispatch(handle: SessionHandle): number;
  error(handle: SessionHandle): string;
  stats(handle: SessionHandle): { received: number; dropped: number; ifDropped: number };
  close(handle: SessionHandle): void;
};

/** Record header in the batch buffer, in 32-bit words (host byte order). */
const enum Rec { TS_SEC = 0, TS_USEC = 1, CAPLEN = 2, LEN = 3, HEADER_BYTES = 16 }

/**
 * Batch buffer size: a fraction of a 1-2 MiB L2 cache per core (EPYC, Xeon), so the packets one
 * dispatch copies are still in cache when the handler reads them (~500 LB-like packets; a
 * 200-ms wake-up at 20k pkt/s brings about 2 MB, read in eight dispatches, one after the
 * other). A 4 MiB buffer, which took a whole wake-up at once, measured 5-8 % more CPU at
 * 20k pkt/s: each packet came from memory twice, once for the copy and once for the analysis.
 */
const BATCH_BYTES = 256 * 1024;
/** Packets at the snaplen one libpcap call may take into the batch at the least (jumbo snaplens). */
const MIN_BATCH_PACKETS = 16;

/** The batch buffer for `snaplen`: BATCH_BYTES, or more when the snaplen would leave room for few packets. */
function batchBytes(snaplen: number): number {
  return Math.max(BATCH_BYTES, MIN_BATCH_PACKETS * (Rec.HEADER_BYTES + ((snaplen + 3) & ~3)));
}

const require = createRequire(import.meta.url);

/** Where the build puts the addon, next to the compiled source (scripts/build-native.sh). */
export const PCAP_BATCH_ADDON = fileURLToPath(new URL('./native/pcap_batch.node', import.meta.url));

/** Load outcome per addon path: the binding, or why it cannot be used. */
const loaded = new Map<string, PcapBatchBinding | string>();

/** The addon at `path`, or a one-line reason it cannot be used. */
export function loadPcapBatch(path = PCAP_BATCH_ADDON): PcapBatchBinding | string {
  let result = loaded.get(path);
  if (result === undefined) {
    if (!existsSync(path)) {
      result = `${path} was not built (npm run build compiles it; it needs libpcap-dev, python3, make and a C compiler)`;
    } else {
      try {
        result = require(path) as PcapBatchBinding;
      } catch (err) {
        result = `${path} cannot be loaded: ${(err as Error).message.split('\n')[0] ?? ''}`;
      }
    }
    loaded.set(path, result);
  }
  return result;
}

/** Why the batch engine cannot be used, or undefined when it can. */
export function pcapBatchUnavailable(path = PCAP_BATCH_ADDON): string | undefined {
  const r = loadPcapBatch(path);
  return typeof r === 'string' ? r : undefined;
}

export class BatchLiveSource implements PacketSource {
  readonly engine = 'batch';
  readonly name: string;
  #linkType = -1;
  readonly #filter: string;
  readonly #settings: PcapSettings;
  readonly #wakeupMs: number;
  readonly #native: PcapBatchBinding;
  #handle: SessionHandle | undefined;
  /** The addon's records; each packet goes to the handler in place (offset, no copy). */
  readonly #batch: Buffer;
  /** #batch's record headers as 32-bit words (a fresh Buffer.alloc is aligned). */
  readonly #words: Uint32Array;
  #onPacket: PacketHandler | undefined;
  #stopped = false;
  #stopping = false;
  #lastStats: CaptureStats | undefined;
  readonly #completion = new Completion();
  readonly done: Promise<void> = this.#completion.promise;

  constructor(opts: PcapLiveOptions) {
    this.name = opts.interfaceName;
    this.#filter = opts.filter;
    this.#settings = pcapSettings(opts);
    this.#batch = Buffer.alloc(batchBytes(this.#settings.snaplen));
    this.#words = new Uint32Array(this.#batch.buffer, this.#batch.byteOffset, this.#batch.length >> 2);
    this.#wakeupMs = wakeupInterval(opts.wakeupIntervalMs);
    const native = loadPcapBatch();
    if (typeof native === 'string') throw new CaptureError(CaptureErrorCode.OTHER, `the batch capture engine is not available: ${native}`);
    this.#native = native;
  }

  get linkType(): number {
    return this.#linkType;
  }

  start(onPacket: PacketHandler): void {
    if (this.#handle) throw new CaptureError(CaptureErrorCode.OTHER, `capture on "${this.name}" already started`);
    // Checked first: without privilege libpcap says "Operation not permitted" even for a missing interface.
    assertInterfaceExists(this.name);
    this.#onPacket = onPacket;
    try {
      const { snaplen, bufferBytes, timeoutMs } = this.#settings;
      const s = this.#native.open(this.name, this.#filter, snaplen, bufferBytes, timeoutMs,
        this.#wakeupMs, this.#batch, (status) => this.#readable(status));
      this.#handle = s.handle;
      this.#linkType = s.linkType;
    } catch (err) {
      throw captureErrorFromPcap((err as Error).message, {
        interfaceName: this.name, filter: this.#filter, available: interfaceNames(),
      });
    }
    // Packets may already be waiting before the first readiness notification.
    setImmediate(() => this.#deliver());
  }

  #readable(status: number): void {
    this.#deliver();
    // libuv stopped watching the fd (the interface went away): the ring was read, the session ends.
    if (status < 0) this.#fail();
  }

  /** Dispatch until libpcap has nothing ready; each batch goes through the handler packet by packet. */
  #deliver(): void {
    const handle = this.#handle;
    const onPacket = this.#onPacket;
    if (handle === undefined || onPacket === undefined || this.#stopped) return;
    const native = this.#native;
    const w = this.#words;
    const batch = this.#batch;
    for (;;) {
      const n = native.dispatch(handle);
      if (n <= 0) {
        if (n === -1) this.#fail();
        return;
      }
      let at = 0;
      for (let i = 0; i < n; i++) {
        const word = at >> 2;
        const capLen = w[word + Rec.CAPLEN] as number;
        const data = at + Rec.HEADER_BYTES;
        onPacket(batch, capLen, w[word + Rec.LEN] as number, w[word + Rec.TS_SEC] as number, w[word + Rec.TS_USEC] as number, data);
        if (this.#stopped) return;
        at = data + ((capLen + 3) & ~3);
      }
    }
  }

  #fail(): void {
    // A failure met by stop()'s last read is not reported: the session is being put away.
    if (this.#stopped || this.#stopping || this.#handle === undefined) return;
    const why = this.#native.error(this.#handle);
    this.#completion.reject(new CaptureError(CaptureErrorCode.INTERFACE_LOST,
      `capture on "${this.name}" failed: the interface went down or was removed${why ? ` (${why})` : ''}`));
  }

  /** Deliver what waits in the kernel ring now, without a readiness notification. */
  drain(): void {
    this.#deliver();
  }

  stats(): CaptureStats | undefined {
    const handle = this.#handle;
    if (handle === undefined || this.#stopped) return this.#lastStats;
    try {
      this.#lastStats = this.#native.stats(handle);
    } catch {
      // pcap_stats() fails once the interface is gone: the last figures stand.
    }
    return this.#lastStats;
  }

  /**
   * Hands over what the ring holds (a wake-up may be held off), then stops delivery and
   * releases the libpcap handle (socket and kernel ring) at once.
   */
  stop(): void {
    if (this.#stopped) return;
    const handle = this.#handle;
    if (handle !== undefined) {
      this.#stopping = true;
      this.#deliver();
      this.stats();
    }
    this.#stopped = true;
    this.#completion.resolve();
    if (handle !== undefined) this.#native.close(handle);
  }
}
