/**
 * Writes the committed seed corpus, test/fuzz/corpus/<target>/<name>, from the
 * packet builder and the golden captures (deterministic: re-running rewrites the
 * same bytes). Run after changing a target's input format:
 *
 *   npm run build && node dist/test/fuzz/make-corpus.js
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ethernet, ipTcp, ipUdp, tcp, TcpOpt, udp } from '../helpers/packet-builder.js';
import { pcapGlobalHeader } from '../helpers/pcap-writer.js';
import { repoRoot } from '../helpers/repo-root.js';

const root = repoRoot(import.meta.url);
const C = '198.18.99.2';
const S = '198.18.99.1';
const C6 = '2001:db8::2';
const S6 = '2001:db8::1';

const cat = (...parts: (Uint8Array | string | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
const u32le = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };

/** Frames (link type Ethernet) of the committed golden captures. */
function fixtureFrames(): Buffer[] {
  const dir = join(root, 'test', 'fixtures', 'pcap');
  const out: Buffer[] = [];
  for (const n of readdirSync(dir).sort()) {
    const f = readFileSync(join(dir, n));
    for (let p = 24; p + 16 <= f.length;) {
      const cap = f.readUInt32LE(p + 8);
      out.push(f.subarray(p + 16, p + 16 + cap));
      p += 16 + cap;
    }
  }
  return out;
}

function clientHello(sni: string, alpn: string[], tls13: boolean): Buffer {
  const ext = (type: number, body: Buffer): Buffer => cat(u16(type), u16(body.length), body);
  const name = Buffer.from(sni);
  const sniExt = ext(0, cat(u16(name.length + 3), [0], u16(name.length), name));
  const protos = Buffer.concat(alpn.map((a) => cat([a.length], a)));
  const alpnExt = ext(16, cat(u16(protos.length), protos));
  const versions = tls13 ? ext(43, cat([4], u16(0x0a0a), u16(0x0304))) : Buffer.alloc(0);
  const exts = cat(sniExt, alpnExt, versions);
  const body = cat(u16(0x0303), Buffer.alloc(32, 7), [0], u16(4), u16(0x1301), u16(0xc02f), [1, 0], u16(exts.length), exts);
  const hs = cat([1, 0], u16(body.length), body);
  return cat([0x16, 0x03, 0x01], u16(hs.length), hs);
}

function geneve(inner: Buffer, aws: boolean): Buffer {
  const opts = aws
    ? cat(u16(0x0108), [1, 2], Buffer.alloc(8, 0x11), u16(0x0108), [2, 2], Buffer.alloc(8, 0x22), u16(0x0108), [3, 1], Buffer.alloc(4, 0x33))
    : Buffer.alloc(0);
  return cat([opts.length / 4, 0], u16(0x0800), [0, 0, 1, 0], opts, inner);
}

function proxyV2(family: number, addrs: Buffer, tlvs: Buffer, command = 0x21): Buffer {
  return cat(Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), [command, family], u16(addrs.length + tlvs.length), addrs, tlvs);
}

const REQ = 'GET /orders/42?token=secret HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/8\r\nX-Forwarded-For: 203.0.113.7, 10.0.0.5\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\nX-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\nCookie: a=b\r\n\r\n';
const POST = 'POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello';
const CHUNKED = 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n';
const HC = 'GET /health HTTP/1.1\r\nHost: 10.0.0.1\r\nUser-Agent: ELB-HealthChecker/2.0\r\nConnection: close\r\n\r\n';
const UPGRADE = 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
const CONNECT = 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n';
const RES = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: s=1\r\n\r\nok';
const RES_CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n';
const RES_502 = 'HTTP/1.0 502 Bad Gateway\r\nConnection: close\r\n\r\n';
const RES_101 = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n';

