/**
 * Decode the packet a GENEVE header carries (GWLB sends IPv4 or IPv6 inside) into
 * a second PacketView, so the pipeline can feed it to the flow table as a flow of
 * its own; its offsets index the outer packet's buffer (no copy).
 */
import { decodeIpAt, DecodeStatus, type DecodeStats } from '../../decode/decode.js';
import type { PacketView } from '../../decode/packet-view.js';
import { GeneveProtocol, type GeneveHeader } from './geneve-parser.js';

export function decodeGeneveInner(inner: PacketView, outer: PacketView, g: GeneveHeader, stats: DecodeStats): DecodeStatus {
  if (g.oam || g.innerLength <= 0) return DecodeStatus.SKIPPED;
  if (g.protocol !== GeneveProtocol.IPV4 && g.protocol !== GeneveProtocol.IPV6) return DecodeStatus.SKIPPED;
  inner.reset(outer.buf, outer.capLen, outer.wireLen, outer.tsMicros);
  inner.frameOffset = outer.frameOffset;
  // decodeIpAt takes the end of the captured bytes, not a length.
  return decodeIpAt(inner, outer.buf, g.innerOffset, g.innerOffset + g.innerLength, stats);
}
