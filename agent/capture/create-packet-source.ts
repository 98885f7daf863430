/**
 * Chooses and builds the packet source from plain options (the CLI/env parsing lives
 * in config/, not here): a capture file when readFile is set, otherwise a live
 * interface through the batch engine (default), pcap or cap.
 */
import { readFileSync } from 'node:fs';
import { buildBpfFilter } from './bpf-filter.js';
import { BatchLiveSource, pcapBatchUnavailable } from './batch-live-source.js';
import { CapLiveSource } from './cap-live-source.js';
import { FileSource } from './file-source.js';
import { assertInterfaceExists, defaultRouteInterface, interfaceNames } from './interfaces.js';
import { CaptureError, CaptureErrorCode, LinkType, type PacketSource } from './packet-source.js';
import { PcapLiveSource } from './pcap-live-source.js';
import { ResilientLiveSource } from './resilient-source.js';

export const CaptureEngine = { BATCH: 'batch', PCAP: 'pcap', CAP: 'cap' } as const;
export type CaptureEngine = (typeof CaptureEngine)[keyof typeof CaptureEngine];

export type PacketSourceOptions = Readonly<{
  /** Interface to capture on; undefined = the one carrying the default route. */
  interface?: string | undefined;
  /** Read this capture file instead of a live interface. */
  readFile?: string | undefined;
  /** @default 'batch' (falls back to 'pcap', with a warning, when its addon is not built) */
  engine?: CaptureEngine | undefined;
  /** Told when the requested engine cannot be used and another one is. */
  warn?: ((message: string) => void) | undefined;
  /** Test seam: where the batch engine's addon is. */
  batchAddonPath?: string | undefined;
  /** @default DEFAULT_SNAPLEN (9216) */
  snaplen?: number | undefined;
  /** @default DEFAULT_BUFFER_SIZE_MB (64) */
  bufferSizeMb?: number | undefined;
  /** @default DEFAULT_BUFFER_TIMEOUT_MS (50) */
  bufferTimeoutMs?: number | undefined;
  /** The libpcap engines (batch, pcap): read the ring at most every N ms. @default DEFAULT_WAKEUP_INTERVAL_MS (200) */
  wakeupIntervalMs?: number | undefined;
  /** User BPF expression ANDed with what the analysis needs. */
  filter?: string | undefined;
  /** -s N: live capture thins unsampled flows in the kernel filter (see bpf-filter.ts). @default 1 */
  sample?: number | undefined;
}>;

/** ARPHRD_* values (in /sys/class/net/IF/type) that libpcap captures as DLT_EN10MB. */
const ARPHRD_ETHER = 1;
const ARPHRD_LOOPBACK = 772;

/** The DLT libpcap will report for a live interface, from its ARPHRD type. */
export function liveLinkType(ifname: string): number {
  if (ifname === 'any') return LinkType.LINUX_SLL;
  try {
    const type = Number(readFileSync(`/sys/class/net/${ifname}/type`, 'utf8').trim());
    return type === ARPHRD_ETHER || type === ARPHRD_LOOPBACK ? LinkType.ETHERNET : LinkType.RAW;
  } catch {
    return LinkType.ETHERNET;
  }
}

/** The interface to capture on: the given one, else the default-route one. */
export function resolveInterface(name: string | undefined): string {
  const chosen = name ?? defaultRouteInterface();
  if (chosen === undefined) {
    throw new CaptureError(CaptureErrorCode.NO_SUCH_INTERFACE,
      `no default route, so no default interface; choose one with -i (available: ${interfaceNames().join(', ')})`);
  }
  assertInterfaceExists(chosen);
  return chosen;
}

export function createPacketSource(opts: PacketSourceOptions): PacketSource {
  const userFilter = opts.filter;
  if (opts.readFile !== undefined) {
    // A file gets only the user's filter: every packet reaches the decoder, so truncated
    // and malformed ones are counted by reason instead of vanishing in the kernel filter.
    // The user's expression also applies inside 802.1Q tags (libpcap's `vlan` shifts offsets).
    const u = userFilter?.trim() ?? '';
    const fileFilter = (linkType: number): string =>
      u === '' ? '' : linkType === LinkType.ETHERNET ? `(${u}) or (vlan and (${u}))` : u;
    return new FileSource({ path: opts.readFile, filter: fileFilter });
  }
  const interfaceName = resolveInterface(opts.interface);
  const filter = buildBpfFilter({ linkType: liveLinkType(interfaceName), userFilter, sample: opts.sample ?? 1 });
  const pcapOpts = {
    interfaceName, filter,
    snaplen: opts.snaplen ?? undefined,
    bufferSizeMb: opts.bufferSizeMb ?? undefined,
    bufferTimeoutMs: opts.bufferTimeoutMs ?? undefined,
    wakeupIntervalMs: opts.wakeupIntervalMs ?? undefined,
  };
  let engine = opts.engine ?? CaptureEngine.BATCH;
  if (engine === CaptureEngine.BATCH) {
    const why = pcapBatchUnavailable(opts.batchAddonPath);
    if (why !== undefined) {
      opts.warn?.(`batch capture engine unavailable, capturing with pcap (one call per packet, more CPU): ${why}`);
      engine = CaptureEngine.PCAP;
    }
  }
  // A fresh session per (re)open: the interface may go down or be re-created while we run.
  const open = engine === CaptureEngine.CAP
    ? (): PacketSource => new CapLiveSource({ interfaceName, filter, bufferSizeMb: opts.bufferSizeMb ?? undefined })
    : engine === CaptureEngine.BATCH
      ? (): PacketSource => new BatchLiveSource(pcapOpts)
      : (): PacketSource => new PcapLiveSource(pcapOpts);
  return new ResilientLiveSource({ interfaceName, open });
}
