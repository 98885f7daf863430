/**
 * The hostile capture of issue 7's "adversarial traffic": a 64 KB request header block,
 * a 10,000-entry X-Forwarded-For, garbage pipelined after a valid request, a request in
 * overlapping segments with a forged out-of-window one among them, sequence numbers
 * wrapping past 2^32, churn that holds a 100-slot connection table at its bound, and
 * refusals and resets whose counts must survive all of it. Read with --read by
 * hostile-input.test.ts and replayed live by hostile-input-live.test.ts.
 */
import { TcpConversation } from '../../helpers/packet-builder.js';
import { PcapWriter } from '../../helpers/pcap-writer.js';

const TARGET = '198.18.46.10';
export const MAX_CONNECTIONS = 100;
const CHURN = 3000;
export const REFUSED = 5;
export const RESETS = 5;
/** Requests that each get a 200: big headers, huge XFF, garbage after, overlapping, wrapping. */
export const ANSWERED = 5;

class Capture {
  readonly w: PcapWriter;
  t = Date.UTC(2026, 1, 15, 9, 30, 0) * 1000;
  constructor(path: string) { this.w = new PcapWriter(path); }
  put(frames: Buffer | readonly Buffer[], stepMicros = 20): void {
    for (const f of Array.isArray(frames) ? frames : [frames]) { this.w.write(this.t, f as Buffer); this.t += stepMicros; }
  }
  /** A request in MSS-sized segments, each acknowledged, then a 200 and a clean close. */
  request(c: TcpConversation, request: Buffer, mss = 1400): void {
    this.put(c.handshake());
    for (let o = 0; o < request.length; o += mss) {
      this.put([c.seg(true, 'PA', request.subarray(o, Math.min(request.length, o + mss))), c.seg(false, 'A')]);
    }
    this.close(c);
  }
  close(c: TcpConversation): void {
    this.put([c.seg(false, 'PA', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), c.seg(true, 'A'),
      c.seg(true, 'FA'), c.seg(false, 'FA'), c.seg(true, 'A')]);
  }
}

/** Writes the capture; returns its frame count. */
export function writeHostileCapture(path: string): number {
  const cap = new Capture(path);
  // Churn: waves of 200 connections against a 100-slot table.
  for (let w = 0; w < CHURN / 200; w++) {
    const wave = Array.from({ length: 200 }, (_, i) => new TcpConversation(`198.18.46.${30 + (w % 50)}`, TARGET, 10000 + w * 200 + i, 8080));
    for (const c of wave) cap.put(c.seg(true, 'S'), 2);
    for (const c of wave) cap.put([c.seg(false, 'SA'), c.seg(true, 'A')], 2);
    for (const c of wave) cap.put([c.seg(true, 'FA'), c.seg(false, 'FA'), c.seg(true, 'A')], 2);
  }
  // A 64 KB header block.
  const pad = Array.from({ length: 1000 }, (_, i) => `X-Pad-${String(i).padStart(4, '0')}: ${'p'.repeat(52)}\r\n`).join('');
  cap.request(new TcpConversation('198.18.46.20', TARGET, 40001, 80), Buffer.from(`GET /big HTTP/1.1\r\nHost: shop\r\n${pad}\r\n`, 'latin1'));
  // A 10,000-entry X-Forwarded-For.
  const xff = Array.from({ length: 10_000 }, (_, i) => `203.0.${(i >> 8) & 255}.${i & 255}`).join(', ');
  cap.request(new TcpConversation('198.18.46.21', TARGET, 40002, 80), Buffer.from(`GET /xff HTTP/1.1\r\nHost: shop\r\nX-Forwarded-For: ${xff}\r\n\r\n`, 'latin1'));
  // Garbage pipelined after a valid request, in the same segment and the next ones.
  const garbage = Buffer.alloc(4096);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 7) & 255;
  cap.request(new TcpConversation('198.18.46.22', TARGET, 40003, 80), Buffer.concat([Buffer.from('GET /ok HTTP/1.1\r\nHost: shop\r\n\r\n'), garbage, garbage]));
  // A request in overlapping segments, with a forged out-of-window segment in between.
  {
    const c = new TcpConversation('198.18.46.23', TARGET, 40004, 80);
    const req = Buffer.from('GET /overlap HTTP/1.1\r\nHost: shop\r\n\r\n');
    cap.put(c.handshake());
    const base = c.cseq;
    cap.put(c.seg(true, 'PA', req.subarray(0, 20)));
    cap.put(c.seg(true, 'PA', 'FORGED', { seq: (base + 0x7000_0000) >>> 0 }));
    cap.put(c.seg(true, 'PA', req.subarray(10), { seq: (base + 10) >>> 0 }));
    c.cseq = (base + req.length) >>> 0;
    cap.put(c.seg(false, 'A'));
    cap.close(c);
  }
  // Sequence numbers that wrap past 2^32 in the middle of the request.
  cap.request(new TcpConversation('198.18.46.24', TARGET, 40005, 80, { c: 0xffffffe0, s: 0xfffffff8 }),
    Buffer.from(`GET /wrap HTTP/1.1\r\nHost: shop\r\nX-Long: ${'w'.repeat(3000)}\r\n\r\n`), 1000);
  // Refusals and resets of real clients, 300 ms apart (below the event rate limit).
  for (let i = 0; i < Math.max(REFUSED, RESETS); i++) {
    cap.t += 300_000;
    if (i < REFUSED) {
      const c = new TcpConversation('198.18.46.40', TARGET, 41000 + i, 8081);
      cap.put([c.seg(true, 'S'), c.seg(false, 'RA')]);
    }
    if (i < RESETS) {
      const c = new TcpConversation('198.18.46.41', TARGET, 42000 + i, 8080);
      cap.put([...c.handshake(), c.seg(true, 'PA', 'GET /r HTTP/1.1\r\nHost: shop\r\n\r\n'), c.seg(false, 'RA')]);
    }
  }
  cap.w.close();
  return cap.w.count;
}
