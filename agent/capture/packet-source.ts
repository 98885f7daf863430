/**
 * Where packets come from: a live interface (libpcap through `pcap` or `cap`) or a
 * capture file. Every source feeds the same pipeline through the same handler.
 */

/** libpcap DLT_* link types the decoder understands. */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LINUX_SLL: 113,
  LINUX_SLL2: 276,
  /** Some platforms give raw IP as 12 or 14; libpcap maps them to 101 on Linux. */
  RAW_ALT: 12,
  /** OpenBSD's loopback: DLT_NULL's 4-byte address family, in network byte order. */
  LOOP: 108,
  /** Raw IPv4 and raw IPv6 (LINKTYPE_IPV4, LINKTYPE_IPV6), as some capture files carry them. */
  IPV4: 228,
  IPV6: 229,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

/**
 * Called once per packet, synchronously. The packet is buf[offset, offset + capLen): an
 * engine may hand over a whole batch's buffer instead of copying each packet out of it.
 * `buf` is reused by the engine: read it before returning, never keep it. The libpcap
 * timestamp comes as whole seconds and microseconds, `tsSec * 1_000_000 + tsUsec` µs since
 * the epoch (a malformed capture file may carry 1,000,000 or more in the microsecond field:
 * only the sum counts, as for libpcap's readers). Two small integers, because µs since the
 * epoch is a double that V8 boxes into a heap number on every call it does not inline
 * (allocation sampling: 16 bytes per packet).
 */
export type PacketHandler = (buf: Buffer, capLen: number, wireLen: number, tsSec: number, tsUsec: number, offset: number) => void;

/** µs since the epoch as a handler's (tsSec, tsUsec) pair. Allocates: tests and rare paths only. */
export function secUsec(micros: number): [number, number] {
  const sec = Math.floor(micros / 1_000_000);
  return [sec, micros - sec * 1_000_000];
}

/** Kernel counters from pcap_stats(); absent for engines that cannot read them. */
export type CaptureStats = Readonly<{
  /** Packets received by the filter (ps_recv). */
  received: number;
  /** Dropped because the buffer was full (ps_drop). */
  dropped: number;
  /** Dropped by the interface or its driver (ps_ifdrop). */
  ifDropped: number;
}>;

export interface PacketSource {
  /** Short name for logs and the summary: "pcap", "cap", "file". */
  readonly engine: string;
  /** What is captured: the interface name or the file path. */
  readonly name: string;
  /** DLT of the packets delivered. Valid after start(). */
  readonly linkType: number;
  /** Open and start delivering packets. Throws a CaptureError on failure. */
  start(onPacket: PacketHandler): void;
  /** Cumulative kernel counters, or undefined when the engine has none. */
  stats(): CaptureStats | undefined;
  /** Resolves when a file source has delivered every packet; never for a live source until stop(). */
  readonly done: Promise<void>;
  /** Stop capturing and release the handle. Idempotent. */
  stop(): void;
  /** Live sources that survive interface loss: whether capture is running or interrupted. */
  health?(): CaptureHealth;
}

/** State of a live capture that recovers from interface loss (see ResilientLiveSource). */
export type CaptureHealth = Readonly<{
  /** 'interrupted' while the interface is down or gone and capture waits to resume. */
  state: 'capturing' | 'interrupted';
  /** Why the current interruption started (GapReason), or null while capturing. */
  reason: string | null;
  /** Wall-clock ms when the current interruption started, or null. */
  sinceMs: number | null;
  /** Interruptions that ended (capture resumed) so far. */
  gaps: number;
  /** Their total duration, ms. */
  gapMsTotal: number;
}>;

export const CaptureErrorCode = {
  NO_SUCH_INTERFACE: 'NO_SUCH_INTERFACE',
  NO_PERMISSION: 'NO_PERMISSION',
  BAD_FILE: 'BAD_FILE',
  BAD_FILTER: 'BAD_FILTER',
  /** The interface went down or away during capture: recoverable, capture resumes when it is back. */
  INTERFACE_LOST: 'INTERFACE_LOST',
  OTHER: 'OTHER',
} as const;
export type CaptureErrorCode = (typeof CaptureErrorCode)[keyof typeof CaptureErrorCode];

/** A capture failure with a one-line, user-facing message that says what to do. */
export class CaptureError extends Error {
  readonly code: CaptureErrorCode;
  constructor(code: CaptureErrorCode, message: string) {
    super(message);
    this.name = 'CaptureError';
    this.code = code;
  }
}
