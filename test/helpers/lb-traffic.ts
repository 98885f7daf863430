/**
 * LB-like traffic for the benchmark and for tests that need a realistic mix: the
 * same deterministic capture the product meets behind an ALB (keep-alive HTTP
 * from load-balancer nodes with X-Forwarded-For and trace ids, 4xx/5xx, health
 * checks on their own connections, refused SYNs, resets after the handshake,
 * retransmitted responses). The same `packets` gives the same bytes, so the
 * bench's cached capture in .bench/ stays valid.
 */
import { TcpConversation, TcpOpt } from './packet-builder.js';
import { PcapWriter } from './pcap-writer.js';

export type LbTrafficOptions = Readonly<{
  /** Address family of the LB nodes and the target (IPv6: a dual-stack ALB's nodes). @default 4 */
  family?: 4 | 6;
  /**
   * The target's port (refused SYNs go to the next one). Another port gives the same mix on
   * connections of its own: the live benchmark warms the agent up with such a capture.
   * @default 8080
   */
  targetPort?: number;
  /**
   * 'small': every answer is 1.2 KB of JSON in one segment, the benchmark's traffic since its first
   * run (heads are most of the packets: the analysis's dearest case). 'mixed': answers of 1.2 KB
   * (60 %), 6 KB (25 %), 40 KB (12 %) and 250 KB (3 %) in segments of 1,448 bytes, the client
   * acknowledging every second one and the last, as larger pages, images and downloads come.
   * @default 'small'
   */
  responses?: 'small' | 'mixed';
}>;

/** Answer body sizes of the 'mixed' traffic, by the percentile that picks them. */
const MIXED_BODIES: ReadonlyArray<readonly [number, number]> = [[60, 1200], [85, 6000], [97, 40_000], [100, 250_000]];
/** Payload bytes per segment of a 'mixed' answer (an MTU of 1,500 with TCP timestamps). */
const MIXED_MSS = 1448;
const mixedBodies = new Map<number, Buffer>();
function mixedBody(size: number): Buffer {
  let b = mixedBodies.get(size);
  if (b === undefined) mixedBodies.set(size, (b = Buffer.alloc(size, 'y')));
  return b;
}

/** LB-like traffic: the same mix the product meets behind an ALB. Deterministic. */
export function generateLbTraffic(path: string, packets: number, opts: LbTrafficOptions = {}): number {
  const w = new PcapWriter(path);
  let t = 1_771_147_815_000_000;
  let seed = 42;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const v6 = opts.family === 6;
  const lbNodes = v6 ? ['2001:db8:60::11', '2001:db8:60::12', '2001:db8:60::13'] : ['198.18.60.11', '198.18.60.12', '198.18.60.13'];
  const target = v6 ? '2001:db8:61::10' : '198.18.61.10';
  const port = opts.targetPort ?? 8080;
  const body = 'x'.repeat(1200);
  const emit = (f: Buffer) => { t += 50; w.write(t, f); };
  // 300 keep-alive connections from the LB nodes, used round-robin.
  const conns: TcpConversation[] = [];
  for (let i = 0; i < 300; i++) {
    const c = new TcpConversation(lbNodes[i % 3] as string, target, 20000 + i, port, { c: 1000 + i * 7919, s: 90000 + i * 104729 });
    emit(c.seg(true, 'S', '', { options: Buffer.concat([TcpOpt.mss(8961), TcpOpt.sackPermitted(), TcpOpt.wscale(7)]) }));
    emit(c.seg(false, 'SA', '', { options: Buffer.concat([TcpOpt.mss(8961), TcpOpt.sackPermitted(), TcpOpt.wscale(7)]) }));
    emit(c.seg(true, 'A'));
    conns.push(c);
  }
  let extraPort = 40000;
  let req = 0;
  while (w.count < packets) {
    const c = conns[rnd(conns.length)] as TcpConversation;
    const r = rnd(1000);
    req++;
    const client = `203.0.${113 + (rnd(4) === 0 ? 0 : rnd(3))}.${rnd(250) + 1}`;
    const request = `GET /api/items/${rnd(5000)}?page=2 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: Mozilla/5.0\r\n` +
      `X-Forwarded-For: ${client}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n` +
      `X-Amzn-Trace-Id: Root=1-67891233-${req.toString(16).padStart(24, '0')}\r\nAccept: */*\r\n\r\n`;
    emit(c.seg(true, 'PA', request));
    const status = r < 940 ? '200 OK' : r < 985 ? '404 Not Found' : r < 995 ? '503 Service Unavailable' : '500 Internal Server Error';
    if (opts.responses === 'mixed') {
      const pick = rnd(100);
      const size = (MIXED_BODIES.find(([upTo]) => pick < upTo) ?? [0, 1200])[1];
      const res = Buffer.concat([Buffer.from(`HTTP/1.1 ${status}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`, 'latin1'), mixedBody(size)]);
      for (let off = 0, n = 0; off < res.length; off += MIXED_MSS, n++) {
        const seq = c.sseq;
        const last = off + MIXED_MSS >= res.length;
        const piece = res.subarray(off, Math.min(res.length, off + MIXED_MSS));
        emit(c.seg(false, last ? 'PA' : 'A', piece));
        // Now and then the first segment is lost past the capture point and sent again: the
        // same bytes at the same sequence number, after which the answer goes on where it was.
        if (n === 0 && r % 97 === 0) emit(c.resend(false, last ? 'PA' : 'A', piece, seq));
        if (n % 2 === 1 || last) emit(c.seg(true, 'A'));
      }
    } else {
      const res = `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      if (r % 97 === 0) {
        // A lost response segment: the retransmission comes later.
        const seq = c.sseq;
        emit(c.seg(false, 'PA', res));
        emit(c.seg(false, 'PA', res, { seq }));
      } else {
        emit(c.seg(false, 'PA', res));
      }
      emit(c.seg(true, 'A'));
    }
    if (r % 50 === 0) {
      // A health check on its own connection.
      const h = new TcpConversation(lbNodes[rnd(3)] as string, target, extraPort++ % 60000 + 1024, port);
      for (const f of h.handshake()) emit(f);
      emit(h.seg(true, 'PA', `GET /health HTTP/1.1\r\nHost: 198.18.61.10:${port}\r\nConnection: close\r\nUser-Agent: ELB-HealthChecker/2.0\r\nAccept-Encoding: gzip, compressed\r\n\r\n`));
      emit(h.seg(false, 'PA', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'));
      emit(h.seg(false, 'FA'));
      emit(h.seg(true, 'FA'));
      emit(h.seg(false, 'A'));
    }
    if (r % 333 === 0) {
      // A refused connection and a reset one.
      const x = new TcpConversation(lbNodes[rnd(3)] as string, target, extraPort++ % 60000 + 1024, port + 1);
      emit(x.seg(true, 'S'));
      emit(x.seg(false, 'RA'));
      const y = new TcpConversation(lbNodes[rnd(3)] as string, target, extraPort++ % 60000 + 1024, port);
      for (const f of y.handshake()) emit(f);
      emit(y.seg(false, 'RA'));
    }
  }
  w.close();
  return w.count;
}
