/**
 * Live capture through `cap` 0.2.1, kept only so the benchmark can compare it with
 * the pcap engine (--engine cap). Its limits, all fixed inside the addon: immediate
 * mode (one wake-up per packet), snaplen 65535, promiscuous mode on, no pcap_stats
 * (stats() is undefined), and no packet timestamp: THIS ENGINE'S TIMESTAMPS ARE CLOCK
 * READINGS taken when JavaScript sees the packet, not libpcap's. It reports only the
 * copied length, so wireLen is the captured length.
 */
import { performance } from 'node:perf_hooks';
import { captureErrorFromPcap } from './capture-errors.js';
import { assertInterfaceExists, interfaceNames } from './interfaces.js';
import { CaptureError, CaptureErrorCode, type CaptureStats, type PacketHandler, type PacketSource } from './packet-source.js';
import { createNativeCap, linkTypeFromName, type NativeCap } from './pcap-binding.js';
import { DEFAULT_BUFFER_SIZE_MB } from './pcap-live-source.js';
import { Completion } from './completion.js';

/** cap hard-codes pcap_set_snaplen(65535). */
export const CAP_SNAPLEN = 65535;

export type CapLiveOptions = Readonly<{
  interfaceName: string;
  filter: string;
  bufferSizeMb?: number;
}>;

/**
 * Cap objects whose open() failed. cap 0.2.1's destructor then calls uv_poll_stop()
 * on a poll handle it never initialised (it only checks pcap_handle, which pcap_create
 * already set), which segfaults when the object is garbage-collected: seen in about
 * one run in ten after a permission error. Keeping them referenced means the
 * destructor never runs; a failed open is a start-up error, so this holds a handful.
 */
const failedOpens: NativeCap[] = [];

/** Microseconds since the epoch from the monotonic clock anchored at process start. */
function clockMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export class CapLiveSource implements PacketSource {
  readonly engine = 'cap';
  readonly name: string;
  #linkType = -1;
  readonly #filter: string;
  readonly #bufferBytes: number;
  /**
   * The Buffer given to Cap#open(). cap keeps only a raw pointer to it: if nothing in
   * JavaScript references it, V8 frees it and every packet is written into freed
   * memory (DESIGN: heap use-after-free under load). This field keeps it alive for
   * the capture's whole life — do not turn it into a local.
   */
  readonly #buf = Buffer.alloc(CAP_SNAPLEN);
  #cap: NativeCap | undefined;
  #stopped = false;
  readonly #completion = new Completion();
  readonly done: Promise<void> = this.#completion.promise;

  constructor(opts: CapLiveOptions) {
    this.name = opts.interfaceName;
    this.#filter = opts.filter;
    this.#bufferBytes = Math.round((opts.bufferSizeMb ?? DEFAULT_BUFFER_SIZE_MB) * 1024 * 1024);
  }

  get linkType(): number {
    return this.#linkType;
  }

  start(onPacket: PacketHandler): void {
    if (this.#cap) throw new CaptureError(CaptureErrorCode.OTHER, `capture on "${this.name}" already started`);
    assertInterfaceExists(this.name);
    const cap = createNativeCap();
    const buf = this.#buf;
    try {
      this.#linkType = linkTypeFromName(cap.open(this.name, this.#filter, this.#bufferBytes, buf));
    } catch (err) {
      failedOpens.push(cap);
      throw captureErrorFromPcap((err as Error).message, {
        interfaceName: this.name, filter: this.#filter, available: interfaceNames(),
      });
    }
    this.#cap = cap;
    cap.on('packet', (nbytes: number) => {
      if (this.#stopped) return;
      const now = clockMicros();
      const sec = Math.floor(now / 1_000_000);
      onPacket(buf, nbytes, nbytes, sec, now - sec * 1_000_000, 0);
    });
  }

  /** cap has no pcap_stats binding. */
  stats(): CaptureStats | undefined {
    return undefined;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const cap = this.#cap;
    if (cap) {
      cap.close();
      cap.removeAllListeners('packet');
    }
    // #cap (and through the closure #buf) stay referenced: closing is synchronous here,
    // but a late callback must never find the buffer freed.
    this.#completion.resolve();
  }
}
