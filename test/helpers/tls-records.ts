/**
 * TLS records built by hand: a ClientHello with the extensions the analyzer reads (SNI,
 * ALPN, supported versions), for the classify tests and the benchmark's TLS connections.
 */
function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
function u24(n: number): Buffer { return Buffer.from([(n >> 16) & 255, (n >> 8) & 255, n & 255]); }

/** `padding`: a padding extension (RFC 7685) of that many bytes, as browsers send to reach ~512 B or more. */
export type HelloSpec = { sni?: string; alpn?: string[]; versions?: number[]; legacyVersion?: number; padding?: number };

/** A ClientHello handshake message (type 1 + length + body). */
export function clientHelloBody(spec: HelloSpec = {}): Buffer {
  const exts: Buffer[] = [];
  if (spec.sni !== undefined) {
    const name = Buffer.from(spec.sni, 'latin1');
    const entry = Buffer.concat([Buffer.from([0]), u16(name.length), name]);
    const list = Buffer.concat([u16(entry.length), entry]);
    exts.push(Buffer.concat([u16(0), u16(list.length), list]));
  }
  exts.push(Buffer.concat([u16(0xff01), u16(1), Buffer.from([0])])); // renegotiation_info, ignored
  if (spec.alpn !== undefined) {
    const protos = Buffer.concat(spec.alpn.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])));
    const list = Buffer.concat([u16(protos.length), protos]);
    exts.push(Buffer.concat([u16(16), u16(list.length), list]));
  }
  if (spec.versions !== undefined) {
    const vs = Buffer.concat(spec.versions.map(u16));
    const body = Buffer.concat([Buffer.from([vs.length]), vs]);
    exts.push(Buffer.concat([u16(43), u16(body.length), body]));
  }
  if (spec.padding !== undefined) exts.push(Buffer.concat([u16(21), u16(spec.padding), Buffer.alloc(spec.padding)]));
  const extBlock = Buffer.concat(exts);
  const body = Buffer.concat([
    u16(spec.legacyVersion ?? 0x0303),
    Buffer.alloc(32, 7), // random
    Buffer.from([0]), // session id
    u16(4), u16(0x1301), u16(0xc02f), // cipher suites
    Buffer.from([1, 0]), // compression
    u16(extBlock.length), extBlock,
  ]);
  return Buffer.concat([Buffer.from([1]), u24(body.length), body]);
}

export function tlsRecord(contentType: number, fragment: Buffer, version = 0x0301): Buffer {
  return Buffer.concat([Buffer.from([contentType]), u16(version), u16(fragment.length), fragment]);
}

export function clientHelloRecord(spec: HelloSpec = {}): Buffer {
  return tlsRecord(22, clientHelloBody(spec));
}

