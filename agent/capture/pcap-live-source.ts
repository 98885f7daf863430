/**
 * Live capture through node_pcap's native binding, with libpcap's packet-mmap ring
 * in block mode (immediate mode off): the kernel hands packets over in blocks, one
 * wake-up per block or per buffer timeout instead of one per packet (DESIGN,
 * "Capture: measured facts": about 11x less CPU).
 *
 * The ring is read on a timer, every wake-up interval (200 ms by default), not at
 * every block: node_pcap's socket is non-blocking, so a dispatch() takes what the
 * ring holds and returns. At 20k pkt/s libpcap retires a block every 15-25 ms, and
 * each wake-up then runs the analysis on cold caches; one read per 200 ms measured
 * about a quarter less CPU (BENCHMARKS.md), as for the batch engine. When, at the
 * rate of the last interval, the ring would be a quarter full before the next read,
 * the next read comes sooner. `--wakeup-interval 0` watches the fd (node_pcap's
 * start_polling) and reads at every block.
 */
import { captureErrorFromPcap } from './capture-errors.js';
import { interfaceNames, assertInterfaceExists } from './interfaces.js';
import { CaptureError, CaptureErrorCode, type CaptureStats, type PacketHandler, type PacketSource } from './packet-source.js';
import { HeaderField, linkTypeFromName, loadPcapBinding, type NativePcapSession } from './pcap-binding.js';
import { Completion } from './completion.js';

/**
 * 9216 bytes: EC2 uses 9001-byte jumbo frames inside a VPC, so a whole segment (and
 * with it an HTTP request's header block, which the classifier reads) is captured.
 */
export const DEFAULT_SNAPLEN = 9216;
/** Kernel ring for bursts: about 7,000 full jumbo frames, far more small ones. */
export const DEFAULT_BUFFER_SIZE_MB = 64;
/** How long libpcap holds a partly filled block; latency is irrelevant here. */
export const DEFAULT_BUFFER_TIMEOUT_MS = 50;
/** Above this the summary and events lag visibly; 0 would mean immediate mode. */
export const MAX_BUFFER_TIMEOUT_MS = 50;

/**
 * One read of the kernel ring per 200 ms instead of one per block (every 15-25 ms at
 * 20k pkt/s): about a quarter less CPU at light load, measured (BENCHMARKS.md); events
 * are at most 250 ms late. The 64 MiB ring holds 200 ms of a burst up to ~300 MB/s
 * (2.5 Gbit/s at full snaplen); after one read at such a rate the next comes sooner.
 */
export const DEFAULT_WAKEUP_INTERVAL_MS = 200;
/** The stall check (resilient-source.ts) allows a second of undelivered packets. */
export const MAX_WAKEUP_INTERVAL_MS = 500;
/** Ring space one packet takes beside its bytes: tpacket3_hdr, sockaddr_ll and alignment, about. */
const RING_OVERHEAD_BYTES = 64;

/**
 * When to read the ring next, in ms, given the rate it filled at since the last read: the
 * wake-up interval, unless at that rate the ring would be a quarter full by then; then
 * when it would be an eighth full (at least 1 ms), so a busy capture is read often.
 */
export function nextReadDelay(bytesPerMs: number, wakeupMs: number, ringBytes: number): number {
  const quarter = ringBytes / 4;
  if (bytesPerMs * wakeupMs < quarter) return wakeupMs;
  return Math.max(1, Math.floor(quarter / 2 / bytesPerMs));
}

/** The wake-up interval, checked: 0 (read at every block) to MAX_WAKEUP_INTERVAL_MS. */
export function wakeupInterval(ms: number | undefined): number {
  const v = ms ?? DEFAULT_WAKEUP_INTERVAL_MS;
  if (!Number.isInteger(v) || v < 0 || v > MAX_WAKEUP_INTERVAL_MS) {
    throw new RangeError(`wake-up interval must be 0 to ${MAX_WAKEUP_INTERVAL_MS} ms, got ${v}`);
  }
  return v;
}

