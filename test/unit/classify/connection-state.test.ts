/**
 * The classifier's per-connection records: a pending request keeps its path and trace id as
 * bytes sized to what it needs (issue 6: memory with many waiting requests), and a
 * connection's pending requests are a queue linked through the records.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionState, IndicatorBit, PendingPool, PendingRequest, Phase, ProxyFacts } from '../../../agent/classify/connection-state.js';
import { HttpStream } from '../../../agent/classify/http/http-stream.js';
import { parseProxyHeader } from '../../../agent/classify/proxy-protocol/proxy-parser.js';

const FACTS = { originatorIp: '10.0.1.50', originatorPort: 43210, responderIp: '10.0.2.100', responderPort: 8080 };

/** A request line's target and an X-Amzn-Trace-Id value in one buffer, with their ranges. */
function head(path: string, trace: string | undefined): { buf: Uint8Array; ps: number; pe: number; ts: number; te: number } {
  const text = `GET ${path} HTTP/1.1\r\nX-Amzn-Trace-Id: ${trace ?? ''}\r\n\r\n`;
  const buf = Buffer.from(text, 'latin1');
  const ps = 4;
  const pe = ps + path.length;
  const ts = trace === undefined ? -1 : text.indexOf('Trace-Id: ') + 10;
  return { buf, ps, pe, ts, te: trace === undefined ? -1 : ts + trace.length };
}

function fill(r: PendingRequest, path: string, trace: string | undefined): void {
  const h = head(path, trace);
  r.set('GET', h.buf, h.ps, h.pe, h.ts, h.te, 1, 2, '203.0.113.45', undefined);
}

describe('PendingRequest', () => {
  it('reads back path and trace id of every length, as one record is reused for shorter and longer ones', () => {
    const r = new PendingRequest();
    const cases: Array<[string, string | undefined]> = [
      ['/', undefined],
      ['/api/items/42', 'Root=1-67891233-abcdef012345678912345678'],
      ['/a'.repeat(100), 'Root=1-67891233-abcdef012345678912345678'],
      ['/x', 'Root=1-1'],
      ['/b'.repeat(300), undefined],
      ['/c'.repeat(200), 'Root=1-67891233-' + 'f'.repeat(200)],
      ['/health', ''],
    ];
    for (const [path, trace] of cases) {
      fill(r, path, trace);
      assert.equal(r.path, path);
      assert.equal(r.traceId, trace);
    }
  });
});

describe('ConnectionState pending queue', () => {
  it('gives requests back oldest first, and is empty after the last', () => {
    const cs = ConnectionState.of(FACTS, 1);
    const pool = new PendingPool();
    for (const p of ['/1', '/2', '/3']) {
      const r = pool.take();
      fill(r, p, undefined);
      cs.pushPending(r);
    }
    assert.equal(cs.pendingCount, 3);
    assert.equal(cs.pendingTail?.path, '/3');
    const first = cs.shiftPending();
    assert.equal(first?.path, '/1');
    assert.equal(first?.next, undefined, 'a taken record links to nothing');
    if (first !== undefined) pool.release(first);
    const r4 = pool.take();
    fill(r4, '/4', undefined);
    cs.pushPending(r4);
    const order: string[] = [];
    for (let r = cs.pendingHead; r !== undefined; r = r.next) order.push(r.path);
    assert.deepEqual(order, ['/2', '/3', '/4']);
    assert.deepEqual([cs.shiftPending()?.path, cs.shiftPending()?.path, cs.shiftPending()?.path], ['/2', '/3', '/4']);
    assert.equal(cs.shiftPending(), undefined);
    assert.deepEqual([cs.pendingCount, cs.pendingHead, cs.pendingTail], [0, undefined, undefined]);
  });
});

describe('ConnectionState next sequence numbers', () => {
  it('are unknown before a side\'s first payload, then read back unsigned on either side of 2^31 and across the wrap', () => {
    const cs = ConnectionState.of(FACTS, 1);
    assert.equal(cs.nextSeq(true), -1);
    assert.equal(cs.nextSeq(false), -1);
    for (const v of [0, 1, 2 ** 31 - 1, 2 ** 31, 3_000_000_000, 2 ** 32 - 1]) {
      cs.setNextSeq(true, v);
      assert.equal(cs.nextSeq(true), v);
      assert.equal(cs.nextSeq(false), -1, 'the other side stays unknown');
    }
    // A payload that ends past 2^32 wraps, as sequence numbers do.
    cs.setNextSeq(false, 2 ** 32 - 10 + 25);
    assert.equal(cs.nextSeq(false), 15);
    assert.equal(cs.nextSeq(true), 2 ** 32 - 1);
  });
});

