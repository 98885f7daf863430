/**
 * Which addresses belong to THIS instance, so a reset can be attributed to the
 * target (this instance) or to its peer (load balancer or client). The flow table
 * asks per connection, once, with the addresses as decode left them (no strings).
 */
export interface LocalAddresses {
  /** True when `addr` (IPv4 as an unsigned 32-bit integer) is an address of this instance. */
  has4(addr: number): boolean;
  /** True when the 16 bytes at `buf[off]` are an IPv6 address of this instance. */
  has6(buf: Uint8Array, off: number): boolean;
  /** False when nothing is known: the flow table then takes the SYN receiver as the instance. */
  readonly known: boolean;
}

/** A Set-based LocalAddresses built from address strings (e.g. from os.networkInterfaces()). */
export class StaticLocalAddresses implements LocalAddresses {
  readonly #v4 = new Set<number>();
  readonly #v6 = new Set<string>();

  constructor(addresses: Iterable<string>) {
    for (const raw of addresses) {
      const a = raw.trim().replace(/%.*$/, '').replace(/\/\d+$/, '');
      if (a === '') continue;
      const v4 = parseIp4(a);
      if (v4 !== undefined) { this.#v4.add(v4); continue; }
      const v6 = parseIp6(a);
      if (v6 === undefined) throw new Error(`local address "${raw}" is neither IPv4 nor IPv6`);
      this.#v6.add(hex16(v6, 0));
      // An IPv4-mapped IPv6 address is the same host seen through a dual-stack socket.
      if (isV4Mapped(v6, 0)) this.#v4.add(readU32(v6, 12));
    }
  }

  get known(): boolean {
    return this.#v4.size + this.#v6.size > 0;
  }

  has4(addr: number): boolean {
    return this.#v4.has(addr >>> 0);
  }

  has6(buf: Uint8Array, off: number): boolean {
    if (this.#v6.size === 0) return isV4Mapped(buf, off) && this.#v4.has(readU32(buf, off + 12));
    // Allocates a short string: called once per new connection, never per packet.
    return this.#v6.has(hex16(buf, off)) || (isV4Mapped(buf, off) && this.#v4.has(readU32(buf, off + 12)));
  }
}

/** No local addresses known: every connection falls back to "the SYN receiver is this instance". */
export const NO_LOCAL_ADDRESSES: LocalAddresses = Object.freeze({
  known: false,
  has4: () => false,
  has6: () => false,
});

function parseIp4(a: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (m === null) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

function parseIp6(a: string): Uint8Array | undefined {
  if (!a.includes(':')) return undefined;
  let s = a.toLowerCase();
  const out = new Uint8Array(16);
  // Trailing dotted quad (::ffff:1.2.3.4).
  const dot = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let tailWords: number[] = [];
  if (dot !== null && dot[1] !== undefined) {
    const v4 = parseIp4(dot[1]);
    if (v4 === undefined) return undefined;
    tailWords = [(v4 >>> 16) & 0xffff, v4 & 0xffff];
    s = s.slice(0, s.length - dot[1].length);
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const parts = s.split('::');
  if (parts.length > 2) return undefined;
  const words = (x: string | undefined): number[] | undefined => {
    if (x === undefined || x === '') return [];
    const r: number[] = [];
    for (const w of x.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(w)) return undefined;
      r.push(parseInt(w, 16));
    }
    return r;
  };
  const head = words(parts[0]);
  const tail = words(parts[1]);
  if (head === undefined || tail === undefined) return undefined;
  const right = [...tail, ...tailWords];
  const fill = 8 - head.length - right.length;
  if (parts.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...head, ...new Array<number>(parts.length === 1 ? 0 : fill).fill(0), ...right];
  all.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 255; });
  return out;
}

function hex16(buf: Uint8Array, off: number): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += ((buf[off + i] ?? 0) + 256).toString(16).slice(1);
  return s;
}

function isV4Mapped(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (buf[off + i] !== 0) return false;
  return buf[off + 10] === 0xff && buf[off + 11] === 0xff;
}

function readU32(buf: Uint8Array, off: number): number {
  return (((buf[off] ?? 0) << 24) | ((buf[off + 1] ?? 0) << 16) | ((buf[off + 2] ?? 0) << 8) | (buf[off + 3] ?? 0)) >>> 0;
}
