/**
 * Decoder counters: preallocated numbers, incremented on the hot path, read as a
 * plain object by the summary. Malformed and skipped packets are counted by
 * reason, so "why did the analyzer ignore it" has an answer.
 */
export const MALFORMED_REASONS = [
  'truncated_link',
  'truncated_vlan',
  'too_many_vlan_tags',
  'unknown_link_type',
  'truncated_ip',
  'bad_ip_version',
  'truncated_ipv4',
  'bad_ipv4_version',
  'bad_ipv4_ihl',
  'bad_ipv4_total_length',
  'truncated_ipv6',
  'bad_ipv6_version',
  'truncated_ipv6_ext',
  'bad_ipv6_ext',
  'bad_ip_total_length',
  'truncated_tcp',
  'bad_tcp_offset',
  'bad_tcp_option',
  'truncated_udp',
  'bad_udp_length',
] as const;
export type MalformedReason = (typeof MALFORMED_REASONS)[number];

export const SKIPPED_KINDS = [
  'arp',
  'non_ethernet_ii',
  'other_ethertype',
  'non_first_fragment',
  'icmp',
  'esp',
  'no_next_header',
  'other_ip_protocol',
] as const;
export type SkippedKind = (typeof SKIPPED_KINDS)[number];

function indexOf<T extends string>(names: readonly T[]): { readonly [K in T]: number } {
  const o = {} as { [K in T]: number };
  names.forEach((n, i) => { o[n] = i; });
  return o;
}

/** Index of each malformed reason in DecodeStats.malformed. */
export const Malformed = indexOf(MALFORMED_REASONS);
/** Index of each skipped kind in DecodeStats.skipped. */
export const Skipped = indexOf(SKIPPED_KINDS);

export type DecodeSnapshot = Readonly<{
  packets: number;
  bytes: number;
  /** Packets decoded to a complete TCP/UDP header (DecodeStatus.OK). */
  ok: number;
  ipv4: number;
  ipv6: number;
  tcp: number;
  udp: number;
  vlan_tagged: number;
  /** IP packets whose length field was 0 (GSO/TSO super-packets), sized by the wire length. */
  length_from_wire: number;
  fragments: Readonly<{ first: number; non_first: number }>;
  skipped: Readonly<{ total: number; by_kind: Readonly<Record<string, number>> }>;
  malformed: Readonly<{ total: number; by_reason: Readonly<Record<string, number>> }>;
}>;

export class DecodeStats {
  packets = 0;
  bytes = 0;
  ok = 0;
  ipv4 = 0;
  ipv6 = 0;
  tcp = 0;
  udp = 0;
  vlanTagged = 0;
  lengthFromWire = 0;
  fragmentsFirst = 0;
  fragmentsNonFirst = 0;
  unknownLinkType = 0;
  malformedTotal = 0;
  skippedTotal = 0;
  readonly malformed: number[] = MALFORMED_REASONS.map(() => 0);
  readonly skipped: number[] = SKIPPED_KINDS.map(() => 0);

  /** Count a packet another stage found malformed (e.g. a bad GENEVE header). */
  countMalformed(reason: MalformedReason): void {
    this.malformed[Malformed[reason]] = (this.malformed[Malformed[reason]] as number) + 1;
    this.malformedTotal++;
  }

  snapshot(): DecodeSnapshot {
    const byReason: Record<string, number> = {};
    MALFORMED_REASONS.forEach((r, i) => {
      const n = this.malformed[i] as number;
      if (n > 0) byReason[r] = n;
    });
    const byKind: Record<string, number> = {};
    SKIPPED_KINDS.forEach((k, i) => {
      const n = this.skipped[i] as number;
      if (n > 0) byKind[k] = n;
    });
    return {
      packets: this.packets,
      bytes: this.bytes,
      ok: this.ok,
      ipv4: this.ipv4,
      ipv6: this.ipv6,
      tcp: this.tcp,
      udp: this.udp,
      vlan_tagged: this.vlanTagged,
      length_from_wire: this.lengthFromWire,
      fragments: { first: this.fragmentsFirst, non_first: this.fragmentsNonFirst },
      skipped: { total: this.skippedTotal, by_kind: byKind },
      malformed: { total: this.malformedTotal, by_reason: byReason },
    };
  }
}
