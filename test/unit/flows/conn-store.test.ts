/**
 * The connection store's packed columns: small fields share words (issue 6, bytes per
 * connection), so each must read back what was written, leave its neighbours alone,
 * and saturate instead of spilling into them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConnStore } from '../../../agent/flows/conn-store.js';
import { EndpointState } from '../../../agent/flows/conn-state.js';
import { Connection } from '../../../agent/flows/tcp-connection.js';

function fresh(index = 5): Connection {
  return new Connection(new ConnStore()).point(index);
}

describe('Connection store packed fields', () => {
  it('a cleared slot reads as empty: window -1, no SYNs, no duplicate ACKs, ports 0', () => {
    const c = fresh();
    for (const s of [c.orig, c.resp]) {
      assert.equal(s.window, -1);
      assert.equal(s.syns, 0);
      assert.equal(s.dupAcks, 0);
      assert.equal(s.state, EndpointState.INACTIVE);
    }
    assert.equal(c.origPort, 0);
    assert.equal(c.respPort, 0);
  });

  it('window, duplicate ACKs, SYNs, state, kind and history bits keep their own values', () => {
    const c = fresh();
    const s = c.orig;
    s.state = EndpointState.ESTABLISHED;
    s.lastKind = 9;
    s.historyBits = 0x3ff;
    s.seqInit = true;
    s.ackInit = true;
    s.syns = 3;
    s.window = 65535;
    s.dupAcks = 2;
    assert.deepEqual([s.state, s.lastKind, s.historyBits, s.seqInit, s.ackInit, s.syns, s.window, s.dupAcks],
      [EndpointState.ESTABLISHED, 9, 0x3ff, true, true, 3, 65535, 2]);
    s.window = 0;
    s.dupAcks = 0;
    s.syns = 1;
    s.historyBits = 0;
    assert.deepEqual([s.state, s.lastKind, s.historyBits, s.seqInit, s.ackInit, s.syns, s.window, s.dupAcks],
      [EndpointState.ESTABLISHED, 9, 0, true, true, 1, 0, 0]);
    // The other side and the neighbouring slot are untouched.
    assert.deepEqual([c.resp.window, c.resp.syns, c.resp.dupAcks, c.resp.state], [-1, 0, 0, EndpointState.INACTIVE]);
    const n = new Connection(new ConnStore());
    assert.equal(n.point(6).orig.window, -1);
  });

  it('SYN and duplicate-ACK counts saturate instead of overflowing into the next field', () => {
    const s = fresh().orig;
    s.window = 1234;
    s.state = EndpointState.SYN_SENT;
    s.historyBits = 0x155;
    for (let i = 0; i < 3000; i++) s.syns++;
    for (let i = 0; i < 10; i++) s.dupAcks++;
    assert.equal(s.syns, 2047);
    assert.equal(s.dupAcks, 3, 'only "two or more" matters to the analysis');
    assert.equal(s.window, 1234);
    assert.equal(s.state, EndpointState.SYN_SENT);
    assert.equal(s.historyBits, 0x155);
    s.dupAcks = 0;
    assert.deepEqual([s.dupAcks, s.syns, s.historyBits], [0, 2047, 0x155]);
  });

  it('payload bytes past 2^32 carry into the window word without changing the window', () => {
    const c = fresh();
    const s = c.orig;
    s.window = 65535;
    s.addBytes(0xffffffff);
    assert.equal(s.bytes, 0xffffffff);
    s.addBytes(2);
    assert.equal(s.bytes, 0x100000001);
    assert.equal(s.window, 65535);
    s.window = 0;
    assert.equal(s.bytes, 0x100000001, 'a window write keeps the high bits');
    for (let i = 0; i < 5; i++) s.addBytes(0xffffffff);
    assert.equal(s.bytes, 0x100000001 + 5 * 0xffffffff);
    assert.equal(s.window, 0);
    assert.deepEqual([c.bytesOrig, c.bytesResp, c.resp.window], [0x100000001 + 5 * 0xffffffff, 0, -1]);
  });

  it('payload bytes stay exact up to 2^47 and then stop growing rather than wrap into the window', () => {
    const s = fresh().orig;
    s.window = 7;
    const step = 0xffffffff;
    let expect = 0;
    while (expect + step < 2 ** 47) { s.addBytes(step); expect += step; }
    assert.equal(s.bytes, expect);
    for (let i = 0; i < 4; i++) s.addBytes(step);
    assert.equal(s.bytes, 2 ** 47 - 1, 'saturated');
    assert.equal(s.window, 7);
  });

  it('a history holds all twenty letters in order, and a neighbouring slot\'s stays its own', () => {
    const store = new ConnStore();
    const a = new Connection(store).point(8);
    const b = new Connection(store).point(9);
    b.addHistory(1, true);
    for (let bit = 0; bit < 10; bit++) {
      a.addHistory(1 << bit, true);
      a.addHistory(1 << bit, false);
    }
    assert.equal(a.history, 'SsHhAaDdFfRrTtWwIiQq');
    assert.equal(a.historyIndexOf('q'), 19);
    assert.equal(a.historyIndexOf('A'), 4);
    a.addHistory(1, true);
    assert.equal(a.history.length, 20, 'a 21st letter has no room and is not written over another');
    assert.equal(b.history, 'S');
    assert.equal(new Connection(store).point(7).history, '');
    a.clear();
    assert.equal(a.history, '');
    assert.equal(b.history, 'S');
  });

  it('a chunk makes its classifier-state array only when a connection first gets state', () => {
    const store = new ConnStore();
    const a = new Connection(store).point(3);
    const b = new Connection(store).point(4);
    a.app = undefined;
    assert.equal(a.chunk.apps, undefined, 'connections without payload cost no array');
    assert.equal(b.app, undefined);
    const state = { kind: 'http' };
    b.app = state;
    assert.equal(b.chunk.apps?.length, 4096);
    assert.equal(b.app, state);
    assert.equal(a.app, undefined);
    b.clear();
    assert.equal(b.app, undefined);
  });

  it('both ports share one word, each 0..65535', () => {
    const c = fresh();
    c.setPorts(65535, 1);
    assert.deepEqual([c.origPort, c.respPort], [65535, 1]);
    c.setPorts(0, 65535);
    assert.deepEqual([c.origPort, c.respPort], [0, 65535]);
    c.setPorts(443, 50000);
    assert.deepEqual([c.origPort, c.respPort], [443, 50000]);
  });

  it('moving the time base shifts both sides\' times, drops the ones it passes and keeps the list', () => {
    const c = fresh(3);
    const step = 0x40000000;
    c.orig.ackAt = 100;
    c.orig.nextSeqAt = step + 500;
    c.resp.ackAt = 0x7fffffff;
    c.resp.nextSeqAt = 0;
    c.sampled = true;
    assert.equal(c.timeEpoch, 0);
    // A packet 1 µs past the last offset that fits: one step.
    const at = c.rebaseTimes(0x7fffffff + 1);
    assert.equal(at, 0x7fffffff + 1 - step);
    assert.equal(c.timeEpoch, 1);
    assert.deepEqual([c.orig.ackAt, c.orig.nextSeqAt, c.resp.ackAt, c.resp.nextSeqAt], [0, 500, 0x7fffffff - step, 0]);
    assert.equal(c.sampled, true);
    // Hours later: as many steps as it takes, in one move.
    const later = c.rebaseTimes(10 * step + 7);
    assert.ok(later >= 1 && later <= 0x7fffffff, `${later} fits`);
    assert.equal(c.timeEpoch, 1 + (10 * step + 7 - later) / step);
    assert.deepEqual([c.orig.ackAt, c.orig.nextSeqAt, c.resp.ackAt, c.resp.nextSeqAt], [0, 0, 0, 0]);
  });

  it('a clock that jumps beyond the last epoch clears the times and leaves the base', () => {
    const c = fresh();
    c.orig.ackAt = 5;
    const huge = 2 ** 60; // ~36,000 years of µs: past the 23-bit epoch
    assert.equal(c.rebaseTimes(huge), huge);
    assert.equal(c.timeEpoch, 0);
    assert.equal(c.orig.ackAt, 0);
  });
});
