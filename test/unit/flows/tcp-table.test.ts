import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tcp, TcpConversation, udp } from '../../helpers/packet-builder.js';
import { PacketView } from '../../../agent/decode/packet-view.js';
import { EventFactory } from '../../../agent/events/event-factory.js';
import { FlowTable } from '../../../agent/flows/tcp-table.js';
import type { TcpConnection, TcpObserver } from '../../../agent/flows/tcp-observer.js';
import { connAddresses } from '../../../agent/flows/tcp-observer.js';
import { StaticLocalAddresses } from '../../../agent/flows/local-addresses.js';
import { Harness, T0, viewFromFrame } from './flow-harness.js';

function gcNow(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('The connection table stays bounded and expires connections by time', () => {
  it('a full table evicts the oldest connection and counts it; memory stops growing', () => {
    // Prepare
    const gc = gcNow();
    const table = new FlowTable({ maxConnections: 1000, sink: { emit: () => undefined }, events: new EventFactory() });
    const view = new PacketView();
    let t = T0;
    const h = { table, feed: (frames: Buffer[], _step: number) => { for (const f of frames) table.onPacket(viewFromFrame(view, f, t++)); } };
    const syns = (from: number, n: number): Buffer[] =>
      Array.from({ length: n }, (_, i) => new TcpConversation('198.18.7.1', '10.0.2.100', 1024 + ((from + i) % 60000), 80).seg(true, 'S'));
    // Act
    h.feed(syns(0, 5000), 0);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let k = 1; k <= 10; k++) h.feed(syns(k * 5000, 5000), 0);
    gc();
    const growth = process.memoryUsage().heapUsed - before;
    // Assess
    const s = h.table.snapshot();
    assert.equal(h.table.size, 1000);
    assert.equal(s.connections_tracked, 1000);
    assert.equal(s.connections_opened, 55_000);
    assert.equal(s.connections_evicted, 54_000);
    assert.equal(s.connections_tracked_peak, 1000);
    assert.ok(growth < 2_000_000, `heap grew by ${growth} bytes after 50,000 more connections`);
  });

  it('100,000 tracked connections cost under 250 bytes each (heap and typed arrays; no object per connection)', () => {
    // Prepare
    const gc = gcNow();
    const measure = (): number => { gc(); gc(); return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers; };
    const base = measure();
    const table = new FlowTable({ sink: { emit: () => undefined }, events: new EventFactory() });
    const view = new PacketView();
    // Act: 100k established connections with a request each, all still open.
    for (let i = 0; i < 100_000; i++) {
      const c = new TcpConversation(`198.18.${(i >> 8) & 255}.${i & 255}`, '10.0.2.100', 32768 + (i % 20000), 8080);
      for (const f of [...c.handshake(), c.seg(true, 'PA', 'GET / HTTP/1.1\r\n\r\n')]) table.onPacket(viewFromFrame(view, f, T0 + i));
    }
    const perConn = (measure() - base) / 100_000;
    // Assess
    assert.equal(table.size, 100_000);
    console.log(`# ${Math.round(perConn)} bytes per tracked connection`);
    assert.ok(perConn < 250, `${Math.round(perConn)} bytes per connection (229 measured when written, 156 since the columns were packed on 2026-12-07)`);
  });

  it('a full table evicts reported failed handshakes before live connections', () => {
    // Prepare: one live connection, then unanswered SYNs (a scan) until the table is full.
    const h = new Harness({ maxConnections: 10 });
    const live = new TcpConversation('10.0.1.50', '10.0.2.100', 43210, 8080);
    h.feed([...live.handshake(), live.seg(true, 'PA', 'x')]);
    for (let i = 0; i < 9; i++) h.feed(new TcpConversation('198.18.9.9', '10.0.2.100', 50000 + i, 22).seg(true, 'S'), 0);
    h.wait(3000); // all nine reported unanswered
    // Act: more connections need room.
    for (let i = 0; i < 5; i++) h.feed(new TcpConversation('198.18.9.10', '10.0.2.100', 51000 + i, 80).seg(true, 'S'), 0);
    // Assess
    const s = h.table.snapshot();
    assert.equal(s.unanswered, 9);
    assert.equal(s.connections_evicted, 5);
    let liveStillThere = false;
    h.table.forEach((c) => { if (c.origPort === 43210) liveStillThere = true; });
    assert.ok(liveStillThere, 'the established connection was kept');
  });

  it('SYN retries long after the unanswered event count on the same connection, until Linux would give up', () => {
    const h = new Harness();
    const syn = new TcpConversation('10.0.1.50', '10.0.2.100', 43210, 8080).seg(true, 'S');
    // Linux: first SYN at 0, retries at 1, 3, 7, 15, 31, 63 s.
    let at = 0;
    for (const next of [1, 3, 7, 15, 31, 63]) { h.feed(syn, 0).wait((next - at) * 1000); at = next; }
    h.feed(syn, 0).wait(200_000);
    const s = h.table.snapshot();
    assert.equal(h.sink.events.length, 1, 'one unanswered event');
    assert.deepEqual([s.syn_retries, s.connections_opened, s.connections_expired, h.table.size], [6, 1, 1, 0]);
  });

  it('an idle connection expires after the idle timeout, even with no packets (tick)', () => {
    const h = new Harness({ idleTimeoutSec: 10 });
    const c = new TcpConversation('10.0.1.50', '10.0.2.100', 43210, 8080);
    h.feed([...c.handshake(), c.seg(true, 'PA', 'x')]);
    h.wait(9_000);
    assert.equal(h.table.size, 1, 'still there before the timeout');
    h.wait(1_000);
    assert.equal(h.table.size, 0);
    const s = h.table.snapshot();
    assert.equal(s.connections_expired, 1);
    assert.equal(s.by_state.S1, 1);
  });

  it('a closed connection leaves after the linger time; late packets in it still find it', () => {
    const h = new Harness({ closedLingerSec: 5 });
    const c = new TcpConversation('10.0.1.50', '10.0.2.100', 43210, 8080);
    h.feed([...c.handshake(), c.seg(true, 'FA'), c.seg(false, 'FA')]);
    h.wait(4_000).feed(c.seg(true, 'A'));
    assert.equal(h.table.size, 1);
    h.wait(5_000);
    const s = h.table.snapshot();
    assert.deepEqual([h.table.size, s.connections_closed, s.connections_opened, s.by_state.SF], [0, 1, 1, 1]);
  });

  it('a new SYN on a closed 5-tuple starts a new connection (port reuse)', () => {
    const h = new Harness();
    const a = new TcpConversation('10.0.1.50', '10.0.2.100', 43210, 8080, { c: 1000 });
    const b = new TcpConversation('10.0.1.50', '10.0.2.100', 43210, 8080, { c: 900_000 });
    h.feed([...a.handshake(), a.seg(true, 'FA'), a.seg(false, 'FA'), a.seg(true, 'A'), ...b.handshake()]);
    const s = h.table.snapshot();
    assert.equal(s.connections_opened, 2);
    assert.equal(s.by_state.SF, 1);
  });

  it('IPv6 connections are found from both directions', () => {
    const h = new Harness({ localAddresses: new StaticLocalAddresses(['2001:db8::100']) });
    const c = new TcpConversation('2001:db8::50', '2001:db8::100', 43210, 443);
    h.feed([...c.handshake(), c.seg(true, 'PA', 'hi'), c.seg(false, 'RA')]);
    assert.equal(h.table.snapshot().connections_opened, 1);
    const [e] = h.sink.events;
    assert.equal(e?.reason, 'reset_by_target');
    assert.equal(e?.message, 'Connection reset: [2001:db8::100]:443->[2001:db8::50]:43210');
  });

  it('UDP packets are counted per destination port, with a bound', () => {
    const h = new Harness({ maxUdpPorts: 2 });
    for (const port of [53, 53, 123, 6081, 6081]) h.feed(udp({ src: '10.0.1.1', dst: '10.0.2.100', sport: 40000, dport: port }));
    const s = h.table.snapshot();
    assert.equal(s.udp_packets, 5);
    assert.deepEqual(s.udp_by_port, { '53': 2, '123': 1, other: 2 });
  });
});

