/**
 * Client identity from X-Forwarded-For. Each proxy appends the address it received
 * the request from, so the right-most entries are the trustworthy ones and the
 * left-most was typed by whoever sent the request (it can be forged). Reading from
 * the right and skipping load balancers and configured trusted proxies gives the
 * first address that nobody we trust vouches for: the client.
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html
 */
import { isIP } from 'node:net';

/** ALB answers 463 when X-Forwarded-For holds more than 30 addresses. */
export const ALB_MAX_XFF_ENTRIES = 30;
/** Entries examined from the right; beyond this a chain is a loop or an attack, not identity. */
const MAX_ENTRIES_EXAMINED = 64;

/**
 * Normalise one X-Forwarded-For element: "1.2.3.4", "1.2.3.4:5678", "[2001:db8::1]:443",
 * "2001:db8::1", optionally quoted. Returns the bare address in canonical text, or
 * undefined for anything that is not an IP address ("unknown", garbage).
 */
export function normalizeForwardedAddress(raw: string): string | undefined {
  let s = raw.trim();
  if (s.length > 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1);
  if (s.length === 0 || s.length > 64) return undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return undefined;
    const rest = s.slice(close + 1);
    if (rest !== '' && !/^:[0-9]{1,5}$/.test(rest)) return undefined;
    s = s.slice(1, close);
    return isIP(s) === 6 ? canonicalIp(s) : undefined;
  }
  const kind = isIP(s);
  if (kind !== 0) return canonicalIp(s);
  // ip:port (only one colon: an IPv6 address without brackets has several)
  const colon = s.lastIndexOf(':');
  if (colon > 0 && s.indexOf(':') === colon && /^[0-9]{1,5}$/.test(s.slice(colon + 1))) {
    const host = s.slice(0, colon);
    if (isIP(host) === 4) return host;
  }
  return undefined;
}

/** Canonical text for an address so equal addresses compare equal (IPv6 lower case, compressed). */
export function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    // URL parsing gives RFC 5952 compressed lower-case form without allocating a socket.
    const host = new URL(`http://[${ip}]/`).hostname;
    const v = host.slice(1, -1);
    // IPv4-mapped addresses come back as ::ffff:xxxx:xxxx; keep the dotted form used by the decoder.
    const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v);
    if (m) {
      const hi = parseInt(m[1] as string, 16);
      const lo = parseInt(m[2] as string, 16);
      return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
    return v;
  } catch {
    return ip.toLowerCase();
  }
}

export type ForwardedForAnalysis = {
  /** Number of comma-separated entries (counted over the whole value). */
  entries: number;
  /** The client: right-most address that is neither a load balancer nor a trusted proxy. */
  clientIp: string | undefined;
  /** An address that occurs more than once among the examined entries. */
  repeatedAddress: string | undefined;
  /** True when `ownAddress` appears in the chain (the request passed through us before). */
  containsOwnAddress: boolean;
  /** Entries that were not IP addresses. */
  invalidEntries: number;
};

export type TrustTest = (ip: string) => boolean;

/**
 * Analyse an X-Forwarded-For value. Bounded work: a 10,000-entry header is
 * counted with one scan, and only the right-most MAX_ENTRIES_EXAMINED entries are
 * parsed.
 */
export function analyzeForwardedFor(value: string, isTrusted: TrustTest, ownAddress?: string): ForwardedForAnalysis {
  let entries = 0;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) === 44 /* , */) entries++;
  entries = value.trim() === '' ? 0 : entries + 1;
  const result: ForwardedForAnalysis = { entries, clientIp: undefined, repeatedAddress: undefined, containsOwnAddress: false, invalidEntries: 0 };
  const seen = new Set<string>();
  let end = value.length;
  let examined = 0;
  let skipping = true;
  while (end >= 0 && examined < MAX_ENTRIES_EXAMINED) {
    const start = value.lastIndexOf(',', end - 1);
    const raw = value.slice(start + 1, end);
    end = start;
    examined++;
    const ip = normalizeForwardedAddress(raw);
    if (ip === undefined) {
      result.invalidEntries++;
      // An unparseable entry ends the trusted chain: what is left of it cannot be vouched for.
      skipping = false;
      if (start < 0) break;
      continue;
    }
    if (ownAddress !== undefined && ip === ownAddress) result.containsOwnAddress = true;
    if (seen.has(ip)) result.repeatedAddress ??= ip;
    else seen.add(ip);
    if (skipping) {
      // Our own address in the chain is a hop we made (a loop), never the client.
      if (isTrusted(ip) || ip === ownAddress) { if (start < 0) break; continue; }
      result.clientIp = ip;
      skipping = false;
    }
    if (start < 0) break;
  }
  return result;
}

/**
 * True when buf[start, end) is exactly a dotted quad as net.isIP accepts it (decimal
 * octets 0-255, no leading zeros); the address is then out[0] (as a signed 32-bit
 * number). Such text is already canonical: it is the common single-entry X-Forwarded-For.
 */
export function plainIpv4(buf: Uint8Array, start: number, end: number, out: Int32Array): boolean {
  let value = 0;
  let octets = 0;
  let p = start;
  while (octets < 4) {
    const s = p;
    let n = 0;
    while (p < end && p - s < 3) {
      const c = buf[p] ?? 0;
      if (c < 0x30 || c > 0x39) break;
      n = n * 10 + (c - 0x30);
      p++;
    }
    const digits = p - s;
    if (digits === 0 || n > 255 || (digits > 1 && buf[s] === 0x30)) return false;
    value = (value << 8) | n;
    octets++;
    if (octets < 4) {
      if (p >= end || buf[p] !== 0x2e) return false;
      p++;
    }
  }
  if (p !== end) return false;
  out[0] = value;
  return true;
}
