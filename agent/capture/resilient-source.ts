/**
 * A live capture that outlives its interface: when the interface goes down, is
 * deleted and re-created, or the capture stalls, the gap is reported and a fresh
 * libpcap session is opened as soon as the interface is back, without restarting the
 * process. The kernel's link notifications (rtnetlink, link-events.ts) bring a check 250 ms
 * after an interface changes; a timer checks every second besides (every 250 ms where the
 * notifications cannot be had).
 *
 * Why a watchdog and not only the session's error: after POLLERR libuv stops
 * polling the capture fd for good (uv_poll reports UV_EBADF once), and libpcap
 * 1.10 answers an interface taken down with 0 packets, not an error; so a session
 * whose interface went down and up again would wait forever while the kernel keeps
 * filling its ring. Three checks catch every case:
 * - the session's `done` rejects (interface deleted: libpcap returns -1);
 * - the link's sysfs state: gone, not IFF_UP, another ifindex (re-created), or a new
 *   carrier loss since the session opened (a down/up between two checks: the old
 *   socket may be re-hooked by the kernel or not, so a fresh session is opened and
 *   the old ring drained);
 * - a stall: packets the kernel counted (ps_recv) waited a second undelivered.
 *
 * While packets flow, the check rides on the wake-up that delivers them (after the batch,
 * in the same turn of the event loop), at most once per interval, and the timer is pushed
 * back at each delivery: it fires only when no packet came for a whole interval, as when
 * the link is down. At 20k pkt/s that was 2.5 checks a second instead of 4 with a 250-ms interval,
 * none of them a wake-up of its own. Idle, the whole agent took 0.2-0.25 % of a core on the test VM, most of it
 * the four wake-ups themselves (an empty 250-ms timer costs 0.14 % there); the link is read through
 * attributes kept open (LinkStateReader), which halved it. With link notifications the timer runs
 * once a second: a change of the link is seen 250 ms after it happens, as before, and the stall
 * check (a second of packets waiting undelivered) needs no finer clock. Idle, the agent then takes
 * 0.06 % of a core there (19 against 57 ms of CPU in 30 s, with the flush timer of the local log
 * set only while lines wait).
 */
import { CaptureError, CaptureErrorCode, type CaptureHealth, type CaptureStats, type PacketHandler, type PacketSource } from './packet-source.js';
import { LinkStateReader, type LinkState } from './interfaces.js';
import { watchLinkEvents, type LinkWatch } from './link-events.js';
import { Completion } from './completion.js';

export const GapReason = {
  /** The interface exists but is administratively down. */
  INTERFACE_DOWN: 'interface_down',
  /** The interface disappeared (possibly re-created with a new ifindex). */
  INTERFACE_REMOVED: 'interface_removed',
  /** Packets reached the kernel ring but not the analyzer (a down/up faster than a check). */
  CAPTURE_STALLED: 'capture_stalled',
  /** The session failed for another reason while the interface looked fine. */
  CAPTURE_ERROR: 'capture_error',
} as const;
export type GapReason = (typeof GapReason)[keyof typeof GapReason];

/** One interruption of capture, reported when capture has resumed. */
export type CaptureGap = Readonly<{
  reason: GapReason;
  interfaceName: string;
  /** Wall-clock ms. */
  startMs: number;
  endMs: number;
  durationMs: number;
}>;

/** A session whose handle is not yet released (node_pcap frees it only inside a dispatch). */
export interface Reapable {
  /** True once the handle is released. */
  reap(): boolean;
}

/** A session that can hand over what waits in its ring without a readiness notification. */
export interface Drainable {
  drain(): void;
}

/** Told when capture stops (the interface went) and when it resumes (with the whole gap). */
export type GapListener = Readonly<{
  onGapStart?: (reason: GapReason, startMs: number) => void;
  onGapEnd?: (gap: CaptureGap) => void;
}>;

