/**
 * Hostile traffic through the real binary (issue 7, "adversarial traffic"): a capture
 * with a 64 KB request header block, a 10,000-entry X-Forwarded-For, garbage pipelined
 * after a valid request, a request delivered in overlapping segments with a forged
 * out-of-window one among them, sequence numbers wrapping past 2^32, and a connection
 * table held at its bound by churn — plus refusals and resets whose counts must
 * survive all of it exactly. Read with --read (a generated file), so it runs anywhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TcpConversation } from '../../helpers/packet-builder.js';
import { PcapWriter } from '../../helpers/pcap-writer.js';

const MAIN = fileURLToPath(new URL('../../../agent/main.js', import.meta.url));
const GNU_TIME = '/usr/bin/time';
const TARGET = '198.18.46.10';
const MAX_CONNECTIONS = 100;
const CHURN = 3000;
const REFUSED = 5;
const RESETS = 5;
/** Requests that each get a 200: big headers, huge XFF, garbage after, overlapping, wrapping. */
const ANSWERED = 5;

type Event = Record<string, unknown> & { type: string; reason: string };

export class Capture {
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

export function writeHostileCapture(path: string): void {
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
}

function readEvents(dir: string): Event[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /^errors_.*\.log$/.test(n))
    .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Event);
}

describe('Hostile input through the real binary: bounds hold and exact counts survive', { timeout: 120_000 }, () => {
  let dir = '';
  let status: number | null = null;
  let stderr = '';
  let summary: Record<string, Record<string, unknown>> = {};
  let events: Event[] = [];
  let rssMb: number | undefined;

  before(() => {
    // Prepare and Act: one capture, one run.
    dir = mkdtempSync(join(tmpdir(), 'lbfl-hostile-'));
    const file = join(dir, 'hostile.pcap');
    writeHostileCapture(file);
    const logs = join(dir, 'logs');
    const args = [MAIN, '--read', file, '-l', logs, '--summary-format', 'json', '--cloudwatch', 'off', '--max-connections', String(MAX_CONNECTIONS)];
    const timed = existsSync(GNU_TIME);
    const r = timed
      ? spawnSync(GNU_TIME, ['-f', 'peak_rss_kb=%M', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 110_000 })
      : spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 110_000 });
    status = r.status;
    stderr = r.stderr;
    const line = r.stdout.split('\n').find((l) => l.startsWith('{"summary":"final"'));
    summary = line ? JSON.parse(line) as Record<string, Record<string, unknown>> : {};
    events = readEvents(logs);
    const m = /peak_rss_kb=(\d+)/.exec(r.stderr);
    rssMb = m ? Number(m[1]) / 1024 : undefined;
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('nothing throws: exit 0, a final summary, no stack trace', () => {
    assert.equal(status, 0, stderr.slice(-1000));
    assert.ok(summary['connections'], 'a final summary');
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });

  it('the connection table stays at its bound under churn and counts its evictions', () => {
    const c = summary['connections'] as { tracked_peak: number; evicted: number; tracked: number };
    assert.ok(c.tracked_peak <= MAX_CONNECTIONS, `peak ${c.tracked_peak}`);
    assert.ok(c.evicted > 0);
  });

  it('refusals and resets are exact, each with its own event', () => {
    const e = summary['tcp_errors'] as Record<string, number>;
    assert.equal(e['refused'], REFUSED);
    assert.equal(e['resets_by_target'], RESETS);
    assert.equal(events.filter((x) => x.reason === 'refused').length, REFUSED);
    assert.equal(events.filter((x) => x.reason === 'reset_by_target').length, RESETS);
  });

  it('requests after garbage, in overlapping segments with a forged one, and across a sequence wrap are each matched to their 200', () => {
    const h = summary['http_errors'] as { status_classes: Record<string, number>; orphan_responses: number };
    assert.ok((h.status_classes['2xx'] ?? 0) >= 3, JSON.stringify(h));
    assert.equal((h.status_classes['2xx'] ?? 0) + h.orphan_responses, ANSWERED, 'every response is either matched or counted as an orphan');
  });

  it('requests with a 64 KB header block or a 10,000-entry X-Forwarded-For are counted too (their first 64 KB scanned as a partial head)', () => {
    const h = summary['http_errors'] as { status_classes: Record<string, number> };
    assert.equal(h.status_classes['2xx'], ANSWERED);
    assert.ok(events.some((e) => e.reason === 'xff_too_long'), 'the 10,000-entry X-Forwarded-For is a loop indicator');
  });

  it('peak RSS stays bounded (no per-connection buffer grows with the input)', (t) => {
    if (rssMb === undefined) { t.skip(`${GNU_TIME} is not installed (Debian package "time"): peak RSS not measured`); return; }
    assert.ok(rssMb <= 120, `peak RSS ${rssMb.toFixed(0)} MB`);
  });
});
