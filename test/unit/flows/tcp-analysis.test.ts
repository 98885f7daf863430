import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TcpConversation } from '../../helpers/packet-builder.js';
import { writePcap } from '../../helpers/pcap-writer.js';
import { seqLt } from '../../../agent/flows/tcp-analysis.js';
import { Harness } from './flow-harness.js';

const conv = (isn: { c?: number; s?: number } = {}): TcpConversation => new TcpConversation('10.0.1.50', '10.0.2.100', 43210, 8080, isn);
const block = (n: number, ch = 'x'): string => ch.repeat(n);

type Figures = { retx: number; fast: number; spurious: number; dupack: number; ooo: number; zw: number; zwp: number; ka: number };
const NONE: Figures = { retx: 0, fast: 0, spurious: 0, dupack: 0, ooo: 0, zw: 0, zwp: 0, ka: 0 };

/** Only the per-segment figures, for compact comparisons. */
function figures(h: Harness): Figures {
  const s = h.table.snapshot();
  return {
    retx: s.retransmissions, fast: s.fast_retransmissions, spurious: s.spurious_retransmissions,
    dupack: s.duplicate_acks, ooo: s.out_of_order, zw: s.zero_windows, zwp: s.zero_window_probes, ka: s.keep_alives,
  };
}

/** tshark's analysis flags, in the order of Figures. */
const TSHARK_FIELDS: ReadonlyArray<readonly [keyof Figures, string]> = [
  ['retx', 'tcp.analysis.retransmission'], ['fast', 'tcp.analysis.fast_retransmission'],
  ['spurious', 'tcp.analysis.spurious_retransmission'], ['dupack', 'tcp.analysis.duplicate_ack'],
  ['ooo', 'tcp.analysis.out_of_order'], ['zw', 'tcp.analysis.zero_window'],
  ['zwp', 'tcp.analysis.zero_window_probe'], ['ka', 'tcp.analysis.keep_alive'],
];

