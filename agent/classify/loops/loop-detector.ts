/**
 * Forwarding-loop evidence that needs memory across connections and packets:
 * the same X-Amzn-Trace-Id Root coming back again and again, and the same packet
 * seen repeatedly with a decreasing TTL (a routing loop through this host).
 * Both tables are fixed-size: memory does not grow with traffic.
 */
import { IpVersion, type PacketView } from '../../decode/packet-view.js';

/** A Root seen this many times within the window is a loop. */
export const TRACE_REPEAT_THRESHOLD = 3;
export const TRACE_REPEAT_WINDOW_MICROS = 10_000_000;
const TRACE_TABLE_MAX = 10_000;

/** The same packet seen this many times, each with a lower TTL, is a loop. */
export const TTL_REPEAT_THRESHOLD = 3;
/** Copies of one looping packet arrive within microseconds; a second is generous. */
const TTL_WINDOW_MICROS = 1_000_000;
const TTL_SLOTS = 4096;

/** Extract "1-5759e988-bd862e3fe1be46a994272793" from "Root=1-...;Parent=...;Sampled=1" or a bare id. */
export function traceRoot(traceId: string): string | undefined {
  const m = /(?:^|;)\s*Root=([^;\s]{1,64})/.exec(traceId);
  if (m) return m[1];
  return undefined;
}

export class TraceRepeatDetector {
  readonly #seen = new Map<string, { first: number; count: number; reported: boolean }>();

  /** Returns the count when this arrival makes the Root a loop (reported once per window), else 0. */
  observe(root: string, tsMicros: number): number {
    let e = this.#seen.get(root);
    if (e !== undefined && tsMicros - e.first > TRACE_REPEAT_WINDOW_MICROS) {
      this.#seen.delete(root);
      e = undefined;
    }
    if (e === undefined) {
      if (this.#seen.size >= TRACE_TABLE_MAX) {
        // Map iteration order is insertion order: drop the oldest Root.
        const oldest = this.#seen.keys().next();
        if (!oldest.done) this.#seen.delete(oldest.value);
      }
      this.#seen.set(root, { first: tsMicros, count: 1, reported: false });
      return 0;
    }
    e.count++;
    if (!e.reported && e.count >= TRACE_REPEAT_THRESHOLD) { e.reported = true; return e.count; }
    return 0;
  }
}

export type TtlLoopEvidence = Readonly<{ ipId: number; seq: number; length: number; ttls: number[] }>;

export class TtlLoopDetector {
  readonly #k1 = new Uint32Array(TTL_SLOTS);
  readonly #k2 = new Uint32Array(TTL_SLOTS);
  readonly #k3 = new Uint32Array(TTL_SLOTS);
  readonly #ts = new Float64Array(TTL_SLOTS);
  readonly #ttls: number[][] = Array.from({ length: TTL_SLOTS }, () => []);
  readonly #reported = new Uint8Array(TTL_SLOTS);

  /** Returns evidence the first time a packet crosses the repeat threshold, else undefined. */
  observe(v: PacketView): TtlLoopEvidence | undefined {
    if (v.ipVersion === IpVersion.NONE) return undefined;
    let a = v.src4 >>> 0;
    let b = v.dst4 >>> 0;
    if (v.ipVersion === IpVersion.V6) {
      a = read32(v.buf, v.src6Offset + 12);
      b = read32(v.buf, v.dst6Offset + 12);
    }
    const k1 = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
    const k2 = ((v.ipId << 16) ^ v.ipTotalLen ^ (v.proto << 8) ^ v.srcPort) >>> 0;
    const k3 = (v.seq ^ Math.imul(v.dstPort, 0x85ebca6b)) >>> 0;
    const slot = (Math.imul(k1 ^ k2 ^ k3, 0x27d4eb2d) >>> 20) & (TTL_SLOTS - 1);
    const same = this.#k1[slot] === k1 && this.#k2[slot] === k2 && this.#k3[slot] === k3 &&
      v.tsMicros - (this.#ts[slot] ?? 0) <= TTL_WINDOW_MICROS;
    const ttls = this.#ttls[slot] as number[];
    if (!same) {
      this.#k1[slot] = k1; this.#k2[slot] = k2; this.#k3[slot] = k3;
      this.#ts[slot] = v.tsMicros;
      ttls.length = 0;
      ttls.push(v.ttl);
      this.#reported[slot] = 0;
      return undefined;
    }
    const last = ttls[ttls.length - 1] ?? 256;
    // Retransmissions and the same packet captured twice (in and out) keep their TTL: only a drop counts.
    if (v.ttl >= last) return undefined;
    if (ttls.length < 16) ttls.push(v.ttl);
    this.#ts[slot] = v.tsMicros;
    if (this.#reported[slot] === 0 && ttls.length >= TTL_REPEAT_THRESHOLD) {
      this.#reported[slot] = 1;
      return { ipId: v.ipId, seq: v.seq >>> 0, length: v.ipTotalLen, ttls: [...ttls] };
    }
    return undefined;
  }
}

function read32(buf: Uint8Array, p: number): number {
  if (p < 0) return 0;
  return (((buf[p] ?? 0) << 24) | ((buf[p + 1] ?? 0) << 16) | ((buf[p + 2] ?? 0) << 8) | (buf[p + 3] ?? 0)) >>> 0;
}
