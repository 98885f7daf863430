import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TcpConversation } from '../../helpers/packet-builder.js';
import { StaticLocalAddresses } from '../../../agent/flows/local-addresses.js';
import { Harness } from './flow-harness.js';

const LB = '10.0.1.50';
const TARGET = '10.0.2.100';
const conv = (): TcpConversation => new TcpConversation(LB, TARGET, 43210, 8080);

describe('Connection resets are reported once, attributed to this instance or its peer', () => {
  it('a reset by the target after data is reset_by_target, src = the target', () => {
    // Prepare
    const h = new Harness();
    const c = conv();
    // Act
    h.feed([...c.handshake(), c.seg(true, 'PA', 'GET / HTTP/1.1\r\n\r\n'), c.seg(false, 'RA'), c.seg(false, 'RA')]);
    // Assess
    assert.equal(h.sink.events.length, 1, 'one event even with two RSTs');
    const e = h.sink.events[0];
    assert.ok(e);
    assert.equal(e.type, 'TCP_ERROR');
    assert.equal(e.reason, 'reset_by_target');
    assert.equal(e.message, 'Connection reset: 10.0.2.100:8080->10.0.1.50:43210');
    assert.deepEqual([e.src_ip, e.src_port, e.dst_ip, e.dst_port, e.proto], [TARGET, 8080, LB, 43210, 'tcp']);
    assert.equal(e['before_data'], false);
    assert.equal(e['state'], 'RSTR');
    assert.equal(e['history'], 'ShADr');
    assert.equal(e['bytes_orig'], 18);
    assert.equal(e['bytes_resp'], 0);
    assert.equal(e['duration_ms'], 4);
    assert.equal(e.time, '2026-02-15T09:30:00.004000Z');
    assert.equal(h.table.snapshot().resets_by_target, 1);
  });

  it('a reset by the peer before any data is reset_by_peer with before_data', () => {
    const h = new Harness();
    const c = conv();
    h.feed([...c.handshake(), c.seg(true, 'RA')]);
    const [e] = h.sink.events;
    assert.equal(e?.reason, 'reset_by_peer');
    assert.equal(e?.message, 'Connection reset: 10.0.1.50:43210->10.0.2.100:8080');
    assert.equal(e?.['before_data'], true);
    assert.equal(e?.['state'], 'RSTO');
    assert.equal(h.table.snapshot().resets_by_peer, 1);
  });

  it('a reset by the target before data and a reset by the peer after data', () => {
    const h = new Harness();
    const a = new TcpConversation(LB, TARGET, 40001, 8080);
    const b = new TcpConversation(LB, TARGET, 40002, 8080);
    h.feed([...a.handshake(), a.seg(false, 'RA')]);
    h.feed([...b.handshake(), b.seg(true, 'PA', 'abc'), b.seg(false, 'PA', 'defg'), b.seg(true, 'RA')]);
    const [ea, eb] = h.sink.events;
    assert.deepEqual([ea?.reason, ea?.['before_data']], ['reset_by_target', true]);
    assert.deepEqual([eb?.reason, eb?.['before_data'], eb?.['bytes_orig'], eb?.['bytes_resp']], ['reset_by_peer', false, 3, 4]);
  });

  it('with local addresses known, an outgoing connection reset by the remote server is reset_by_peer', () => {
    // Prepare: this instance (10.0.2.100) calls a backend at 10.0.3.7:5432.
    const h = new Harness({ localAddresses: new StaticLocalAddresses([TARGET]) });
    const c = new TcpConversation(TARGET, '10.0.3.7', 51000, 5432);
    // Act
    h.feed([...c.handshake(), c.seg(true, 'PA', 'q'), c.seg(false, 'RA')]);
    // Assess
    const [e] = h.sink.events;
    assert.equal(e?.reason, 'reset_by_peer');
    assert.equal(e?.['target_is_originator'], true);
    assert.equal(e?.src_ip, '10.0.3.7');
  });

  it('a lone RST for a connection never seen is reported as midstream, without claiming before_data', () => {
    const h = new Harness();
    h.feed(conv().seg(false, 'R'));
    const [e] = h.sink.events;
    assert.deepEqual([e?.reason, e?.['midstream'], e?.['before_data'], e?.src_ip], ['reset_by_target', true, false, TARGET]);
  });

  it('a RST after both FINs (a socket closed with unread data) is not a reset event', () => {
    const h = new Harness();
    const c = conv();
    h.feed([...c.handshake(), c.seg(true, 'FA'), c.seg(false, 'FA'), c.seg(false, 'R')]);
    assert.equal(h.sink.events.length, 0);
    assert.equal(h.finish().closed[0]?.state, 'RSTR', 'the state still records the RST, as Zeek does');
  });
});