/** Count tshark's flags on the same frames (written to a pcap), or undefined when tshark is missing. */
function tsharkFigures(h: Harness): Figures | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'flows-oracle-'));
  try {
    const file = join(dir, 'scenario.pcap');
    writePcap(file, h.fed.map((f) => ({ tsMicros: f.tsMicros, data: f.data })));
    const args = ['-r', file, '-T', 'fields', '-E', 'occurrence=f'];
    for (const [, field] of TSHARK_FIELDS) args.push('-e', field);
    let out: string;
    try {
      out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const counts: Figures = { ...NONE };
    for (const line of out.split('\n')) {
      if (line === '') continue;
      line.split('\t').forEach((v, i) => {
        const key = TSHARK_FIELDS[i]?.[0];
        if (key !== undefined && v !== '') counts[key]++;
      });
    }
    return counts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Scenario = { name: string; run: (h: Harness) => void; expect: Figures; also?: (h: Harness) => void };

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'a normal exchange has no findings',
    run: (h) => {
      const c = conv();
      h.feed([...c.handshake(), c.seg(true, 'PA', block(100)), c.seg(false, 'A'), c.seg(false, 'PA', block(300)), c.seg(true, 'A')]);
    },
    expect: NONE,
  },
  {
    name: 'the same unacknowledged segment sent again later is a retransmission (history T)',
    run: (h) => {
      const c = conv();
      h.feed(c.handshake());
      const d1 = c.seg(true, 'PA', block(100));
      h.feed(d1, 300).feed(d1);
    },
    expect: { ...NONE, retx: 1 },
    also: (h) => assert.match(h.finish().closed[0]?.history ?? '', /T/),
  },
  {
    name: 'a retransmission within 20 ms of two duplicate ACKs is a fast retransmission; the dup ACKs are counted',
    run: (h) => {
      const c = conv();
      h.feed(c.handshake());
      const d1 = c.seg(true, 'PA', block(100)); // 1001..1101
      const d2 = c.seg(true, 'PA', block(100)); // 1101..1201, lost before the capture point
      const d3 = c.seg(true, 'PA', block(100)); // 1201..1301
      const ack1101 = (): Buffer => c.seg(false, 'A', '', { ack: 1101 });
      h.feed([d1, d3, ack1101(), ack1101(), ack1101(), d2]);
    },
    expect: { ...NONE, retx: 1, fast: 1, dupack: 2 },
  },
  {
    name: 'resending data the receiver already acknowledged is a spurious retransmission',
    run: (h) => {
      const c = conv();
      h.feed(c.handshake());
      const d1 = c.seg(true, 'PA', block(100));
      h.feed([d1, c.seg(false, 'A')], 200).feed(d1);
    },
    expect: { ...NONE, retx: 1, spurious: 1 },
  },
  {
    name: 'a segment that fills a hole within 3 ms is out-of-order, not a retransmission',
    run: (h) => {
      const c = conv();
      h.feed(c.handshake());
      const d1 = c.seg(true, 'PA', block(100));
      const d2 = c.seg(true, 'PA', block(100));
      const d3 = c.seg(true, 'PA', block(100));
      h.feed([d1, d3, d2]);
    },
    expect: { ...NONE, ooo: 1 },
    also: (h) => assert.equal(h.finish().closed[0]?.bytesOrig, 300),
  },
  {
    name: 'with an initial RTT (SYN to first ACK) below 3 ms, a hole filled later than that RTT is a retransmission',
    run: (h) => {
      const c = conv();
      h.feed(c.handshake(), 0.02); // a LAN or veth handshake: 40 µs from SYN to ACK
      const d1 = c.seg(true, 'PA', block(100));
      const d2 = c.seg(true, 'PA', block(100));
      const d3 = c.seg(true, 'PA', block(100));
      h.feed(d1, 0.02).feed(d3, 1).feed(d2); // d2 1 ms after the highest segment
    },
    expect: { ...NONE, retx: 1 },
  },
  {
    name: 'zero-window advertisements and zero-window probes are counted, the probe is not a retransmission',
    run: (h) => {
      const c = conv();
      h.feed([...c.handshake(), c.seg(true, 'PA', block(100))]);
      h.feed(c.seg(false, 'A', '', { window: 0 }), 200);
      const probe = c.seg(true, 'PA', 'y'); // one byte into the closed window
      h.feed(probe, 1).feed(c.seg(false, 'A', '', { window: 0, ack: c.cseq - 1 }), 400);
      h.feed(probe, 1).feed(c.seg(false, 'A', '', { window: 0, ack: c.cseq - 1 }), 400);
      h.feed(c.seg(false, 'A', '', { window: 65535, ack: c.cseq - 1 }));
      c.cseq -= 1; // the probed byte is sent for real once the window opens
      h.feed(c.seg(true, 'PA', block(50)));
    },
    expect: { ...NONE, zw: 3, zwp: 2 },
    also: (h) => assert.match(h.finish().closed[0]?.history ?? '', /w/),
  },
  {
    name: 'keep-alives and their ACKs are neither retransmissions nor duplicate ACKs',
    run: (h) => {
      const c = conv();
      h.feed([...c.handshake(), c.seg(true, 'PA', block(10)), c.seg(false, 'A')], 100);
      for (let i = 0; i < 3; i++) h.feed(c.seg(true, 'A', '', { seq: c.cseq - 1 }), 5).feed(c.seg(false, 'A'), 10_000);
    },
    expect: { ...NONE, ka: 3 },
  },
  {
    // The endpoint times are 32-bit offsets whose base moves every ~18 minutes (conn-columns.ts, TB).
    name: 'after 80 minutes of traffic (several moves of the time base) fast retransmissions and out-of-order segments are still told apart',
    run: (h) => {
      const c = conv();
      h.feed(c.handshake());
      for (let i = 0; i < 20; i++) h.feed([c.seg(true, 'PA', block(10)), c.seg(false, 'A')], 120_000);
      const d1 = c.seg(true, 'PA', block(100));
      const d2 = c.seg(true, 'PA', block(100)); // lost before the capture point
      const d3 = c.seg(true, 'PA', block(100));
      const dupAck = (): Buffer => c.seg(false, 'A', '', { ack: c.cseq - 200 });
      h.feed([d1, d3, dupAck(), dupAck(), dupAck(), d2, c.seg(false, 'A')]);
      const e1 = c.seg(true, 'PA', block(100));
      const e2 = c.seg(true, 'PA', block(100));
      const e3 = c.seg(true, 'PA', block(100));
      h.feed([e1, e3, e2]);
    },
    expect: { ...NONE, retx: 1, fast: 1, dupack: 2, ooo: 1 },
  },
  {
    name: 'data resent 40 minutes after its sender last sent new data is a (spurious) retransmission, not out-of-order',
    run: (h) => {
      const c = conv();
      h.feed(c.handshake());
      const d1 = c.seg(true, 'PA', block(100));
      h.feed([d1, c.seg(false, 'A')]);
      // Only the server sends data from here on; the client only acknowledges.
      for (let i = 0; i < 10; i++) h.feed([c.seg(false, 'PA', block(10)), c.seg(true, 'A')], 120_000);
      h.feed(d1);
    },
    expect: { ...NONE, retx: 1, spurious: 1 },
  },
  {
    name: 'sequence numbers wrapping at 2^32 do not confuse the analysis',
    run: (h) => {
      const c = conv({ c: 0xffffff00 }); // the client's ISN is 256 below 2^32
      h.feed(c.handshake());
      const d1 = c.seg(true, 'PA', block(200));
      const d2 = c.seg(true, 'PA', block(200)); // crosses 2^32
      const d3 = c.seg(true, 'PA', block(200));
      h.feed([d1, c.seg(false, 'A', '', { ack: 0xffffff01 + 200 }), d2, d3], 50).feed(d2);
    },
    expect: { ...NONE, retx: 1 },
    also: (h) => {
      assert.equal(h.finish().closed[0]?.bytesOrig, 600);
      assert.ok(seqLt(0xfffffff0, 5), 'serial comparison across the wrap');
    },
  },
];

describe('Per-segment TCP analysis with tshark definitions', () => {
  for (const s of SCENARIOS) {
    it(s.name, () => {
      // Prepare
      const h = new Harness();
      // Act
      s.run(h);
      // Assess
      assert.deepEqual(figures(h), s.expect);
      s.also?.(h);
    });
  }
});

describe('tshark, run on the same frames, flags the same segments', () => {
  for (const s of SCENARIOS) {
    it(s.name, (t) => {
      // Prepare / Act
      const h = new Harness();
      s.run(h);
      const theirs = tsharkFigures(h);
      if (theirs === undefined) { t.skip('tshark is not installed (apt-get install tshark): oracle comparison not run'); return; }
      // Assess
      assert.deepEqual(figures(h), theirs);
    });
  }
});
