import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TcpConversation, tcpFlags } from '../../helpers/packet-builder.js';
import { sampleHash4 } from '../../../agent/flows/flow-hash.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePcap } from '../../helpers/pcap-writer.js';
import { Harness } from './flow-harness.js';

const TARGET = '10.0.2.100';
const Kind = { CLEAN: 0, RESET_BY_TARGET: 1, RESET_BY_PEER: 2, REFUSED: 3, UNANSWERED: 4, RETRANSMITTING: 5 } as const;
const KINDS = 6;

type Flow = { kind: number; sport: number; client: string; frames: Array<{ f: Buffer; gapMs: number }> };

/** One flow of each kind in turn: clean, resets by each side, refused, unanswered (2 retries), 3 retransmissions. */
function workload(n: number): Flow[] {
  const flows: Flow[] = [];
  for (let i = 0; i < n; i++) {
    const kind = i % KINDS;
    const client = `198.18.${(i >> 8) & 255}.${i & 255}`;
    const sport = 32768 + ((i * 7919) % 28000);
    const c = new TcpConversation(client, TARGET, sport, 8080, { c: (i * 2654435761) >>> 0, s: (i * 40503) >>> 0 });
    const frames: Array<{ f: Buffer; gapMs: number }> = [];
    const add = (f: Buffer, gapMs = 1): void => { frames.push({ f, gapMs }); };
    if (kind === Kind.REFUSED) { add(c.seg(true, 'S')); add(c.seg(false, 'RA')); }
    else if (kind === Kind.UNANSWERED) { const syn = c.seg(true, 'S'); add(syn, 1000); add(syn, 2000); add(syn); }
    else {
      for (const f of c.handshake()) add(f);
      const d = c.seg(true, 'PA', 'GET / HTTP/1.1\r\n\r\n');
      add(d, 300);
      if (kind === Kind.RETRANSMITTING) { add(d, 300); add(d, 300); add(d, 300); }
      add(c.seg(false, 'A'));
      add(c.seg(false, 'PA', 'HTTP/1.1 200 OK\r\n\r\n'));
      if (kind === Kind.RESET_BY_TARGET) add(c.seg(false, 'RA'));
      else if (kind === Kind.RESET_BY_PEER) add(c.seg(true, 'RA'));
      else { add(c.seg(true, 'FA')); add(c.seg(false, 'FA')); add(c.seg(true, 'A')); }
    }
    flows.push({ kind, sport, client, frames });
  }
  return flows;
}

const CONTROL = tcpFlags('SFR');

/**
 * Interleave the flows (each starts 5 ms after the previous) and feed them in
 * time order. With `kernelFilter`, unsampled flows lose their pure ACKs, as a
 * BPF filter that keeps only control and payload segments would drop them.
 */
function replay(flows: readonly Flow[], sample: number, kernelFilter: boolean): Harness {
  const h = new Harness({ sample, maxConnections: Math.max(16, flows.length) });
  const timeline: Array<{ at: number; f: Buffer; keep: boolean }> = [];
  flows.forEach((flow, i) => {
    let at = i * 5;
    const sampled = sampleHash4(ipv4(flow.client), ipv4(TARGET), flow.sport, 8080) % sample === 0;
    for (const { f, gapMs } of flow.frames) {
      const flags = f[14 + 20 + 13] ?? 0;
      const payload = f.length - 14 - 20 - 20;
      const keep = !kernelFilter || sampled || (flags & CONTROL) !== 0 || payload > 0;
      timeline.push({ at, f, keep });
      at += gapMs;
    }
  });
  timeline.sort((a, b) => a.at - b.at);
  for (const { at, f, keep } of timeline) {
    if (at > h.nowMs) h.wait(at - h.nowMs);
    if (keep) h.feed(f, 0);
  }
  h.wait(10_000).finish();
  return h;
}

function ipv4(s: string): number {
  return s.split('.').reduce((a, b) => a * 256 + Number(b), 0);
}

describe('Sampling (-s N) keeps error counts exact and sampled flows whole', () => {
  const flows = workload(600);
  const exact = (h: Harness): number[] => {
    const s = h.table.snapshot();
    return [s.resets_by_target, s.resets_by_peer, s.refused, s.unanswered, s.syn_retries, s.handshake_abandoned, h.sink.events.length];
  };

  it('resets, refusals and unanswered SYNs are the same at -s 1, 10 and 100, with and without kernel thinning', () => {
    // Act
    const full = replay(flows, 1, false);
    // Assess: the workload's own truth first.
    assert.deepEqual(exact(full), [100, 100, 100, 100, 200, 0, 400]);
    for (const n of [10, 100]) {
      for (const filtered of [false, true]) {
        assert.deepEqual(exact(replay(flows, n, filtered)), exact(full), `-s ${n}${filtered ? ' with kernel thinning' : ''}`);
      }
    }
  });

  it('the snapshot says which figures are sampled', () => {
    assert.deepEqual(replay(flows.slice(0, 6), 1, false).table.snapshot().sampled_figures, []);
    assert.ok(replay(flows.slice(0, 6), 10, false).table.snapshot().sampled_figures.includes('retransmissions'));
  });

  it('for the sampled flows the retransmission count equals the unsampled one', () => {
    // Prepare: the per-flow truth at -s 1 (3 data retransmissions per retransmitting flow, 2 per unanswered SYN).
    const perFlow = flows.map((f) => replay([f], 1, false).table.snapshot().retransmissions);
    assert.equal(perFlow.reduce((a, b) => a + b, 0), 100 * 3 + 100 * 2);
    for (const n of [10, 100]) {
      // Act
      const s = replay(flows, n, true).table.snapshot();
      // Assess
      const expected = flows.reduce((sum, f, i) =>
        sum + (sampleHash4(ipv4(f.client), ipv4(TARGET), f.sport, 8080) % n === 0 ? (perFlow[i] ?? 0) : 0), 0);
      assert.ok(expected > 0, `some retransmitting flows are sampled at -s ${n}`);
      assert.equal(s.retransmissions, expected, `-s ${n}`);
    }
  });

  it('at -s 1 the retransmission count is the one tshark finds in the same traffic', (t) => {
    // Prepare
    const h = replay(flows, 1, false);
    const dir = mkdtempSync(join(tmpdir(), 'flows-oracle-'));
    try {
      const file = join(dir, 'workload.pcap');
      writePcap(file, h.fed);
      // Act
      let out: string;
      try {
        out = execFileSync('tshark', ['-r', file, '-Y', 'tcp.analysis.retransmission', '-T', 'fields', '-e', 'frame.number'],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') { t.skip('tshark is not installed (apt-get install tshark): oracle not run'); return; }
        throw err;
      }
      // Assess
      const theirs = out.split('\n').filter((l) => l !== '').length;
      assert.equal(h.table.snapshot().retransmissions, theirs);
      assert.equal(theirs, 500);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
