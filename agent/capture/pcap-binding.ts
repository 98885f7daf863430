/**
 * Typed access to the native addons behind the capture engines. We call node_pcap's
 * binding directly instead of its pcap.js wrapper because the wrapper allocates a
 * PacketWithHeader object and emits an event for every packet.
 */
import { createRequire } from 'node:module';

/** pcap_session.cc's PcapSession (node_pcap 3.1.0). */
export interface NativePcapSession {
  /**
   * Arguments: device, filter, bufferSize, snaplen, dumpFile, onPacketReady, monitor,
   * bufferTimeoutMs (≤ 0 = immediate mode), onWarning, promiscuous. Returns the link
   * type name ("LINKTYPE_ETHERNET", …, or "Unknown linktype N"). Throws libpcap's error.
   */
  open_live(device: string, filter: string, bufferSize: number, snaplen: number, dumpFile: string,
    onPacketReady: () => void, monitor: boolean, bufferTimeoutMs: number,
    onWarning: (message: string) => void, promiscuous: boolean): string;
  /** Same arguments as open_live; only path, filter and onPacketReady matter. */
  open_offline(path: string, filter: string, bufferSize: number, snaplen: number, dumpFile: string,
    onPacketReady: () => void, monitor: boolean, bufferTimeoutMs: number,
    onWarning: (message: string) => void, promiscuous: boolean): string;
  /**
   * Delivers packets until libpcap has none ready (live) or the file ends (offline):
   * one synchronous call reads a whole file. Each packet is copied into `buf` (cut to
   * buf.length) and its header into `header` (see HeaderField), then onPacketReady runs.
   * Returns the last pcap_dispatch() result: 0 = nothing more, -1 = error,
   * -2 = close() was seen and the handle is now released.
   */
  dispatch(buf: Buffer, header: Buffer): number;
  /** Watches the capture fd in libuv and calls `read_callback` when it is readable. */
  start_polling(): void;
  read_callback?: () => void;
  /** pcap_breakloop(): the handle is released by the next dispatch() that sees it. */
  close(): void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
}

export type NativePcapDevice = {
  name: string;
  description?: string;
  addresses: { addr?: string; netmask?: string }[];
  flags?: string;
};

export type PcapBinding = {
  PcapSession: new () => NativePcapSession;
  findalldevs(): NativePcapDevice[];
  lib_version(): string;
};

/** cap 0.2.1's Cap class (an EventEmitter emitting 'packet' with (copiedLength, truncated)). */
export interface NativeCap {
  open(device: string, filter: string, bufferSize: number, buffer: Buffer): string;
  on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): this;
  removeAllListeners(event?: string): this;
  close(): boolean;
}

/**
 * Offsets (in 32-bit words) of the header that PacketReady() copies: tv_sec, tv_usec,
 * caplen, len, each 4 bytes in host byte order. tv_sec is the low half of a 64-bit
 * time_t on little-endian hosts (x86-64, arm64): unsigned, good until 2106.
 */
export const HeaderField = { TS_SEC: 0, TS_USEC: 1, CAPLEN: 2, LEN: 3 } as const;

/** libpcap's MAXIMUM_SNAPLEN: it rejects or cuts file records longer than this. */
export const MAX_SNAPLEN = 262144;

const require = createRequire(import.meta.url);

export function loadPcapBinding(): PcapBinding {
  return require('pcap/build/Release/pcap_binding.node') as PcapBinding;
}

export function createNativeCap(): NativeCap {
  const { Cap } = require('cap') as { Cap: new () => NativeCap };
  return new Cap();
}

/** Link type names returned by both bindings, as DLT numbers. */
const LINK_TYPE_BY_NAME: Readonly<Record<string, number>> = {
  LINKTYPE_NULL: 0, NULL: 0,
  LINKTYPE_ETHERNET: 1, ETHERNET: 1,
  LINKTYPE_RAW: 101, RAW: 101,
  LINKTYPE_LINUX_SLL: 113,
  LINKTYPE_IEEE802_11_RADIO: 127, IEEE802_11_RADIO: 127,
};

/** Turn a binding's link type string into the DLT number (-1 when unrecognisable). */
export function linkTypeFromName(name: string): number {
  const known = LINK_TYPE_BY_NAME[name];
  if (known !== undefined) return known;
  const m = /^Unknown linktype (\d+)$/.exec(name);
  return m?.[1] !== undefined ? Number(m[1]) : -1;
}