export type PcapLiveOptions = Readonly<{
  interfaceName: string;
  /** Complete BPF expression (see buildBpfFilter), '' for none. */
  filter: string;
  snaplen?: number;
  bufferSizeMb?: number;
  bufferTimeoutMs?: number;
  /** Read the kernel ring at most every N ms (0: at every block). @default DEFAULT_WAKEUP_INTERVAL_MS */
  wakeupIntervalMs?: number | undefined;
}>;

/** The libpcap settings both libpcap engines (pcap, batch) open with, defaults applied and checked. */
export type PcapSettings = Readonly<{ snaplen: number; bufferBytes: number; timeoutMs: number }>;

export function pcapSettings(opts: PcapLiveOptions): PcapSettings {
  const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
  const bufferBytes = Math.round((opts.bufferSizeMb ?? DEFAULT_BUFFER_SIZE_MB) * 1024 * 1024);
  const timeoutMs = opts.bufferTimeoutMs ?? DEFAULT_BUFFER_TIMEOUT_MS;
  if (!Number.isInteger(snaplen) || snaplen < 64 || snaplen > 262144) {
    throw new RangeError(`snaplen must be an integer from 64 to 262144, got ${snaplen}`);
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_BUFFER_TIMEOUT_MS) {
    throw new RangeError(`buffer timeout must be 1 to ${MAX_BUFFER_TIMEOUT_MS} ms, got ${timeoutMs}`);
  }
  return { snaplen, bufferBytes, timeoutMs };
}

export class PcapLiveSource implements PacketSource {
  readonly engine = 'pcap';
  readonly name: string;
  #linkType = -1;
  readonly #filter: string;
  readonly #settings: PcapSettings;
  #session: NativePcapSession | undefined;
  /** Reused for every packet; the binding copies into it. */
  readonly #buf: Buffer;
  readonly #header = Buffer.alloc(16);
  /** Host-order view of #header (Buffer.alloc gives a fresh, aligned ArrayBuffer). */
  readonly #hv = new Uint32Array(this.#header.buffer, this.#header.byteOffset, 4);
  #stopped = false;
  /** stop() is reading the ring a last time: a failure then is not reported. */
  #stopping = false;
  readonly #completion = new Completion();
  readonly done: Promise<void> = this.#completion.promise;
  readonly #wakeupMs: number;
  /** The next timed read (wake-up interval > 0). */
  #timer: NodeJS.Timeout | undefined;
  /** Ring space the packets delivered since the last timed read took (estimated), and that read's time. */
  #ringBytes = 0;
  #lastReadMs = 0;

  constructor(opts: PcapLiveOptions) {
    this.name = opts.interfaceName;
    this.#filter = opts.filter;
    this.#settings = pcapSettings(opts);
    this.#wakeupMs = wakeupInterval(opts.wakeupIntervalMs);
    this.#buf = Buffer.alloc(this.#settings.snaplen);
  }

  get linkType(): number {
    return this.#linkType;
  }

