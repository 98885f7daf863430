/**
 * Which interfaces exist, which one carries the default route, and the addresses
 * that belong to this host (the flow table uses them to tell "this instance" from
 * "its peer"). Linux only: reads /proc and /sys, never assumes eth0.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { noSuchInterfaceError } from './capture-errors.js';

/** RTF_UP and RTF_REJECT from <linux/route.h>. */
const RTF_UP = 0x0001;
const RTF_REJECT = 0x0200;

/** IFF_UP from <linux/if.h>, as shown in /sys/class/net/IF/flags. */
const IFF_UP = 0x1;

const SYS_CLASS_NET = '/sys/class/net';

/**
 * The interface of the IPv4 default route (lowest metric) in /proc/net/route text:
 * `Iface Destination Gateway Flags RefCnt Use Metric Mask ...`, hex fields.
 */
export function parseDefaultRoute4(text: string): string | undefined {
  let best: { iface: string; metric: number } | undefined;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [iface, dest, , flags, , , metric, mask] = f;
    if (!iface || dest !== '00000000' || mask !== '00000000' || flags === undefined || metric === undefined) continue;
    const fl = parseInt(flags, 16);
    if (!(fl & RTF_UP) || fl & RTF_REJECT) continue;
    const m = Number(metric);
    if (!best || m < best.metric) best = { iface, metric: m };
  }
  return best?.iface;
}

/**
 * The interface of the IPv6 default route in /proc/net/ipv6_route text:
 * `dest plen src splen nexthop metric refcnt use flags iface`, hex fields. The
 * kernel's "unreachable" default on lo (RTF_REJECT) is skipped.
 */
export function parseDefaultRoute6(text: string): string | undefined {
  let best: { iface: string; metric: number } | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest, plen, , , , metric, , , flags, iface] = f;
    if (!iface || !dest || !/^0{32}$/.test(dest) || plen !== '00' || flags === undefined || metric === undefined) continue;
    const fl = parseInt(flags, 16);
    if (!(fl & RTF_UP) || fl & RTF_REJECT || iface === 'lo') continue;
    const m = parseInt(metric, 16);
    if (!best || m < best.metric) best = { iface, metric: m };
  }
  return best?.iface;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export type RouteTablePaths = Readonly<{ route4?: string; route6?: string }>;

/** The interface carrying the default route (IPv4 first, then IPv6), or undefined. */
export function defaultRouteInterface(paths: RouteTablePaths = {}): string | undefined {
  return parseDefaultRoute4(readOrEmpty(paths.route4 ?? '/proc/net/route'))
    ?? parseDefaultRoute6(readOrEmpty(paths.route6 ?? '/proc/net/ipv6_route'));
}

export type InterfaceInfo = Readonly<{
  name: string;
  up: boolean;
  loopback: boolean;
  /** Addresses without prefix length or zone, e.g. "198.18.10.1", "fd00:18:10::1". */
  addresses: readonly string[];
}>;

/** What the capture needs to know about a link: does it exist, is it up, which ifindex. */
export type LinkState = Readonly<{
  exists: boolean;
  up: boolean;
  ifindex: number;
  /**
   * How many times the link lost its carrier (taking an interface down does too): a change
   * between two looks is a down/up, however quick. Undefined where the kernel does not say.
   */
  downs?: number | undefined;
}>;

/** What LinkStateReader answers for an interface that does not exist (now). */
const NO_LINK: LinkState = Object.freeze({ exists: false, up: false, ifindex: -1 });

/**
 * The link's state from sysfs (its ifindex tells a deleted and re-created interface from the
 * same one), read several times a second at little cost: the three attributes (ifindex, flags,
 * carrier_down_count, or carrier_changes before Linux 4.16) stay open and are read again from
 * their start, where sysfs
 * writes them afresh, into one buffer and without strings. Once the interface is deleted
 * its open attributes answer ENODEV: they are closed and opened again by name, which finds
 * the interface re-created (with another ifindex) or finds none.
 *
 * Why: the capture watchdog looks four times a second when no packet comes. With three
 * files opened, read and closed each time, by code run too seldom to be compiled, an idle
 * agent spent 2.3-3.6 ms of CPU a second, three quarters of it on these looks (issue 6).
 */