function ipSeeds(): Record<string, Buffer> {
  const opts = cat(TcpOpt.mss(1460), TcpOpt.sackPermitted(), TcpOpt.timestamps(1, 0), TcpOpt.nop(), TcpOpt.wscale(7));
  const frag = ipTcp({ src: C, dst: S, sport: 40000, dport: 80, flags: 'PA', payload: 'GET / HTTP/1.1\r\n\r\n' });
  frag.writeUInt16BE(0x2000, 6); // more fragments
  const v6 = ipTcp({ src: C6, dst: S6, sport: 40000, dport: 443, flags: 'S', options: opts });
  // IPv6 with a hop-by-hop header and a fragment header in front of TCP.
  const l4 = v6.subarray(40);
  const ext = cat([44, 0], Buffer.alloc(6), [6, 0], u16(0), Buffer.alloc(4, 1));
  const v6ext = cat(v6.subarray(0, 40), ext, l4);
  v6ext[6] = 0;
  v6ext.writeUInt16BE(ext.length + l4.length, 4);
  return {
    'tcp-syn-options': ipTcp({ src: C, dst: S, sport: 40000, dport: 80, flags: 'S', options: opts }),
    'tcp-http-request': ipTcp({ src: C, dst: S, sport: 40000, dport: 80, flags: 'PA', seq: 1001, ack: 5001, payload: POST }),
    'tcp-rst': ipTcp({ src: S, dst: C, sport: 80, dport: 40000, flags: 'RA', ack: 1001 }),
    'tcp-sack': ipTcp({ src: C, dst: S, sport: 40000, dport: 80, flags: 'A', options: Buffer.from([1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 9]) }),
    'udp-dns': ipUdp({ src: C, dst: S, sport: 5353, dport: 53, payload: 'abc' }),
    'udp-geneve': ipUdp({ src: '198.18.99.3', dst: S, sport: 6081, dport: 6081, payload: geneve(ipTcp({ src: C, dst: S, sport: 1, dport: 80, flags: 'S' }), true) }),
    'ipv4-first-fragment': frag,
    'ipv6-tcp-syn': v6,
    'ipv6-ext-headers': v6ext,
    'ipv6-udp': ipUdp({ src: C6, dst: S6, sport: 1, dport: 2, payload: 'x' }),
  };
}

