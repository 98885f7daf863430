/**
 * GENEVE (RFC 8926) as a Gateway Load Balancer sends it to its appliances on
 * UDP 6081, with AWS's option class 0x0108: type 1 the GWLB endpoint id, type 2
 * the attachment id, type 3 the flow cookie.
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/gateway/introduction.html
 * https://aws.amazon.com/blogs/networking-and-content-delivery/integrate-your-custom-logic-or-appliance-with-aws-gateway-load-balancer/
 */
import { badOffset, boundedEnd, incomplete, malformed, ok, type Parsed } from '../parse-result.js';

export const GENEVE_UDP_PORT = 6081;
export const GENEVE_HEADER_LENGTH = 8;
export const AWS_GENEVE_OPTION_CLASS = 0x0108;
export const AwsGeneveOption = { ENDPOINT_ID: 1, ATTACHMENT_ID: 2, FLOW_COOKIE: 3 } as const;
export const GeneveProtocol = { IPV4: 0x0800, IPV6: 0x86dd, ETHERNET: 0x6558 } as const;

export type GeneveOption = { optClass: number; type: number; critical: boolean; length: number };

export type GeneveHeader = {
  version: number;
  /** O bit: a control packet, no payload to analyse. */
  oam: boolean;
  /** C bit: critical options present. */
  critical: boolean;
  protocol: number;
  vni: number;
  options: GeneveOption[];
  /** AWS options as hex strings (64-bit ids do not fit a JSON number). */
  awsEndpointId: string | undefined;
  awsAttachmentId: string | undefined;
  awsFlowCookie: string | undefined;
  /** Offset of the inner packet in the buffer, and its captured length. */
  innerOffset: number;
  innerLength: number;
};

function hex(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('hex');
}

/** Parse the GENEVE header at the start of a UDP payload. */
export function parseGeneve(buf: Uint8Array, off: number, length: number): Parsed<GeneveHeader> {
  if (badOffset(buf, off)) return malformed('bad_offset');
  const end = boundedEnd(buf, off, length);
  if (end - off < GENEVE_HEADER_LENGTH) return end - off === 0 ? incomplete('empty') : malformed('truncated_header');
  const b0 = buf[off] ?? 0;
  const version = b0 >> 6;
  if (version !== 0) return malformed('bad_version');
  const optLen = (b0 & 0x3f) * 4;
  const b1 = buf[off + 1] ?? 0;
  const protocol = ((buf[off + 2] ?? 0) << 8) | (buf[off + 3] ?? 0);
  const vni = ((buf[off + 4] ?? 0) << 16) | ((buf[off + 5] ?? 0) << 8) | (buf[off + 6] ?? 0);
  const optEnd = off + GENEVE_HEADER_LENGTH + optLen;
  // The datagram is whole (UDP), so options cut short are malformed, not incomplete.
  if (optEnd > end) return malformed('truncated_options');
  const h: GeneveHeader = {
    version, oam: (b1 & 0x80) !== 0, critical: (b1 & 0x40) !== 0, protocol, vni, options: [],
    awsEndpointId: undefined, awsAttachmentId: undefined, awsFlowCookie: undefined,
    innerOffset: optEnd, innerLength: end - optEnd,
  };
  let p = off + GENEVE_HEADER_LENGTH;
  while (p < optEnd) {
    if (p + 4 > optEnd) return malformed('truncated_option');
    const optClass = ((buf[p] ?? 0) << 8) | (buf[p + 1] ?? 0);
    const t = buf[p + 2] ?? 0;
    const len = ((buf[p + 3] ?? 0) & 0x1f) * 4;
    const vs = p + 4;
    if (vs + len > optEnd) return malformed('truncated_option');
    if (h.options.length < 16) h.options.push({ optClass, type: t & 0x7f, critical: (t & 0x80) !== 0, length: len });
    if (optClass === AWS_GENEVE_OPTION_CLASS) {
      const type = t & 0x7f;
      if (type === AwsGeneveOption.ENDPOINT_ID && len >= 8) h.awsEndpointId = hex(buf, vs, vs + 8);
      else if (type === AwsGeneveOption.ATTACHMENT_ID && len >= 8) h.awsAttachmentId = hex(buf, vs, vs + 8);
      else if (type === AwsGeneveOption.FLOW_COOKIE && len >= 4) h.awsFlowCookie = hex(buf, vs, vs + 4);
    }
    p = vs + len;
  }
  return ok(h, optEnd - off);
}