  start(onPacket: PacketHandler): void {
    if (this.#session) throw new CaptureError(CaptureErrorCode.OTHER, `capture on "${this.name}" already started`);
    // Checked first: without privilege libpcap says "Operation not permitted" even for a missing interface.
    assertInterfaceExists(this.name);
    const buf = this.#buf;
    const hv = this.#hv;
    const onReady = (): void => {
      // libpcap may finish the current block after close(); nothing is delivered after stop().
      if (this.#stopped) return;
      const capLen = hv[HeaderField.CAPLEN] ?? 0;
      this.#ringBytes += capLen + RING_OVERHEAD_BYTES;
      onPacket(buf, capLen <= buf.length ? capLen : buf.length, hv[HeaderField.LEN] ?? 0,
        hv[HeaderField.TS_SEC] ?? 0, hv[HeaderField.TS_USEC] ?? 0, 0);
    };
    const session = new (loadPcapBinding().PcapSession)();
    try {
      const { snaplen, bufferBytes, timeoutMs } = this.#settings;
      const lt = session.open_live(this.name, this.#filter, bufferBytes, snaplen, '', onReady,
        false, timeoutMs,
        // pcap_lookupnet() warns for interfaces without IPv4; harmless (only used by filters naming "net").
        () => undefined,
        // Promiscuous off: the instance only cares about its own traffic.
        false);
      this.#linkType = linkTypeFromName(lt);
    } catch (err) {
      throw captureErrorFromPcap((err as Error).message, {
        interfaceName: this.name, filter: this.#filter, available: interfaceNames(),
      });
    }
    this.#session = session;
    if (this.#wakeupMs === 0) {
      session.read_callback = () => this.#dispatch();
      session.start_polling();
      // Packets may already be waiting before the first readiness notification.
      setImmediate(() => this.#dispatch());
    } else {
      this.#lastReadMs = performance.now();
      this.#timer = setTimeout(this.#timedRead, this.#wakeupMs);
    }
  }

  /** Reads the ring, then sets the next read: after the interval, or sooner when the ring fills fast. */
  readonly #timedRead = (): void => {
    this.#timer = undefined;
    // A failed read ends the timed reads: the session is being replaced (resilient-source.ts).
    if (this.#stopped || !this.#dispatch()) return;
    const now = performance.now();
    const bytesPerMs = this.#ringBytes / Math.max(1, now - this.#lastReadMs);
    this.#ringBytes = 0;
    this.#lastReadMs = now;
    this.#timer = setTimeout(this.#timedRead, nextReadDelay(bytesPerMs, this.#wakeupMs, this.#settings.bufferBytes));
  };

  /** Delivers what the ring holds; false when the session is over (closed or failed). */
  #dispatch(): boolean {
    const session = this.#session;
    if (!session) return false;
    const r = session.dispatch(this.#buf, this.#header);
    if (r === -2) {
      this.#session = undefined;
      this.#completion.resolve();
      return false;
    }
    if (r !== -1) return true;
    if (!this.#stopped && !this.#stopping) {
      // The binding does not expose pcap_geterr(); on Linux this is the interface going away.
      // The session is kept: only a dispatch returning -2 releases it (see reap()).
      this.#completion.reject(new CaptureError(CaptureErrorCode.INTERFACE_LOST,
        `capture on "${this.name}" failed: the interface went down or was removed`));
    }
    return false;
  }

  /**
   * Deliver what waits in the kernel ring now, without a readiness notification: for a
   * session whose fd libuv no longer polls (after POLLERR), before it is replaced.
   */
  drain(): void {
    if (!this.#stopped) this.#dispatch();
  }

  /**
   * After stop(): try again to release the libpcap handle (socket and kernel ring).
   * node_pcap frees it only inside a dispatch that returns -2, which needs a packet in
   * the ring: after an interface came back up that happens with the first packet. A
   * handle whose interface was deleted never gets one (dispatch keeps returning -1).
   * Returns true once nothing is held.
   */
  reap(): boolean {
    if (!this.#stopped) return false;
    const session = this.#session;
    if (!session) return true;
    if (session.dispatch(this.#buf, this.#header) === -2) this.#session = undefined;
    return this.#session === undefined;
  }

  stats(): CaptureStats | undefined {
    const session = this.#session;
    if (!session || this.#stopped) return this.#lastStats;
    try {
      const s = session.stats();
      this.#lastStats = { received: s.ps_recv, dropped: s.ps_drop, ifDropped: s.ps_ifdrop };
    } catch {
      // pcap_stats() fails once the interface is gone: the last figures stand.
    }
    return this.#lastStats;
  }

  #lastStats: CaptureStats | undefined;

  /**
   * Stops delivery at once. libpcap only releases the handle inside a dispatch that
   * finds a packet (node_pcap puts the socket in non-blocking mode, where libpcap's
   * break-loop eventfd is not used), so on an idle interface the fd stays polled until
   * the next packet or until the process exits. `done` resolves now: delivery has ended.
   */
  stop(): void {
    if (this.#stopped) return;
    const session = this.#session;
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = undefined; }
    // Packets still in the ring (a read may be due) are delivered first.
    if (session) {
      this.#stopping = true;
      this.#dispatch();
      this.stats();
    }
    this.#stopped = true;
    this.#completion.resolve();
    if (!session) return;
    session.close();
    this.#dispatch();
  }
}