function write(target: string, seeds: Record<string, Buffer>): number {
  const dir = join(root, 'test', 'fuzz', 'corpus', target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let bytes = 0;
  for (const [name, data] of Object.entries(seeds)) {
    writeFileSync(join(dir, name), data);
    bytes += data.length;
  }
  return bytes;
}

/** Pipeline target records: [ctl][len][payload] (see targets/pipeline.ts). */
function rec(fromServer: boolean, flags: string, payload: string | Buffer = ''): Buffer {
  const bits = { S: 2, A: 4, F: 8, R: 16, P: 32 } as Record<string, number>;
  let ctl = fromServer ? 1 : 0;
  for (const f of flags) ctl |= bits[f] ?? 0;
  const p = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const len = p.length < 0xc0 ? p.length : 0xbf + Math.ceil(p.length / 256);
  const body = p.length < 0xc0 ? p : Buffer.concat([p, Buffer.alloc(Math.ceil(p.length / 256) * 256 - p.length, 0x20)]);
  return cat([ctl, len], body);
}

function main(): void {
  const ctl0 = (frame: Buffer): Buffer => cat([0], frame);
  const ip = ipSeeds();
  const eth: Record<string, Buffer> = {};
  for (const [n, p] of Object.entries(ip)) eth[`eth-${n}`] = ctl0(ethernet(p));
  eth['eth-vlan'] = ctl0(tcp({ src: C, dst: S, sport: 40000, dport: 80, flags: 'S', vlan: 42 }));
  const single = tcp({ src: C, dst: S, sport: 40000, dport: 80, flags: 'S', vlan: 7 });
  eth['eth-qinq'] = ctl0(cat(single.subarray(0, 12), u16(0x88a8), u16(100), single.subarray(12)));
  eth['eth-arp'] = ctl0(cat(Buffer.alloc(12, 0xff), u16(0x0806), Buffer.alloc(28)));
  eth['eth-snaplen-cut'] = cat([0x85], ethernet(ip['tcp-http-request'] as Buffer).subarray(0, 60));
  fixtureFrames().forEach((f, i) => { if (i % 3 === 0) eth[`fixture-${String(i).padStart(2, '0')}`] = ctl0(f); });

  const sll: Record<string, Buffer> = {};
  const sll2: Record<string, Buffer> = {};
  const raw: Record<string, Buffer> = {};
  const nul: Record<string, Buffer> = {};
  for (const [n, p] of Object.entries(ip)) {
    const v6 = (p[0] ?? 0) >> 4 === 6;
    const type = v6 ? 0x86dd : 0x0800;
    sll[n] = ctl0(cat(u16(0), u16(1), u16(6), Buffer.alloc(8, 2), u16(type), p));
    sll2[n] = ctl0(cat(u16(type), u16(0), u32le(0x02000000), u16(1), [0, 6], Buffer.alloc(8, 2), p));
    raw[n] = ctl0(p);
    nul[n] = ctl0(cat(u32le(v6 ? 30 : 2), p));
  }
  nul['be-af'] = ctl0(cat([0, 0, 0, 2], ip['tcp-rst'] as Buffer));

  const inner = ipTcp({ src: C, dst: S, sport: 40000, dport: 80, flags: 'PA', payload: 'GET / HTTP/1.1\r\n\r\n' });
  const gen = {
    'aws-options': cat([0], geneve(inner, true)),
    'no-options': cat([0], geneve(inner, false)),
    'oam-critical': cat([0], Buffer.from([0, 0xc0]), geneve(inner, true).subarray(2)),
  };

  const pp = {
    'v1-tcp4': cat([0], 'PROXY TCP4 192.0.2.1 198.18.99.1 56324 443\r\nGET / HTTP/1.1\r\n\r\n'),
    'v1-tcp6': cat([0], 'PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\n'),
    'v1-unknown': cat([0], 'PROXY UNKNOWN\r\n'),
    'v2-inet-vpce': cat([0], proxyV2(0x11, cat([192, 0, 2, 1, 198, 18, 99, 1], u16(56324), u16(443)),
      cat([0xea], u16(23), [0x01], 'vpce-0123456789abcdef0', [0x02], u16(6), 'a.test', [0x04], u16(2), [0, 0]))),
    'v2-inet6': cat([0], proxyV2(0x21, cat(Buffer.alloc(16, 1), Buffer.alloc(16, 2), u16(1), u16(2)), Buffer.alloc(0))),
    'v2-local': cat([0], proxyV2(0x00, Buffer.alloc(0), Buffer.alloc(0), 0x20)),
    'v2-unix': cat([0], proxyV2(0x31, Buffer.alloc(216, 0x61), Buffer.alloc(0))),
  };

  const hello = clientHello('shop.example', ['h2', 'http/1.1'], true);
  const tls = {
    'client-hello-13': cat([0], hello),
    'client-hello-12': cat([0x47], clientHello('a.test', [], false)),
    'alert-fatal': cat([0], [0x15, 0x03, 0x03, 0, 2, 2, 40]),
    'ccs-appdata': cat([0x83], [0x14, 0x03, 0x03, 0, 1, 1, 0x17, 0x03, 0x03, 0, 4, 1, 2, 3, 4]),
    'hello-split-records': cat([0x21], hello.subarray(0, 5 + 40), [0x16, 0x03, 0x01], u16(hello.length - 45), hello.subarray(45)),
  };

  const heads = { req: REQ, post: POST, chunked: CHUNKED, hc: HC, upgrade: UPGRADE, connect: CONNECT, res: RES, 'res-chunked': RES_CHUNKED, 'res-502': RES_502, 'res-101': RES_101 };
  const httpHead: Record<string, Buffer> = {};
  for (const [n, h] of Object.entries(heads)) httpHead[n] = cat([0x00], h);
  httpHead['req-partial-keepquery'] = cat([0x30], REQ.slice(0, 80));
  httpHead['http2-preface'] = cat([0], 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  const httpStream = {
    'keepalive-requests': cat([0x05], REQ, POST, CHUNKED, HC),
    'pipelined-garbage': cat([0x11], POST, '\x00\x01garbage\r\n\r\n', REQ),
    'responses': cat([0x45], RES, RES_CHUNKED, RES_502),
    'upgrade': cat([0x07], UPGRADE, 'binary websocket frames'),
    'gaps': cat([0x93], REQ, POST, REQ),
    'big-head': cat([0x09], 'GET / HTTP/1.1\r\n', 'X-Forwarded-For: 10.0.0.1\r\n'.repeat(200), '\r\n'),
  };

  const fixtures = join(root, 'test', 'fixtures', 'pcap');
  const pcap: Record<string, Buffer> = {};
  for (const n of readdirSync(fixtures).sort()) pcap[n.replace(/\.pcap$/, '')] = readFileSync(join(fixtures, n));
  const rec16 = (frame: Buffer, le = true): Buffer => {
    const h = Buffer.alloc(16);
    if (le) { h.writeUInt32LE(1_700_000_000, 0); h.writeUInt32LE(5, 4); h.writeUInt32LE(frame.length, 8); h.writeUInt32LE(frame.length, 12); }
    else { h.writeUInt32BE(1_700_000_000, 0); h.writeUInt32BE(5, 4); h.writeUInt32BE(frame.length, 8); h.writeUInt32BE(frame.length, 12); }
    return cat(h, frame);
  };
  const f1 = tcp({ src: C, dst: S, sport: 40000, dport: 80, flags: 'S' });
  const beHdr = Buffer.alloc(24);
  beHdr.writeUInt32BE(0xa1b23c4d, 0); beHdr.writeUInt16BE(2, 4); beHdr.writeUInt16BE(4, 6); beHdr.writeUInt32BE(262144, 16); beHdr.writeUInt32BE(1, 20);
  pcap['big-endian-ns'] = cat(beHdr, rec16(f1, false));
  pcap['sll'] = cat(pcapGlobalHeader(113), rec16(sll['tcp-rst']!.subarray(1)));
  const block = (type: number, body: Buffer): Buffer => { const len = 12 + body.length; return cat(u32le(type), u32le(len), body, u32le(len)); };
  const shb = block(0x0a0d0d0a, cat(u32le(0x1a2b3c4d), [1, 0, 0, 0], Buffer.alloc(8, 0xff)));
  const idb = block(1, cat([1, 0, 0, 0], u32le(65535), [9, 0, 1, 0, 9, 0, 0, 0], [0, 0, 0, 0]));
  const pad = (b: Buffer): Buffer => cat(b, Buffer.alloc((4 - (b.length % 4)) % 4));
  const epb = block(6, cat(u32le(0), u32le(0x00060000), u32le(5), u32le(f1.length), u32le(f1.length), pad(f1)));
  const spb = block(3, cat(u32le(f1.length), pad(f1)));
  const unknown = block(0x0bad, Buffer.alloc(8));
  pcap['pcapng'] = cat(shb, idb, epb, unknown, spb, shb, idb, epb);

  const conv = ['GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'];
  const pipe = {
    'http-keepalive': cat([0], rec(false, 'S'), rec(true, 'SA'), rec(false, 'A'), rec(false, 'PA', conv[0]!), rec(true, 'PA', conv[1]!),
      rec(false, 'PA', POST), rec(true, 'PA', RES_502), rec(false, 'FA'), rec(true, 'FA'), rec(false, 'A')),
    'health-check': cat([0], rec(false, 'S'), rec(true, 'SA'), rec(false, 'A'), rec(false, 'PA', HC), rec(true, 'PA', 'HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n'), rec(true, 'RA')),
    'refused': cat([0], rec(false, 'S'), rec(true, 'RA')),
    'tls': cat([1], rec(false, 'S'), rec(true, 'SA'), rec(false, 'A'), rec(false, 'PA', hello), rec(true, 'PA', Buffer.from([0x15, 3, 3, 0, 2, 2, 40])), rec(true, 'RA')),
    'proxy-v1': cat([2], rec(false, 'S'), rec(true, 'SA'), rec(false, 'A'), rec(false, 'PA', 'PROXY TCP4 192.0.2.1 198.18.99.1 5555 8080\r\n' + conv[0]!), rec(true, 'PA', conv[1]!)),
    'geneve': cat([3], rec(false, '', geneve(inner, true)), rec(true, '', geneve(ipTcp({ src: S, dst: C, sport: 80, dport: 40000, flags: 'SA' }), true))),
    'ipv6-chunked': cat([4], rec(false, 'S'), rec(true, 'SA'), rec(false, 'A'), rec(false, 'PA', CHUNKED), rec(true, 'PA', RES_CHUNKED)),
    'raw-frames': cat([0], rec(false, 'S'), cat([0x80], [0], Buffer.alloc(0)), (() => { const f = udp({ src: C, dst: S, sport: 1, dport: 6081, payload: geneve(inner, true) }); return cat([0x80, f.length < 0xc0 ? f.length : 0xbf + Math.ceil(f.length / 256)], f, Buffer.alloc(f.length < 0xc0 ? 0 : Math.ceil(f.length / 256) * 256 - f.length)); })()),
  };

  let total = 0;
  total += write('decode-ethernet', eth);
  total += write('decode-sll', sll);
  total += write('decode-sll2', sll2);
  total += write('decode-raw-ip', raw);
  total += write('decode-null', nul);
  total += write('geneve', gen);
  total += write('proxy-protocol', pp);
  total += write('tls', tls);
  total += write('http-head', httpHead);
  total += write('http-stream', httpStream);
  total += write('pcap-file', pcap);
  total += write('pipeline', pipe);
  process.stdout.write(`seed corpus: ${total} bytes\n`);
}

main();