describe('The classifier hook sees every payload segment and every close', () => {
  it('calls onSegment for payload segments in both directions and onClose once, with app state', () => {
    // Prepare
    const seen: string[] = [];
    let closed: TcpConnection | undefined;
    const observer: TcpObserver = {
      onSegment(conn: TcpConnection, fromOrig: boolean, v: PacketView) {
        conn.app = (conn.app as number | undefined ?? 0) + 1;
        seen.push(`${fromOrig ? 'orig' : 'resp'}:${v.buf.toString('latin1', v.payloadOffset, v.payloadOffset + v.payloadCapLen)}`);
      },
      onClose(conn: TcpConnection) { closed = conn; seen.push(`close:${String(conn.app)}:${conn.state}`); },
    };
    const h = new Harness({ observer, sample: 100 }); // not sampled: the hook still runs
    const c = new TcpConversation('10.0.1.50', '10.0.2.100', 43210, 8080);
    // Act
    h.feed([...c.handshake(), c.seg(true, 'PA', 'GET'), c.seg(false, 'A'), c.seg(false, 'PA', '200'), c.seg(true, 'FA'), c.seg(false, 'FA')]);
    const addrs = connAddresses(firstConn(h));
    h.finish();
    // Assess
    assert.deepEqual(seen, ['orig:GET', 'resp:200', 'close:2:SF']);
    assert.deepEqual(addrs, { origIp: '10.0.1.50', origPort: 43210, respIp: '10.0.2.100', respPort: 8080 });
    assert.equal(closed?.app, undefined, 'the slot is cleared when the connection is reused');
  });
});