export type ResilientOptions = Readonly<{
  interfaceName: string;
  /** Builds a fresh, unstarted session on the interface (called once per (re)open). */
  open: () => PacketSource;
  /** @default 1000 with link notifications, else 250 */
  checkIntervalMs?: number;
  /** Test seam; defaults to sysfs. */
  linkState?: (name: string) => LinkState;
  /**
   * Starts a watch that calls onChange when an interface may have changed, or says why it
   * cannot. Defaults to the kernel's link notifications when the link is read from sysfs (no
   * `linkState` given), else none.
   */
  watchLinks?: (onChange: () => void) => LinkWatch | string;
  /** Test seam: wall clock in ms. */
  now?: () => number;
  /**
   * Handles of deleted interfaces that can never be released (each holds a socket and
   * its kernel ring, 64 MB by default). Past this many, capture fails so the restart
   * policy reclaims them. @default 4
   */
  maxLeakedHandles?: number;
}>;

/**
 * How long packets the kernel counted (ps_recv) may wait undelivered before the session
 * counts as stalled. libpcap hands a block over within its 10-50 ms buffer timeout.
 */
const STALL_MS = 1000;
/** From a link notification to the check it asks for (see #onLinkChange). */
const LINK_SETTLE_MS = 250;
/** Checks a stopped session is given to release its handle before it counts as leaked (30-60 s). */
const REAP_CHECKS = 120;

const ZERO_STATS: CaptureStats = Object.freeze({ received: 0, dropped: 0, ifDropped: 0 });

export class ResilientLiveSource implements PacketSource {
  readonly name: string;
  readonly #open: () => PacketSource;
  readonly #checkIntervalMs: number | undefined;
  #intervalMs = 250;
  readonly #linkState: (name: string) => LinkState;
  readonly #watchLinks: ((onChange: () => void) => LinkWatch | string) | undefined;
  /** The link notifications being followed from start() to stop(), or why there are none. */
  #linkWatch: LinkWatch | string = 'not started';
  /** The sysfs reader behind #linkState when none is given (closed at stop). */
  #linkReader: LinkStateReader | undefined;
  readonly #now: () => number;
  #listener: GapListener = {};
  readonly #maxLeaked: number;
  readonly #completion = new Completion();
  readonly done: Promise<void> = this.#completion.promise;

  #inner: PacketSource;
  #handler: PacketHandler | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The check a link notification asked for (see #onLinkChange). */
  #settle: NodeJS.Timeout | undefined;
  #stopped = false;
  #ifindex = -1;
  /** The link's carrier-loss count when the session opened (see LinkState.downs). */
  #downs: number | undefined;
  #lastCheckMs = 0;
  /** A check is queued to run after the current delivery (see #afterDelivery). */
  #wakeQueued = false;
  /** Counters of finished sessions: stats() stays cumulative across re-opens. */
  #base: CaptureStats = ZERO_STATS;
  #delivered = 0;
  /** Timestamp of the newest packet delivered, and the one below which packets are repeats. */
  #lastTs = 0;
  #skipUntil = -1;
  #lastDelivered = 0;
  /** Kernel count (ps_recv) when delivery last progressed. */
  #receivedAtProgress = 0;
  /** When undelivered kernel packets were first seen since then (0: none). */
  #pendingSinceMs = 0;
  #lastProgressMs = 0;
  /** Current interruption, if any. */
  #gapReason: GapReason | undefined;
  #gapStartMs = 0;
  #gaps = 0;
  #gapMsTotal = 0;
  /** Stopped sessions waiting for their handle to be released, with checks left. */
  readonly #reaping: Array<{ source: Reapable; checksLeft: number }> = [];
  #leaked = 0;

