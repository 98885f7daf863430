/**
 * The kernel (BPF) filter, derived from what the analysis needs rather than written
 * by hand: packets the pipeline would discard are never copied to user space.
 *
 * Shape, for Ethernet:  (NEEDS and (USER)) or (vlan and NEEDS and (USER))
 * The untagged branch comes first because libpcap's `vlan` keyword shifts the
 * offsets of every test written after it in the expression, parentheses or not;
 * so the user's filter is repeated after `vlan` instead of being ANDed once at the
 * end (where it would read tagged offsets on untagged frames).
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
  /**
   * More kernel-side selections, each ANDed in (both branches). The place for later
   * per-flow sampling (e.g. a hash of the ports) and payload-prefix selection.
   */
  clauses?: readonly string[];
}>;

const DEFAULT_PROTOCOLS: readonly L4Protocol[] = [L4Protocol.TCP, L4Protocol.UDP];

/** Build the BPF expression for libpcap's pcap_compile(). */
export function buildBpfFilter(opts: BpfFilterOptions = {}): string {
  const protocols = opts.protocols ?? DEFAULT_PROTOCOLS;
  if (protocols.length === 0) throw new RangeError('buildBpfFilter: at least one protocol is needed');
  const extra = [...(opts.clauses ?? []), ...(opts.userFilter?.trim() ? [opts.userFilter.trim()] : [])];
  // Every part is parenthesised: libpcap gives `and` and `or` the same precedence.
  const body = [protocols.join(' or '), ...extra].map((p) => `(${p})`).join(' and ');
  if ((opts.linkType ?? LinkType.ETHERNET) !== LinkType.ETHERNET) return body;
  const untagged = extra.length > 0 ? `(${body})` : body;
  return `${untagged} or (vlan and ${body})`;
}
