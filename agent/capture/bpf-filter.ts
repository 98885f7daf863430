/**
 * The kernel (BPF) filter, derived from what the analysis needs rather than written
 * by hand: packets the pipeline would discard are never copied to user space.
 *
 * Shape, for Ethernet:  (NEEDS and (USER)) or (vlan and NEEDS and (USER))
 * The untagged branch comes first because libpcap's `vlan` keyword shifts the
 * offsets of every test written after it in the expression, parentheses or not;
 * so the user's filter is repeated after `vlan` instead of being ANDed once at the
 * end (where it would read tagged offsets on untagged frames).
 *
 * NEEDS at -s 1 is every TCP and UDP packet. At -s N > 1 (see analysisSelection):
 * UDP whole; TCP packets that decide an exact count (SYN/FIN/RST, zero window, the
 * first and last segment of an HTTP message head, TLS handshake/alert/CCS records,
 * proxy-protocol headers); and every other TCP packet only of the flows whose sample hash
 * (agent/flows/flow-hash.ts, computed here with classic BPF XOR and MOD) is 0 mod N.
 */
import { LinkType } from './packet-source.js';

export const L4Protocol = { TCP: 'tcp', UDP: 'udp' } as const;
export type L4Protocol = (typeof L4Protocol)[keyof typeof L4Protocol];

export type BpfFilterOptions = Readonly<{
  /** Transport protocols the analysis reads. @default ['tcp', 'udp'] */
  protocols?: readonly L4Protocol[];
  /** DLT of the capture; 802.1Q branches are only added for Ethernet. @default ETHERNET */
  linkType?: number;
  /** The user's --filter, ANDed with what the analysis needs. */
  userFilter?: string | undefined;
  /** More kernel-side selections, each ANDed in (both branches). */
  clauses?: readonly string[];
  /**
   * -s N: TCP packets that decide no exact count pass only for flows whose sample
   * hash is 0 mod N. 1 = every packet. Needs both protocols. @default 1
   */
  sample?: number;
}>;

const DEFAULT_PROTOCOLS: readonly L4Protocol[] = [L4Protocol.TCP, L4Protocol.UDP];

/**
 * First four payload bytes that start a message the analysis must see, as big-endian
 * u32 (what libpcap's `tcp[x:4]` loads). HTTP request methods (RFC 9110 §9 plus
 * PATCH) and `PRI ` (the HTTP/2 preface), `HTTP` (a response), `PROX` (proxy protocol
 * v1) and `\r\n\r\n` (the first half of the proxy protocol v2 signature).
 */
export const HEAD_PREFIXES: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(
    ['GET ', 'POST', 'PUT ', 'HEAD', 'DELE', 'OPTI', 'PATC', 'CONN', 'TRAC', 'PRI ', 'HTTP', 'PROX', '\r\n\r\n']
      .map((s) => [s, Buffer.from(s, 'latin1').readUInt32BE(0)]),
  ),
);

/**
 * TLS record starts (content type, major version 3) as big-endian u16: handshake
 * (0x16, ClientHello/ServerHello...), alert (0x15), change_cipher_spec (0x14: the
 * segment that carries a TLS 1.3 client's Finished).
 */
export const TLS_RECORD_PREFIXES: readonly number[] = Object.freeze([0x1603, 0x1503, 0x1403]);

/** IPv6 next-header values that are extension headers: such packets pass whole. */
const IP6_EXTENSION_HEADERS: readonly number[] = [0, 43, 44, 60];

/** The largest -s the filter can encode (config allows up to 1,000,000). */
const MAX_SAMPLE = 0xffffffff;

const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;

/** `(E = a or E = b ...)` for one load expression E. */
function anyOf(load: string, values: readonly number[], digits: number): string {
  return `(${values.map((v) => `${load} = ${hex(v, digits)}`).join(' or ')})`;
}

/**
 * The last four payload bytes of a segment that ends a message head. The last
 * segment of a head spread over several (large cookies) must reach user space
 * before the response does, or the request is only known after its response.
 */
const HEAD_END = 0x0d0a0d0a;