export class LinkStateReader {
  readonly #dir: string;
  #ifindex = -1;
  #flags = -1;
  /** carrier_down_count, or carrier_changes before Linux 4.16; -1 when neither exists. */
  #downs = -1;
  readonly #buf = Buffer.alloc(32);

  constructor(name: string, root: string = SYS_CLASS_NET) {
    this.#dir = `${root}/${name}`;
  }

  read(): LinkState {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.#ifindex < 0 && !this.#open()) return NO_LINK;
      const ifindex = this.#number(this.#ifindex);
      const flags = ifindex < 0 ? -1 : this.#number(this.#flags);
      if (ifindex >= 0 && flags >= 0) {
        const downs = this.#downs < 0 ? -1 : this.#number(this.#downs);
        return { exists: true, up: (flags & IFF_UP) !== 0, ifindex, downs: downs < 0 ? undefined : downs };
      }
      // Deleted (and perhaps re-created under the same name): look it up by name again.
      this.close();
    }
    return NO_LINK;
  }

  /** Let go of the open attributes (a later read opens them again). */
  close(): void {
    for (const fd of [this.#ifindex, this.#flags, this.#downs]) {
      if (fd < 0) continue;
      try {
        closeSync(fd);
      } catch {
        // Nothing to do: the descriptor is gone either way.
      }
    }
    this.#ifindex = this.#flags = this.#downs = -1;
  }

  #open(): boolean {
    this.#ifindex = openOrNone(`${this.#dir}/ifindex`);
    this.#flags = this.#ifindex < 0 ? -1 : openOrNone(`${this.#dir}/flags`);
    if (this.#flags < 0) {
      this.close();
      return false;
    }
    this.#downs = openOrNone(`${this.#dir}/carrier_down_count`);
    if (this.#downs < 0) this.#downs = openOrNone(`${this.#dir}/carrier_changes`);
    return true;
  }

  /** The decimal or 0x-hexadecimal number an attribute holds, or -1 (unreadable, or no number). */
  #number(fd: number): number {
    const b = this.#buf;
    let n: number;
    try {
      n = readSync(fd, b, 0, b.length, 0);
    } catch {
      return -1;
    }
    let i = 0;
    let radix = 10;
    if (n >= 2 && b[0] === 0x30 && (b[1] === 0x78 || b[1] === 0x58)) { radix = 16; i = 2; }
    let v = 0;
    let digits = 0;
    for (; i < n; i++, digits++) {
      const c = b[i] ?? 0;
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : radix === 16 && (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
      if (d < 0) break;
      v = v * radix + d;
    }
    return digits > 0 ? v : -1;
  }
}

function openOrNone(path: string): number {
  try {
    return openSync(path, 'r');
  } catch {
    return -1;
  }
}

/** Interface names of this network namespace, sorted. */
export function interfaceNames(): string[] {
  try {
    return readdirSync(SYS_CLASS_NET).sort();
  } catch {
    return Object.keys(networkInterfaces()).sort();
  }
}

/** Every interface with its state and addresses. */
export function listInterfaces(): InterfaceInfo[] {
  const nics = networkInterfaces();
  return interfaceNames().map((name) => {
    const flags = parseInt(readOrEmpty(`${SYS_CLASS_NET}/${name}/flags`).trim() || '0', 16);
    const addrs = nics[name] ?? [];
    return {
      name,
      up: (flags & IFF_UP) !== 0,
      loopback: addrs.some((a) => a.internal) || name === 'lo',
      addresses: addrs.map((a) => a.address),
    };
  });
}

/** The addresses assigned to `ifname` (empty when it has none or does not exist). */
export function localAddresses(ifname: string): string[] {
  return (networkInterfaces()[ifname] ?? []).map((a) => a.address.replace(/%.*$/, ''));
}

/** Throws NO_SUCH_INTERFACE, naming the available ones, unless `name` exists. */
export function assertInterfaceExists(name: string): void {
  const names = interfaceNames();
  // "any" is libpcap's pseudo-device for every interface at once.
  if (name === 'any' || names.includes(name)) return;
  throw noSuchInterfaceError(name, names);
}