function firstConn(h: Harness): TcpConnection {
  let found: TcpConnection | undefined;
  h.table.forEach((c) => { found ??= c; });
  if (found === undefined) throw new Error('no connection');
  return found;
}

describe('The hot path does not allocate per packet for known connections', () => {
  it('a million packets of established connections cause almost no scavenges', async () => {
    // Prepare: 100 established connections, frames built once and replayed.
    const h = new Harness();
    const frames: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const c = new TcpConversation('10.0.1.50', '10.0.2.100', 40000 + i, 8080);
      h.feed(c.handshake());
      for (let j = 0; j < 5; j++) frames.push(c.seg(true, 'PA', 'x'.repeat(100)), c.seg(false, 'A'));
    }
    const view = h.view;
    const run = (n: number, t: number): number => {
      for (let i = 0; i < n; i++) h.table.onPacket(viewFromFrame(view, frames[i % frames.length] as Buffer, t + i));
      return t + n;
    };
    let t = run(200_000, T0 + 10_000_000); // warm up: let the optimiser settle
    let scavenges = 0;
    const obs = new PerformanceObserver((list) => { scavenges += list.getEntries().length; });
    obs.observe({ entryTypes: ['gc'] });
    await new Promise((r) => setImmediate(r));
    scavenges = 0;
    // Act
    t = run(1_000_000, t);
    await new Promise((r) => setImmediate(r));
    obs.disconnect();
    // Assess: one scavenge per ~1 MB of garbage; 16 bytes per packet would be ~16 of them.
    assert.equal(h.table.snapshot().connections_opened, 100);
    console.log(`# ${scavenges} GCs during 1,000,000 packets`);
    assert.ok(scavenges <= 3, `${scavenges} GCs during 1,000,000 packets`);
  });
});

describe('Opening connections does not allocate per packet either', () => {
  it('100,000 handshakes (SYN, SYN-ACK, ACK) through the table cost a handful of scavenges', async () => {
    // Prepare: three frames patched in place for each connection (no Buffer per packet)
    const table = new FlowTable({ sink: { emit: () => undefined }, events: new EventFactory(), maxConnections: 100_000 });
    const view = new PacketView();
    const syn = tcp({ src: '198.18.0.1', dst: '10.0.2.100', sport: 40000, dport: 8080, flags: 'S', seq: 1 });
    const synAck = tcp({ src: '10.0.2.100', dst: '198.18.0.1', sport: 8080, dport: 40000, flags: 'SA', seq: 9, ack: 2 });
    const ack = tcp({ src: '198.18.0.1', dst: '10.0.2.100', sport: 40000, dport: 8080, flags: 'A', seq: 2, ack: 10 });
    const open = (from: number, n: number): void => {
      for (let i = from; i < from + n; i++) {
        const ip = (0xc6120000 + i) >>> 0; // 198.18.x.x: above 2^31, the case that boxed
        syn.writeUInt32BE(ip, 26); synAck.writeUInt32BE(ip, 30); ack.writeUInt32BE(ip, 26);
        const t = T0 + i * 10;
        table.onPacket(viewFromFrame(view, syn, t));
        table.onPacket(viewFromFrame(view, synAck, t + 1));
        table.onPacket(viewFromFrame(view, ack, t + 2));
      }
    };
    open(0, 20_000); // warm up
    let scavenges = 0;
    const obs = new PerformanceObserver((list) => { scavenges += list.getEntries().length; });
    obs.observe({ entryTypes: ['gc'] });
    // gc entries arrive asynchronously: let the earlier ones land before counting, and these after.
    await new Promise((r) => setTimeout(r, 100));
    scavenges = 0;
    // Act
    open(20_000, 80_000);
    await new Promise((r) => setTimeout(r, 100));
    obs.disconnect();
    // Assess: 240,000 packets; 16 bytes each would be ~4 MB, several scavenges at 1 MB
    assert.equal(table.size, 100_000);
    console.log(`# ${scavenges} GCs during 80,000 handshakes`);
    assert.ok(scavenges <= 8, `${scavenges} GCs during 80,000 handshakes (4 when written)`);
  });
});