/** The selection for IPv4 TCP (not a non-first fragment): tcp[] offsets are valid. */
function tcp4(sample: number): string {
  const payload = '((tcp[12] & 0xf0) >> 2)';
  const end = '(ip[2:2] - ((ip[0] & 0x0f) << 2))'; // end of the payload, from the TCP header
  const heads = [
    anyOf(`tcp[${payload}:4]`, Object.values(HEAD_PREFIXES), 8),
    anyOf(`tcp[${payload}:2]`, TLS_RECORD_PREFIXES, 4),
    `tcp[${end} - 4:4] = ${hex(HEAD_END, 8)}`,
  ].join(' or ');
  return [
    'tcp[13] & 0x07 != 0', // FIN, SYN or RST
    'tcp[14:2] = 0', // zero window
    `(ip[12:4] ^ ip[16:4] ^ tcp[0:2] ^ tcp[2:2]) % ${sample} = 0`,
    // Payload loads last and behind a length test: a load past the end rejects the
    // whole packet in BPF, whatever the other branches said.
    `(ip[2:2] - ((ip[0] & 0x0f) << 2) - ${payload} >= 4 and (${heads}))`,
  ].join(' or ');
}

/** The same for IPv6 with TCP right after the fixed header (ip6[6] = 6, TCP at 40). */
function tcp6(sample: number): string {
  const hdr = '((ip6[52] & 0xf0) >> 2)';
  const payload = `(40 + ${hdr})`;
  const heads = [
    anyOf(`ip6[${payload}:4]`, Object.values(HEAD_PREFIXES), 8),
    anyOf(`ip6[${payload}:2]`, TLS_RECORD_PREFIXES, 4),
    `ip6[36 + ip6[4:2]:4] = ${hex(HEAD_END, 8)}`,
  ].join(' or ');
  const words = [8, 12, 16, 20, 24, 28, 32, 36].map((o) => `ip6[${o}:4]`).join(' ^ ');
  return [
    'ip6[53] & 0x07 != 0',
    'ip6[54:2] = 0',
    `(${words} ^ ip6[40:2] ^ ip6[42:2]) % ${sample} = 0`,
    `(ip6[4:2] - ${hdr} >= 4 and (${heads}))`,
  ].join(' or ');
}

/**
 * What the analysis needs at -s N, without link-layer or user parts. IPv4
 * non-first fragments and IPv6 packets with extension headers pass whole (rare;
 * libpcap's tcp[] cannot reach their TCP header).
 */
export function analysisSelection(sample: number): string {
  if (!Number.isInteger(sample) || sample < 1 || sample > MAX_SAMPLE) {
    throw new RangeError(`buildBpfFilter: sample must be an integer 1..${MAX_SAMPLE}, got ${sample}`);
  }
  if (sample === 1) return 'tcp or udp';
  return [
    'udp',
    '(ip and ip[9] = 6 and ip[6:2] & 0x1fff != 0)',
    `(ip and ip[9] = 6 and (${tcp4(sample)}))`,
    `(ip6 and (${IP6_EXTENSION_HEADERS.map((h) => `ip6[6] = ${h}`).join(' or ')}))`,
    `(ip6 and ip6[6] = 6 and (${tcp6(sample)}))`,
  ].join(' or ');
}

/** Build the BPF expression for libpcap's pcap_compile(). */
export function buildBpfFilter(opts: BpfFilterOptions = {}): string {
  const protocols = opts.protocols ?? DEFAULT_PROTOCOLS;
  if (protocols.length === 0) throw new RangeError('buildBpfFilter: at least one protocol is needed');
  const sample = opts.sample ?? 1;
  const both = protocols.includes(L4Protocol.TCP) && protocols.includes(L4Protocol.UDP);
  if (sample !== 1 && !both) throw new RangeError('buildBpfFilter: sampling in the filter needs both tcp and udp');
  const needs = sample === 1 ? protocols.join(' or ') : analysisSelection(sample);
  const extra = [...(opts.clauses ?? []), ...(opts.userFilter?.trim() ? [opts.userFilter.trim()] : [])];
  // Every part is parenthesised: libpcap gives `and` and `or` the same precedence.
  const body = [needs, ...extra].map((p) => `(${p})`).join(' and ');
  if ((opts.linkType ?? LinkType.ETHERNET) !== LinkType.ETHERNET) return body;
  const untagged = extra.length > 0 || sample !== 1 ? `(${body})` : body;
  return `${untagged} or (vlan and ${body})`;
}