describe('ConnectionState packed fields', () => {
  it('keeps the phase, the LB indicators and the yes/no facts in one word without one disturbing another', () => {
    const cs = ConnectionState.of({ ...FACTS, geneve: true }, 1);
    assert.equal(cs.phase, Phase.PRELUDE);
    assert.equal(cs.indicators, IndicatorBit.GENEVE);
    cs.phase = Phase.OPAQUE;
    cs.indicators |= IndicatorBit.PROXY_V2 | IndicatorBit.DIRECT_CLIENT;
    cs.closed = true;
    cs.ccsSeen = 3;
    cs.setNextSeq(false, 3_000_000_000);
    assert.equal(cs.phase, Phase.OPAQUE);
    assert.equal(cs.indicators, IndicatorBit.GENEVE | IndicatorBit.PROXY_V2 | IndicatorBit.DIRECT_CLIENT);
    assert.ok(cs.geneve && cs.closed && !cs.serverFirst && !cs.handshakeDone);
    assert.equal(cs.ccsSeen, 3);
    assert.equal(cs.nextSeq(false), 3_000_000_000);
    cs.indicators = 0;
    assert.equal(cs.phase, Phase.OPAQUE);
    assert.ok(cs.closed && !cs.geneve);
    assert.equal(cs.ccsSeen, 3);
  });

  it('gives a direction\'s stream only to the phase it belongs to', () => {
    const cs = ConnectionState.of(FACTS, 1);
    const req = new HttpStream<ConnectionState>();
    cs.phase = Phase.HTTP;
    cs.req = req;
    assert.equal(cs.req, req);
    assert.equal(cs.tlsC2s, undefined, 'an HTTP stream is no TLS record walk');
    cs.req = undefined;
    assert.equal(cs.req, undefined);
  });

  it('reads the prelude fields back: their defaults before a prelude, its bytes and lengths after', () => {
    const cs = ConnectionState.of(FACTS, 1);
    cs.pre = undefined;
    cs.preLen = 0;
    cs.preStart = 0;
    cs.proxy = undefined;
    assert.equal(cs.pre, undefined);
    assert.equal(cs.preLen, 0);
    const pre = Buffer.alloc(16);
    cs.pre = pre;
    cs.preLen = 9;
    cs.preStart = 4;
    assert.equal(cs.pre, pre);
    assert.deepEqual([cs.preLen, cs.preStart, cs.proxy], [9, 4, undefined]);
    cs.pre = undefined;
    assert.deepEqual([cs.pre, cs.preLen, cs.preStart], [undefined, 9, 4], 'the lengths outlive the bytes, as before');
  });
});

/** A v2 header's bytes: PROXY (or LOCAL), TCP over IPv4 or IPv6, and an optional AWS VPC endpoint TLV. */
function v2Bytes(src: number[], opts: { local?: boolean; vpceId?: string } = {}): Buffer {
  const v6 = src.length === 16;
  const addr = Buffer.alloc(v6 ? 36 : 12);
  Buffer.from(src).copy(addr, 0);
  Buffer.from(v6 ? [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 2] : [10, 0, 0, 2]).copy(addr, v6 ? 16 : 4);
  addr.writeUInt16BE(40000, v6 ? 32 : 8);
  addr.writeUInt16BE(80, v6 ? 34 : 10);
  const tlv = opts.vpceId === undefined ? Buffer.alloc(0)
    : Buffer.concat([Buffer.from([0xea, 0, opts.vpceId.length + 1, 0x01]), Buffer.from(opts.vpceId, 'latin1')]);
  const body = Buffer.concat([addr, tlv]);
  const head = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
    opts.local ? 0x20 : 0x21, v6 ? 0x21 : 0x11, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([head, body]);
}

function factsOf(bytes: Buffer): ProxyFacts {
  const r = parseProxyHeader(bytes, 0, bytes.length);
  if (r.status !== 'ok') assert.fail(`${bytes.toString('latin1')}: ${r.status} ${r.reason}`);
  return new ProxyFacts(r.value);
}

it('ProxyFacts: an NLB header (v2, an IPv4 client, no endpoint id) rests as the address and comes back the same; any other stays an object', () => {
  const cases: Array<[number[], string]> = [
    [[203, 0, 113, 7], '203.0.113.7'], [[0, 0, 0, 0], '0.0.0.0'], [[255, 255, 255, 255], '255.255.255.255'], [[10, 0, 0, 1], '10.0.0.1'],
    [[127, 255, 0, 9], '127.255.0.9'], [[128, 0, 0, 0], '128.0.0.0'], [[1, 22, 133, 244], '1.22.133.244'],
  ];
  for (const [bytes, ip] of cases) {
    const facts = factsOf(v2Bytes(bytes));
    assert.equal(facts.srcIp, ip);
    const rested = facts.restValue();
    assert.equal(typeof rested, 'number', ip);
    assert.ok(Number.isInteger(rested) && (rested as number) >= -(2 ** 31) && (rested as number) < 2 ** 31, `${ip}: a 32-bit integer`);
    assert.deepEqual(ProxyFacts.fromRest(rested as number), facts, ip);
    assert.equal(ProxyFacts.fromRest(rested as number).srcIp, ip);
  }
  const kept = [
    factsOf(v2Bytes([203, 0, 113, 7], { local: true })),
    factsOf(v2Bytes([203, 0, 113, 7], { vpceId: 'vpce-0abc' })),
    factsOf(v2Bytes([0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1])),
    factsOf(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.2 40000 80\r\n', 'latin1')),
    factsOf(Buffer.from('PROXY UNKNOWN\r\n', 'latin1')),
  ];
  for (const facts of kept) assert.equal(facts.restValue(), facts, `${facts.version} ${String(facts.srcIp)} stays an object`);
  assert.deepEqual(kept.map((f) => f.srcIp), [undefined, '203.0.113.7', '2001:db8::1', '203.0.113.7', undefined]);
});
