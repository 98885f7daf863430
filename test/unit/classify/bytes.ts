/**
 * Hand-built protocol bytes and segment sequences for the classify tests.
 */
import { PacketView, IpVersion, IpProto } from '../../../agent/decode/packet-view.js';

/** A deterministic pseudo-random generator (xorshift32) so garbage tests are repeatable. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 0x100000000;
  };
}

export function randomBytes(n: number, seed: number): Buffer {
  const r = rng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }

import { tlsRecord } from '../../helpers/tls-records.js';

export { clientHelloBody, clientHelloRecord, tlsRecord, type HelloSpec } from '../../helpers/tls-records.js';

export function alertRecord(level: number, description: number): Buffer {
  return tlsRecord(21, Buffer.from([level, description]), 0x0303);
}

export const PP2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export function tlv(type: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), u16(value.length), value]);
}

/** A proxy protocol v2 header. */
export function proxyV2(spec: { local?: boolean; family?: 'inet' | 'inet6' | 'unspec'; src?: number[]; dst?: number[]; sport?: number; dport?: number; tlvs?: Buffer[] } = {}): Buffer {
  const fam = spec.family ?? 'inet';
  let addr = Buffer.alloc(0);
  if (fam === 'inet') addr = Buffer.concat([Buffer.from(spec.src ?? [203, 0, 113, 45]), Buffer.from(spec.dst ?? [10, 0, 2, 100]), u16(spec.sport ?? 43210), u16(spec.dport ?? 8080)]);
  if (fam === 'inet6') addr = Buffer.concat([Buffer.from(spec.src ?? [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), Buffer.from(spec.dst ?? [0xfd, 0, 0, 0x18, 0, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]), u16(spec.sport ?? 43210), u16(spec.dport ?? 8080)]);
  const body = Buffer.concat([addr, ...(spec.tlvs ?? [])]);
  const famByte = fam === 'inet' ? 0x11 : fam === 'inet6' ? 0x21 : 0x00;
  return Buffer.concat([PP2_SIG, Buffer.from([spec.local ? 0x20 : 0x21, famByte]), u16(body.length), body]);
}

export function awsVpceTlv(id: string): Buffer {
  return tlv(0xea, Buffer.concat([Buffer.from([0x01]), Buffer.from(id, 'latin1')]));
}

/** A GENEVE header with options, then `inner`. */
export function geneve(opts: Array<{ cls: number; type: number; data: Buffer }>, inner: Buffer, protocol = 0x0800): Buffer {
  const optBytes = Buffer.concat(opts.map((o) => Buffer.concat([u16(o.cls), Buffer.from([o.type, o.data.length / 4]), o.data])));
  const hdr = Buffer.alloc(8);
  hdr[0] = optBytes.length / 4;
  hdr.writeUInt16BE(protocol, 2);
  hdr[4] = 0; hdr[5] = 0x12; hdr[6] = 0x34;
  return Buffer.concat([hdr, optBytes, inner]);
}

export function gwlbOptions(): Array<{ cls: number; type: number; data: Buffer }> {
  return [
    { cls: 0x0108, type: 1, data: Buffer.from('0123456789abcdef', 'hex') },
    { cls: 0x0108, type: 2, data: Buffer.from('fedcba9876543210', 'hex') },
    { cls: 0x0108, type: 3, data: Buffer.from('deadbeef', 'hex') },
  ];
}

/**
 * Payload-bearing segments of one connection as PacketViews, with sequence numbers
 * kept right per direction (what flows/ hands to a TcpObserver).
 */
export class SegmentScript {
  #cseq = 1000;
  #sseq = 5000;
  ts: number;
  constructor(startTs = 1_771_147_815_000_000) { this.ts = startTs; }

  /** Advance the clock by `ms`. */
  wait(ms: number): this { this.ts += Math.round(ms * 1000); return this; }

  /**
   * A segment of `payload` from the client (originator) or the server. `capLen`
   * below the payload length simulates a snaplen cut; `skipSeq` leaves a hole.
   */
  seg(fromClient: boolean, payload: Buffer | string, o: { capLen?: number; seqDelta?: number; ts?: number } = {}): PacketView {
    const data = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    const v = new PacketView();
    const pad = 54; // where an Ethernet + IPv4 + TCP header would be
    const buf = Buffer.alloc(pad + data.length);
    data.copy(buf, pad);
    const cap = Math.min(o.capLen ?? data.length, data.length);
    v.reset(buf.subarray(0, pad + cap), pad + cap, pad + data.length, o.ts ?? this.ts);
    v.ipVersion = IpVersion.V4;
    v.proto = IpProto.TCP;
    v.payloadOffset = pad;
    v.payloadCapLen = cap;
    v.payloadLen = data.length;
    if (fromClient) {
      this.#cseq = (this.#cseq + (o.seqDelta ?? 0)) >>> 0;
      v.seq = this.#cseq;
      this.#cseq = (this.#cseq + data.length) >>> 0;
    } else {
      this.#sseq = (this.#sseq + (o.seqDelta ?? 0)) >>> 0;
      v.seq = this.#sseq;
      this.#sseq = (this.#sseq + data.length) >>> 0;
    }
    return v;
  }

  /** The same bytes again at the same sequence number (a retransmission). */
  retransmit(fromClient: boolean, payload: Buffer | string): PacketView {
    const data = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    if (fromClient) this.#cseq = (this.#cseq - data.length) >>> 0; else this.#sseq = (this.#sseq - data.length) >>> 0;
    return this.seg(fromClient, data);
  }
}
