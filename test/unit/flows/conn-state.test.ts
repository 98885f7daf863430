import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TcpConversation } from '../../helpers/packet-builder.js';
import { connState, EndpointState } from '../../../agent/flows/conn-state.js';
import { Harness } from './flow-harness.js';

const LB = '10.0.1.50';
const TARGET = '10.0.2.100';

/** Run a scripted conversation to its end and return the single connection's state and history. */
function run(script: (c: TcpConversation) => Buffer[]): { state: string; history: string } {
  const h = new Harness();
  h.feed(script(new TcpConversation(LB, TARGET, 43210, 8080))).finish();
  assert.equal(h.closed.length, 1, 'exactly one connection');
  const only = h.closed[0];
  assert.ok(only);
  assert.equal(h.onlyState(), only.state, 'the snapshot counts the same final state');
  return { state: only.state, history: only.history };
}

describe('Zeek connection states reached by scripted conversations', () => {
  it('S0: a SYN with no reply', () => {
    assert.deepEqual(run((c) => [c.seg(true, 'S')]), { state: 'S0', history: 'S' });
  });

  it('S1: established, not terminated', () => {
    const r = run((c) => [...c.handshake(), c.seg(true, 'PA', 'GET / HTTP/1.1\r\n\r\n'), c.seg(false, 'PA', 'HTTP/1.1 200 OK\r\n\r\n')]);
    assert.deepEqual(r, { state: 'S1', history: 'ShADd' });
  });

  it('SF: normal establishment and termination', () => {
    const r = run((c) => [
      ...c.handshake(), c.seg(true, 'PA', 'hello'), c.seg(false, 'A'), c.seg(false, 'PA', 'world'),
      c.seg(true, 'FA'), c.seg(false, 'FA'), c.seg(true, 'A'),
    ]);
    assert.deepEqual(r, { state: 'SF', history: 'ShADadFf' });
  });

  it('REJ: the SYN is answered by a RST', () => {
    assert.deepEqual(run((c) => [c.seg(true, 'S'), c.seg(false, 'RA')]), { state: 'REJ', history: 'Sr' });
  });

  it('S2: the originator closes, the responder never answers the FIN', () => {
    assert.equal(run((c) => [...c.handshake(), c.seg(true, 'FA')]).state, 'S2');
  });

  it('S3: the responder closes, the originator never answers the FIN', () => {
    assert.equal(run((c) => [...c.handshake(), c.seg(false, 'FA')]).state, 'S3');
  });

  it('RSTO: established, the originator aborts', () => {
    assert.deepEqual(run((c) => [...c.handshake(), c.seg(true, 'PA', 'x'), c.seg(true, 'RA')]), { state: 'RSTO', history: 'ShADR' });
  });

  it('RSTR: established, the responder aborts', () => {
    assert.deepEqual(run((c) => [...c.handshake(), c.seg(true, 'PA', 'x'), c.seg(false, 'RA')]), { state: 'RSTR', history: 'ShADr' });
  });

  it('RSTOS0: the originator sends a SYN then a RST, no SYN-ACK seen', () => {
    assert.deepEqual(run((c) => [c.seg(true, 'S'), c.seg(true, 'R')]), { state: 'RSTOS0', history: 'SR' });
  });

  it('RSTRH: the responder sends a SYN-ACK then a RST, no SYN seen', () => {
    assert.deepEqual(run((c) => [c.seg(false, 'SA'), c.seg(false, 'R')]), { state: 'RSTRH', history: 'hr' });
  });

  it('SH: the originator sends a SYN then a FIN, no SYN-ACK seen', () => {
    assert.deepEqual(run((c) => [c.seg(true, 'S'), c.seg(true, 'F')]), { state: 'SH', history: 'SF' });
  });

  it('SHR: the responder sends a SYN-ACK then a FIN, no SYN seen', () => {
    assert.deepEqual(run((c) => [c.seg(false, 'SA'), c.seg(false, 'FA')]), { state: 'SHR', history: 'hf' });
  });

  it('OTH: midstream traffic only, the client side guessed from its ephemeral port', () => {
    const h = new Harness();
    const c = new TcpConversation(LB, TARGET, 43210, 8080);
    // Prepare: a packet from the target first, so only the port heuristic can find the originator.
    h.feed([c.seg(false, 'PA', 'late response'), c.seg(true, 'A')]).finish();
    // Assess
    assert.equal(h.closed[0]?.state, 'OTH');
    assert.equal(h.closed[0]?.history, 'dA', 'the 43210 side is the originator (upper case)');
  });
});

describe('connState() follows Zeek conn_state for endpoint pairs', () => {
  it('both sides reset with no data is REJ, as in Zeek', () => {
    assert.equal(connState(EndpointState.RESET, EndpointState.RESET, 0, 0, 'SRr'), 'REJ');
  });
  it('both sides reset after data is RSTR (the responder\'s RST decides)', () => {
    assert.equal(connState(EndpointState.RESET, EndpointState.RESET, 10, 0, 'ShADRr'), 'RSTR');
  });
});
