/**
 * Shared body of the decode targets: one frame of a given link type through
 * decode() with one reused PacketView, as the pipeline does.
 *
 * Input: byte 0 controls the lengths (bit 7: the frame was cut by a snaplen, so
 * wireLen = capLen + 8·(bits 0-6) + 1), the rest is the frame. The frame is copied
 * into a larger reused buffer whose tail holds a pattern, and decoded twice with two
 * different tails: the views must agree, so nothing past capLen was read.
 */
import assert from 'node:assert/strict';
import { decode, DecodeStats, DecodeStatus } from '../../../agent/decode/decode.js';
import { IpVersion, PacketView } from '../../../agent/decode/packet-view.js';
import { within, type FuzzTarget } from '../target.js';

const MAX_FRAME = 9216;
const TAIL = 64;

function snapshot(v: PacketView): string {
  return [v.capLen, v.wireLen, v.vlan, v.ipVersion, v.ipOffset, v.ipHeaderLen, v.ipTotalLen, v.ttl, v.ipId, v.proto,
    v.fragment, v.src4, v.dst4, v.src6Offset, v.dst6Offset, v.srcPort, v.dstPort, v.l4Offset, v.tcpFlags, v.seq, v.ack,
    v.window, v.tcpHeaderLen, v.optMss, v.optWscale, v.optSackPermitted, v.optTsVal, v.optTsEcr, v.optSackBlocks,
    v.payloadOffset, v.payloadCapLen, v.payloadLen].join(',');
}

/** The view of an OK decode points only inside the captured bytes. */
export function assertViewInBounds(v: PacketView, capLen: number): void {
  within('ipOffset', v.ipOffset, 0, capLen);
  within('l4Offset', v.l4Offset, v.ipOffset, capLen);
  within('payloadOffset', v.payloadOffset, v.l4Offset, capLen);
  within('payloadCapLen', v.payloadCapLen, 0, capLen - v.payloadOffset);
  within('payloadCapLen<=payloadLen', v.payloadCapLen, 0, Math.max(0, v.payloadLen));
  within('srcPort', v.srcPort, 0, 0xffff);
  within('dstPort', v.dstPort, 0, 0xffff);
  if (v.proto === 6) within('tcpHeaderLen', v.tcpHeaderLen, 20, 60);
  if (v.ipVersion === IpVersion.V6) {
    within('src6Offset', v.src6Offset, 0, capLen - 16);
    within('dst6Offset', v.dst6Offset, 0, capLen - 16);
  } else {
    assert.equal(v.ipVersion, IpVersion.V4);
  }
}

export function decodeTarget(name: string, linkType: number, dictionary: readonly (string | Uint8Array)[] = []): FuzzTarget {
  const view = new PacketView();
  const stats = new DecodeStats();
  const bufA = Buffer.alloc(MAX_FRAME + TAIL, 0x00);
  const bufB = Buffer.alloc(MAX_FRAME + TAIL, 0xff);
  return {
    name,
    maxLen: MAX_FRAME + 1,
    dictionary,
    fuzz(data: Buffer): void {
      if (data.length === 0) return;
      const ctl = data[0] as number;
      const frame = data.subarray(1);
      const capLen = frame.length;
      const wireLen = (ctl & 0x80) !== 0 ? capLen + 8 * (ctl & 0x7f) + 1 : capLen;
      bufA.fill(0x00, capLen, capLen + TAIL);
      bufB.fill(0xff, capLen, capLen + TAIL);
      frame.copy(bufA);
      frame.copy(bufB);
      const before = stats.packets;
      const status = decode(view, linkType, bufA, capLen, wireLen, 1_700_000_000_000_000, stats);
      assert.ok(status === DecodeStatus.OK || status === DecodeStatus.SKIPPED || status === DecodeStatus.MALFORMED, `status ${status}`);
      assert.equal(stats.packets, before + 1);
      assert.equal(view.capLen, capLen);
      if (status === DecodeStatus.OK) assertViewInBounds(view, capLen);
      const a = snapshot(view);
      const statusB = decode(view, linkType, bufB, capLen, wireLen, 1_700_000_000_000_000, stats);
      assert.equal(statusB, status, 'the status depends on bytes past capLen');
      assert.equal(snapshot(view), a, 'the view depends on bytes past capLen');
    },
  };
}

/** Tokens of the IP/TCP/UDP layers every decode target shares. */
export const IP_DICTIONARY: readonly Uint8Array[] = [
  Uint8Array.of(0x08, 0x00), Uint8Array.of(0x86, 0xdd), Uint8Array.of(0x81, 0x00), Uint8Array.of(0x88, 0xa8),
  Uint8Array.of(0x91, 0x00), Uint8Array.of(0x08, 0x06), Uint8Array.of(0x45), Uint8Array.of(0x4f), Uint8Array.of(0x60),
  Uint8Array.of(0x02, 0x04, 0x05, 0xb4), Uint8Array.of(0x03, 0x03, 0x07), Uint8Array.of(0x04, 0x02),
  Uint8Array.of(0x08, 0x0a), Uint8Array.of(0x05, 0x0a), Uint8Array.of(0x01, 0x01), Uint8Array.of(0x00),
  // IPv6 next headers: hop-by-hop, routing, fragment, ESP, AH, no-next, dest-opts; TCP, UDP.
  Uint8Array.of(0x00, 0x00), Uint8Array.of(43), Uint8Array.of(44), Uint8Array.of(50), Uint8Array.of(51), Uint8Array.of(59),
  Uint8Array.of(60), Uint8Array.of(6), Uint8Array.of(17), Uint8Array.of(0x20, 0x00), Uint8Array.of(0x1f, 0xff),
];