describe('Failed connections: refused, unanswered, abandoned', () => {
  it('a SYN answered by a RST is refused, src = the SYN sender, retries counted', () => {
    const h = new Harness();
    const c = conv();
    const syn = c.seg(true, 'S');
    h.feed([syn], 1000).feed([syn], 10).feed(c.seg(false, 'RA'));
    assert.equal(h.sink.events.length, 1);
    const e = h.sink.events[0];
    assert.equal(e?.type, 'CONNECTION_FAILED');
    assert.equal(e?.reason, 'refused');
    assert.equal(e?.message, 'Connection refused: 10.0.1.50:43210->10.0.2.100:8080');
    assert.equal(e?.['syn_retries'], 1);
    assert.equal(e?.['state'], 'REJ');
    assert.equal(h.table.snapshot().refused, 1);
  });

  it('a SYN with no SYN-ACK within the SYN timeout is unanswered, with its retries counted, once', () => {
    // Prepare: Linux-like retries at +1 s and +3 s, then silence.
    const h = new Harness({ synTimeoutSec: 3 });
    const c = conv();
    const syn = c.seg(true, 'S');
    // Act
    h.feed([syn], 1000).feed([syn], 2000).feed([syn], 0);
    h.wait(2999);
    assert.equal(h.sink.events.length, 0, 'not before the timeout');
    h.wait(1);
    h.wait(4000).feed([syn]).wait(10_000); // a late retry counts on the same connection, no new event
    // Assess
    assert.equal(h.sink.events.length, 1);
    const e = h.sink.events[0];
    assert.equal(e?.reason, 'unanswered');
    assert.equal(e?.message, 'Connection unanswered: 10.0.1.50:43210->10.0.2.100:8080');
    assert.equal(e?.['syn_retries'], 2);
    assert.equal(e?.time, '2026-02-15T09:30:06.000000Z', 'the deadline: 3 s after the last SYN');
    const s = h.table.snapshot();
    assert.equal(s.unanswered, 1);
    assert.equal(s.syn_retries, 3);
  });

  it('a SYN-ACK never acknowledged (retried by the target) is a handshake_abandoned', () => {
    const h = new Harness();
    const c = conv();
    const synAck = (() => { c.seg(true, 'S'); return c.seg(false, 'SA'); })();
    const fresh = conv();
    h.feed(fresh.seg(true, 'S')).feed([synAck], 1000).feed([synAck], 0).wait(3000);
    assert.equal(h.sink.events.length, 1);
    const e = h.sink.events[0];
    assert.equal(e?.reason, 'handshake_abandoned');
    assert.equal(e?.message, 'Handshake abandoned: 10.0.1.50:43210->10.0.2.100:8080');
    assert.equal(e?.['syn_ack_retries'], 1);
    assert.equal(h.table.snapshot().handshake_abandoned, 1);
  });

  it('a new SYN with another ISN on an unanswered 5-tuple is a new attempt with its own event', () => {
    const h = new Harness();
    const first = new TcpConversation(LB, TARGET, 43210, 8080, { c: 1000 });
    const second = new TcpConversation(LB, TARGET, 43210, 8080, { c: 777_000 });
    h.feed(first.seg(true, 'S')).wait(5000).feed(second.seg(true, 'S')).wait(5000);
    assert.deepEqual(h.sink.events.map((e) => [e.reason, e['syn_retries']]), [['unanswered', 0], ['unanswered', 0]]);
    assert.equal(h.table.snapshot().connections_opened, 2);
  });

  it('a connection whose SYN-ACK was not captured but which then ACKs and carries data is neither unanswered nor abandoned', () => {
    const h = new Harness();
    const c = conv();
    const [syn, synAck, ackFrame] = c.handshake();
    void synAck; // lost by the capture
    h.feed([syn as Buffer, ackFrame as Buffer]).wait(10_000);
    assert.equal(h.sink.events.length, 0, 'the ACK shows a SYN-ACK was received');
    h.feed([c.seg(true, 'PA', 'GET'), c.seg(false, 'PA', '200')]).wait(10_000);
    assert.equal(h.sink.events.length, 0);
  });

  it('the handshake RTT (SYN-ACK to ACK) of sampled flows is a statistic set', () => {
    const h = new Harness();
    const a = new TcpConversation(LB, TARGET, 40001, 8080);
    const b = new TcpConversation(LB, TARGET, 40002, 8080);
    h.feed(a.seg(true, 'S'), 1).feed(a.seg(false, 'SA'), 2).feed(a.seg(true, 'A'));
    h.feed(b.seg(true, 'S'), 1).feed(b.seg(false, 'SA'), 6).feed(b.seg(true, 'A'));
    assert.deepEqual(h.table.snapshot().handshake_rtt_us, { count: 2, sum: 8000, min: 2000, max: 6000 });
  });

  it('a completed handshake is not abandoned, however long it stays idle', () => {
    const h = new Harness();
    h.feed(conv().handshake()).wait(60_000);
    assert.equal(h.sink.events.length, 0);
  });
});