  constructor(opts: ResilientOptions) {
    this.name = opts.interfaceName;
    this.#open = opts.open;
    if (opts.linkState !== undefined) this.#linkState = opts.linkState;
    else {
      const reader = (this.#linkReader = new LinkStateReader(this.name));
      this.#linkState = () => reader.read();
    }
    this.#watchLinks = opts.watchLinks ?? (opts.linkState === undefined ? watchLinkEvents : undefined);
    this.#checkIntervalMs = opts.checkIntervalMs;
    this.#now = opts.now ?? Date.now;
    this.#maxLeaked = opts.maxLeakedHandles ?? 4;
    this.#inner = this.#open();
  }

  /** Where gaps are reported (the composition root wires events and metrics here). */
  listen(listener: GapListener): void {
    this.#listener = listener;
  }

  get engine(): string {
    return this.#inner.engine;
  }

  get linkType(): number {
    return this.#inner.linkType;
  }

  /** Why link notifications are not followed, or undefined when they are. */
  get linkEventsUnavailable(): string | undefined {
    return typeof this.#linkWatch === 'string' ? this.#linkWatch : undefined;
  }

  /** Milliseconds between the timer's checks (known from start()). */
  get checkIntervalMs(): number {
    return this.#intervalMs;
  }

  /** Handles of removed interfaces that could not be released (see maxLeakedHandles). */
  get leakedHandles(): number {
    return this.#leaked;
  }

  /** The first open's errors (no interface, no permission) are thrown as before: nothing to resume. */
  start(onPacket: PacketHandler): void {
    if (this.#handler) throw new CaptureError(CaptureErrorCode.OTHER, `capture on "${this.name}" already started`);
    // One closure for every session: counts deliveries for the stall check.
    this.#handler = (buf, capLen, wireLen, tsSec, tsUsec, offset) => {
      // Counted before the repeat check: a session handing over repeats is not stalled.
      this.#delivered++;
      if (!this.#wakeQueued) { this.#wakeQueued = true; setImmediate(this.#afterDelivery); }
      // A replacement session bound before its predecessor was drained (#retire) sees some
      // packets twice (both sockets were bound); the kernel gave both copies one timestamp.
      const tsMicros = tsSec * 1_000_000 + tsUsec;
      if (tsMicros <= this.#skipUntil) return;
      this.#lastTs = tsMicros;
      onPacket(buf, capLen, wireLen, tsSec, tsUsec, offset);
    };
    this.#inner.start(this.#handler);
    const link = this.#linkState(this.name);
    this.#ifindex = link.ifindex;
    this.#downs = link.downs;
    this.#lastProgressMs = this.#now();
    this.#lastCheckMs = this.#lastProgressMs;
    this.#watch(this.#inner);
    this.#linkWatch = this.#watchLinks === undefined ? 'not asked for' : this.#watchLinks(this.#onLinkChange);
    this.#intervalMs = this.#checkIntervalMs ?? (typeof this.#linkWatch === 'string' ? 250 : 1000);
    this.#timer = setInterval(() => this.check(), this.#intervalMs);
    this.#timer.unref();
  }

  stats(): CaptureStats | undefined {
    const s = this.#inner.stats();
    if (s === undefined) return this.#base === ZERO_STATS ? undefined : this.#base;
    return { received: this.#base.received + s.received, dropped: this.#base.dropped + s.dropped, ifDropped: this.#base.ifDropped + s.ifDropped };
  }

  health(): CaptureHealth {
    const interrupted = this.#gapReason !== undefined;
    return {
      state: interrupted ? 'interrupted' : 'capturing',
      reason: this.#gapReason ?? null,
      sinceMs: interrupted ? this.#gapStartMs : null,
      gaps: this.#gaps,
      gapMsTotal: this.#gapMsTotal,
    };
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    clearTimeout(this.#settle);
    if (typeof this.#linkWatch !== 'string') this.#linkWatch.close();
    this.#inner.stop();
    this.#linkReader?.close();
    this.#completion.resolve();
  }

  /**
   * After a wake-up that delivered packets: the check when one is due, and the timer pushed
   * back a whole interval, so it wakes the process only when deliveries stop.
   */
  readonly #afterDelivery = (): void => {
    this.#wakeQueued = false;
    if (this.#stopped) return;
    if (this.#now() - this.#lastCheckMs >= this.#intervalMs) this.check();
    this.#timer?.refresh();
  };

  /**
   * An interface changed somewhere (link notifications): ours is checked LINK_SETTLE_MS later,
   * once for all the notifications of that time. Not at once: after a down and up the old
   * socket may receive again, and the packets it took are handed over only when its ring
   * retires their block (the buffer timeout), so the session is replaced once a quick flap
   * is over and its packets are in the ring, as the timer's checks always did.
   */
  readonly #onLinkChange = (): void => {
    if (this.#handler === undefined || this.#stopped || this.#settle !== undefined) return;
    this.#settle = setTimeout(this.#afterLinkChange, LINK_SETTLE_MS);
    this.#settle.unref();
  };

  readonly #afterLinkChange = (): void => {
    this.#settle = undefined;
    this.check();
    this.#timer?.refresh();
  };

  /** One watchdog round; public so tests can drive it without waiting. */
  check(): void {
    if (this.#stopped) return;
    this.#reap();
    const now = this.#now();
    const previousCheckMs = this.#lastCheckMs;
    this.#lastCheckMs = now;
    if (this.#gapReason !== undefined) {
      this.#tryResume(now);
      return;
    }
    const link = this.#linkState(this.name);
    if (!link.exists || link.ifindex !== this.#ifindex) { this.#beginGap(GapReason.INTERFACE_REMOVED, now); return; }
    if (!link.up) { this.#beginGap(GapReason.INTERFACE_DOWN, now); return; }
    if (this.#downs === undefined) this.#downs = link.downs;
    else if (this.#carrierLost(link)) {
      // Down and up again since the last check: the flap is somewhere in between.
      this.#beginGap(GapReason.INTERFACE_DOWN, previousCheckMs);
      this.#tryResume(now);
      return;
    }
    // Stall: the kernel queued packets for us and none has arrived for STALL_MS.
    const s = this.#inner.stats();
    if (s === undefined) return;
    if (this.#delivered !== this.#lastDelivered) {
      this.#lastDelivered = this.#delivered;
      this.#lastProgressMs = now;
      this.#receivedAtProgress = s.received;
      this.#pendingSinceMs = 0;
    } else if (s.received > this.#receivedAtProgress) {
      if (this.#pendingSinceMs === 0) this.#pendingSinceMs = now;
      else if (now - this.#pendingSinceMs >= STALL_MS) this.#replaceStalled(now);
    }
  }

  /** The link lost its carrier since the session opened (a down and up between two looks at it). */
  #carrierLost(link: LinkState): boolean {
    return this.#downs !== undefined && link.downs !== undefined && link.downs !== this.#downs;
  }

  #replaceStalled(now: number): void {
    this.#beginGap(GapReason.CAPTURE_STALLED, this.#lastProgressMs);
    this.#tryResume(now);
  }

  #watch(session: PacketSource): void {
    session.done.catch((err: unknown) => {
      if (this.#stopped || session !== this.#inner || this.#gapReason !== undefined) return;
      if (err instanceof CaptureError && err.code !== CaptureErrorCode.INTERFACE_LOST && err.code !== CaptureErrorCode.OTHER) {
        this.#fail(err);
        return;
      }
      // A down/up can be over by the time the failure is seen (the socket fails with ENETDOWN
      // at the down); the carrier-loss count tells that flap from a failure of the session.
      const link = this.#linkState(this.name);
      const reason = !link.exists || link.ifindex !== this.#ifindex ? GapReason.INTERFACE_REMOVED
        : !link.up || this.#carrierLost(link) ? GapReason.INTERFACE_DOWN : GapReason.CAPTURE_ERROR;
      this.#beginGap(reason, this.#now());
    });
  }

  /** The old session is kept until its replacement runs (see #retire). */
  #beginGap(reason: GapReason, startMs: number): void {
    this.#gapReason = reason;
    this.#gapStartMs = startMs;
    this.#listener.onGapStart?.(reason, startMs);
  }

  /**
   * The old socket may still work (after a down/up the kernel hooks it up again; only its
   * polling ended): the new session is bound first, then the old ring is drained, so what
   * arrived since the interface came back is not lost, and what both rings hold is
   * delivered once (see #skipUntil).
   */
  #retire(old: PacketSource): void {
    if (isDrainable(old)) old.drain();
    this.#skipUntil = this.#lastTs;
    const s = old.stats();
    if (s !== undefined) {
      this.#base = { received: this.#base.received + s.received, dropped: this.#base.dropped + s.dropped, ifDropped: this.#base.ifDropped + s.ifDropped };
    }
    old.stop();
    if (isReapable(old) && !old.reap()) this.#reaping.push({ source: old, checksLeft: REAP_CHECKS });
  }

  #tryResume(now: number): void {
    const link = this.#linkState(this.name);
    // Deleting an interface takes it down first, and the capture may fail in between: a gap
    // seen as a down was a removal if the interface is then gone or back with another ifindex.
    if (this.#gapReason === GapReason.INTERFACE_DOWN && (!link.exists || link.ifindex !== this.#ifindex)) {
      this.#gapReason = GapReason.INTERFACE_REMOVED;
    }
    if (!link.exists || !link.up) return;
    const next = this.#open();
    try {
      next.start(this.#handler as PacketHandler);
    } catch (err) {
      // Permission taken away is not going to heal by waiting; anything else is tried again.
      if (err instanceof CaptureError && err.code === CaptureErrorCode.NO_PERMISSION) this.#fail(err);
      else if (isReapable(next)) next.reap();
      return;
    }
    this.#retire(this.#inner);
    this.#inner = next;
    this.#ifindex = link.ifindex;
    this.#downs = link.downs;
    this.#lastDelivered = this.#delivered;
    this.#receivedAtProgress = 0;
    this.#pendingSinceMs = 0;
    this.#lastProgressMs = now;
    this.#watch(next);
    const gap: CaptureGap = {
      reason: this.#gapReason ?? GapReason.CAPTURE_ERROR,
      interfaceName: this.name,
      startMs: this.#gapStartMs,
      endMs: now,
      durationMs: Math.max(0, now - this.#gapStartMs),
    };
    this.#gapReason = undefined;
    this.#gaps++;
    this.#gapMsTotal += gap.durationMs;
    this.#listener.onGapEnd?.(gap);
  }

  #reap(): void {
    for (let i = this.#reaping.length - 1; i >= 0; i--) {
      const r = this.#reaping[i];
      if (r === undefined) continue;
      if (r.source.reap()) { this.#reaping.splice(i, 1); continue; }
      if (--r.checksLeft > 0) continue;
      this.#reaping.splice(i, 1);
      this.#leaked++;
      if (this.#leaked > this.#maxLeaked) {
        this.#fail(new CaptureError(CaptureErrorCode.OTHER,
          `capture on "${this.name}": ${this.#leaked} capture handles of removed interfaces cannot be released by the pcap binding; exiting so a restart reclaims their kernel memory`));
        return;
      }
    }
  }

  #fail(err: Error): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    clearTimeout(this.#settle);
    if (typeof this.#linkWatch !== 'string') this.#linkWatch.close();
    this.#inner.stop();
    this.#linkReader?.close();
    this.#completion.reject(err);
  }
}

function isDrainable(s: PacketSource): s is PacketSource & Drainable {
  return typeof (s as Partial<Drainable>).drain === 'function';
}

function isReapable(s: PacketSource): s is PacketSource & Reapable {
  return typeof (s as Partial<Reapable>).reap === 'function';
}
