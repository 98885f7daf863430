/**
 * Which interfaces exist, which one carries the default route, and the addresses
 * that belong to this host (the flow table uses them to tell "this instance" from
 * "its peer"). Linux only: reads /proc and /sys, never assumes eth0.
 */
import { readdirSync, readFileSync } from 'node:fs';
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

/**
 * The link's state from sysfs (three small reads: cheap enough for a few times a second).
 * The ifindex tells a deleted and re-created interface from the same one.
 */
export function readLinkState(name: string): LinkState {
  const ifindex = parseInt(readOrEmpty(`${SYS_CLASS_NET}/${name}/ifindex`).trim(), 10);
  if (!Number.isInteger(ifindex)) return { exists: false, up: false, ifindex: -1 };
  const flags = parseInt(readOrEmpty(`${SYS_CLASS_NET}/${name}/flags`).trim() || '0', 16);
  // carrier_down_count since Linux 4.16; carrier_changes (downs and ups) before.
  const downs = parseInt(readOrEmpty(`${SYS_CLASS_NET}/${name}/carrier_down_count`).trim()
    || readOrEmpty(`${SYS_CLASS_NET}/${name}/carrier_changes`).trim(), 10);
  return { exists: true, up: (flags & IFF_UP) !== 0, ifindex, downs: Number.isInteger(downs) ? downs : undefined };
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
