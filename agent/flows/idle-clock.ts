/**
 * The time the live agent's timers (connection expiry, unanswered SYNs, health-check
 * timeouts, the event rate limit's windows) run on while no packet arrives: the last
 * packet's timestamp plus the monotonic time elapsed since it was seen. Packet time
 * drives everything else, so a wall-clock step (NTP correction, a VM resumed, an operator
 * setting the date) neither expires every connection at once nor freezes expiry: only
 * time that really passed counts.
 */
export class IdleClock {
  readonly #monoMs: () => number;
  readonly #wallMicros: () => number;
  #packetMicros = 0;
  #monoAtPacket = 0;

  constructor(opts: Readonly<{ monoMs?: () => number; wallMicros?: () => number }> = {}) {
    this.#monoMs = opts.monoMs ?? (() => performance.now());
    this.#wallMicros = opts.wallMicros ?? (() => Date.now() * 1000);
  }

  /**
   * `lastPacketMicros`: the newest packet timestamp so far (0: none yet). Returns the
   * time to tick with, in µs of packet time.
   */
  now(lastPacketMicros: number): number {
    const mono = this.#monoMs();
    // Before the first packet there is nothing to expire: the wall clock will do.
    if (lastPacketMicros <= 0) return this.#wallMicros();
    if (lastPacketMicros !== this.#packetMicros) {
      this.#packetMicros = lastPacketMicros;
      this.#monoAtPacket = mono;
    }
    return this.#packetMicros + Math.max(0, mono - this.#monoAtPacket) * 1000;
  }
}
