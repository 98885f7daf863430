/**
 * Live capture through node_pcap's native binding, with libpcap's packet-mmap ring
 * in block mode (immediate mode off): the kernel hands packets over in blocks, one
 * wake-up per block or per buffer timeout instead of one per packet (DESIGN,
 * "Capture: measured facts": about 11x less CPU).
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

export type PcapLiveOptions = Readonly<{
  interfaceName: string;
  /** Complete BPF expression (see buildBpfFilter), '' for none. */
  filter: string;
  snaplen?: number;
  bufferSizeMb?: number;
  bufferTimeoutMs?: number;
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
  readonly #completion = new Completion();
  readonly done: Promise<void> = this.#completion.promise;

  constructor(opts: PcapLiveOptions) {
    this.name = opts.interfaceName;
    this.#filter = opts.filter;
    this.#settings = pcapSettings(opts);
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
    session.read_callback = () => this.#dispatch();
    session.start_polling();
    // Packets may already be waiting before the first readiness notification.
    setImmediate(() => this.#dispatch());
  }

  #dispatch(): void {
    const session = this.#session;
    if (!session) return;
    const r = session.dispatch(this.#buf, this.#header);
    if (r === -2) {
      this.#session = undefined;
      this.#completion.resolve();
    } else if (r === -1 && !this.#stopped) {
      // The binding does not expose pcap_geterr(); on Linux this is the interface going away.
      // The session is kept: only a dispatch returning -2 releases it (see reap()).
      this.#completion.reject(new CaptureError(CaptureErrorCode.INTERFACE_LOST,
        `capture on "${this.name}" failed: the interface went down or was removed`));
    }
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
    if (session) this.stats();
    this.#stopped = true;
    this.#completion.resolve();
    if (!session) return;
    session.close();
    this.#dispatch();
  }
}
