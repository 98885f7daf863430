/**
 * The capture-file source reads pcap and pcapng through libpcap (in a child process)
 * and delivers exactly the file's packets, with the file's timestamps, through the
 * same handler as live capture.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPacketSource } from '../../../agent/capture/create-packet-source.js';
import { FileSource } from '../../../agent/capture/file-source.js';
import { CaptureError, CaptureErrorCode, LinkType, type PacketSource } from '../../../agent/capture/packet-source.js';
import { ethernet, ipUdp, tcp, udp } from '../../helpers/packet-builder.js';
import { PcapWriter, writePcap, type Frame } from '../../helpers/pcap-writer.js';

type Seen = { tsMicros: number; capLen: number; wireLen: number; sha: string };

function sha(buf: Buffer, len: number): string {
  return createHash('sha1').update(buf.subarray(0, len)).digest('hex');
}

/** Read a whole source, recording every packet. */
async function readAll(source: PacketSource): Promise<Seen[]> {
  const seen: Seen[] = [];
  source.start((buf, capLen, wireLen, tsSec, tsUsec, offset) =>
    seen.push({ tsMicros: tsSec * 1_000_000 + tsUsec, capLen, wireLen, sha: sha(buf.subarray(offset), capLen) }));
  await source.done;
  return seen;
}

function expected(frames: readonly Frame[]): Seen[] {
  return frames.map((f) => ({
    tsMicros: f.tsMicros, capLen: f.data.length, wireLen: f.wireLen ?? f.data.length, sha: sha(Buffer.from(f.data), f.data.length),
  }));
}

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

const T0 = 1_764_000_000_123_456; // 2025-11-24, µs

/** An ARP frame: neither TCP nor UDP, so the analysis filter drops it. */
function arp(): Buffer {
  const f = Buffer.alloc(42);
  f.fill(0xff, 0, 6);
  f.writeUInt16BE(0x0806, 12);
  return f;
}

const FRAMES: Frame[] = [
  { tsMicros: T0, data: tcp({ src: '198.18.10.2', dst: '198.18.10.1', sport: 40000, dport: 80, flags: 'S' }) },
  { tsMicros: T0 + 1, data: udp({ src: '198.18.10.2', dst: '198.18.10.1', sport: 5000, dport: 53, payload: 'q' }) },
  { tsMicros: T0 + 2, data: arp() },
  { tsMicros: T0 + 3, data: tcp({ src: 'fd00:18:10::2', dst: 'fd00:18:10::1', sport: 40001, dport: 443, flags: 'S' }) },
  { tsMicros: T0 + 1_000_000, data: tcp({ src: '198.18.10.2', dst: '198.18.10.1', sport: 40002, dport: 80, flags: 'PA', payload: 'GET / HTTP/1.1\r\n\r\n', vlan: 42 }) },
  { tsMicros: T0 + 2_000_000, data: udp({ src: '198.18.10.2', dst: '198.18.10.1', sport: 5001, dport: 6081, vlan: 7 }) },
  // A frame cut by the capturer's snaplen: wire length larger than what is stored.
  { tsMicros: T0 + 3_000_000, data: tcp({ src: '198.18.10.1', dst: '198.18.10.2', sport: 80, dport: 40000, flags: 'SA' }), wireLen: 1514 },
];
const TCP_UDP = FRAMES.filter((_, i) => i !== 2);

describe('capture file source', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbcap-file-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('delivers every packet of a pcap file (ARP too: the decoder counts what it skips), with the file\'s timestamps and lengths', async () => {
    // Prepare
    const path = join(dir, 'mixed.pcap');
    writePcap(path, FRAMES);
    // Act
    const source = createPacketSource({ readFile: path });
    const seen = await readAll(source);
    // Assess
    assert.equal(source.engine, 'file');
    assert.equal(source.linkType, LinkType.ETHERNET);
    assert.deepEqual(seen, expected(FRAMES));
    assert.equal(source.stats(), undefined);
  });

  it('gives the same packets for the same capture as pcapng (converted by editcap)', async (t) => {
    // Prepare
    const pcap = join(dir, 'same.pcap');
    const pcapng = join(dir, 'same.pcapng');
    writePcap(pcap, FRAMES);
    try {
      execFileSync('editcap', ['-F', 'pcapng', pcap, pcapng], { stdio: 'ignore' });
    } catch {
      t.skip('editcap (wireshark-common) is not installed: cannot make a pcapng file');
      return;
    }
    assert.equal(readFileSync(pcapng).readUInt32LE(0), 0x0a0d0d0a, 'editcap wrote a pcapng section header');
    // Act
    const fromPcap = await readAll(createPacketSource({ readFile: pcap }));
    const fromPcapng = await readAll(createPacketSource({ readFile: pcapng }));
    // Assess
    assert.equal(fromPcap.length, FRAMES.length);
    assert.deepEqual(fromPcapng, fromPcap);
  });

  it('ANDs the user filter into both the untagged and the VLAN-tagged branch', async () => {
    // Prepare
    const path = join(dir, 'filter.pcap');
    writePcap(path, FRAMES);
    // Act
    const seen = await readAll(createPacketSource({ readFile: path, filter: 'port 80' }));
    // Assess: the untagged SYN, the tagged GET and the untagged SYN-ACK, nothing else.
    assert.deepEqual(seen, expected([FRAMES[0]!, FRAMES[4]!, FRAMES[6]!]));
  });

  it('reads raw-IP captures without the VLAN branch (which libpcap cannot compile there)', async () => {
    // Prepare
    const path = join(dir, 'raw.pcap');
    const frames: Frame[] = [{ tsMicros: T0, data: ipUdp({ src: '198.18.11.2', dst: '198.18.11.1', sport: 1, dport: 2 }) }];
    writePcap(path, frames, LinkType.RAW);
    // Act
    const source = createPacketSource({ readFile: path, filter: 'udp port 2' });
    const seen = await readAll(source);
    // Assess
    assert.equal(source.linkType, LinkType.RAW);
    assert.deepEqual(seen, expected(frames));
  });

  it('delivers a 100,000-byte record whole: packets larger than 64 KiB are neither cut nor overflow', async () => {
    // Prepare: a valid UDP header padded out to 100,000 bytes, as a capture with snaplen 262144 can hold.
    const big = Buffer.alloc(100_000, 0xab);
    udp({ src: '198.18.10.2', dst: '198.18.10.1', sport: 9, dport: 9 }).copy(big);
    const frames: Frame[] = [{ tsMicros: T0, data: big }, { tsMicros: T0 + 5, data: FRAMES[0]!.data }];
    const path = join(dir, 'big.pcap');
    writePcap(path, frames);
    // Act
    const seen = await readAll(createPacketSource({ readFile: path }));
    // Assess
    assert.deepEqual(seen, expected(frames));
  });

  it('reads 200,000 packets in chunks while timers keep running, then resolves done', async () => {
    // Prepare
    const path = join(dir, 'many.pcap');
    const w = new PcapWriter(path);
    const frame = udp({ src: '198.18.10.2', dst: '198.18.10.1', sport: 5000, dport: 53, payload: 'x'.repeat(100) });
    for (let i = 0; i < 200_000; i++) w.write(T0 + i * 10, frame);
    w.close();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    // Act
    let count = 0;
    let lastTs = 0;
    let monotonic = true;
    const source = createPacketSource({ readFile: path });
    source.start((_b, _c, _w, tsSec, tsUsec) => {
      const ts = tsSec * 1_000_000 + tsUsec;
      if (ts < lastTs) monotonic = false;
      lastTs = ts;
      count++;
    });
    await source.done;
    clearInterval(timer);
    // Assess
    assert.equal(count, 200_000);
    assert.equal(lastTs, T0 + 199_999 * 10);
    assert.ok(monotonic);
    assert.ok(ticks > 0, 'a 1 ms timer fired while the file was being read');
  });

  it('stops delivering at stop() and resolves done', async () => {
    // Prepare
    const path = join(dir, 'stop.pcap');
    const w = new PcapWriter(path);
    for (let i = 0; i < 100_000; i++) w.write(T0 + i, FRAMES[0]!.data);
    w.close();
    const source = createPacketSource({ readFile: path });
    let count = 0;
    // Act
    source.start(() => {
      count++;
      if (count === 1000) source.stop();
    });
    await source.done;
    // Assess
    assert.equal(count, 1000);
  });

  it('refuses a non-pcap file with BAD_FILE naming the file and libpcap\'s reason', () => {
    // Prepare
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'this is not a capture file\n');
    // Act
    const err = thrown(() => createPacketSource({ readFile: path }).start(() => undefined));
    // Assess
    assert.ok(err instanceof CaptureError);
    assert.equal(err.code, CaptureErrorCode.BAD_FILE);
    assert.equal(err.message, `cannot read capture file "${path}": unknown file format`);
  });

  it('refuses a missing file with BAD_FILE', () => {
    // Act
    const err = thrown(() => createPacketSource({ readFile: join(dir, 'none.pcap') }).start(() => undefined));
    // Assess
    assert.ok(err instanceof CaptureError);
    assert.equal(err.code, CaptureErrorCode.BAD_FILE);
    assert.equal(err.message, `cannot read capture file "${join(dir, 'none.pcap')}": no such file`);
  });

  it('refuses a bad user filter with BAD_FILTER naming the expression', () => {
    // Prepare
    const path = join(dir, 'ok.pcap');
    writePcap(path, FRAMES);
    // Act
    const err = thrown(() => createPacketSource({ readFile: path, filter: 'port eighty' }).start(() => undefined));
    // Assess
    assert.ok(err instanceof CaptureError);
    assert.equal(err.code, CaptureErrorCode.BAD_FILTER);
    // A file is filtered by the user's expression only (every other packet reaches the decoder).
    assert.ok(err.message.startsWith('bad capture filter "(port eighty) or (vlan and (port eighty))": '), err.message);
    assert.ok(!err.message.includes('\n'));
  });

  it('delivers the packets before a truncated record, then rejects done with BAD_FILE', async () => {
    // Prepare: cut the file in the middle of the last packet.
    const full = join(dir, 'full.pcap');
    writePcap(full, TCP_UDP);
    const bytes = readFileSync(full);
    const path = join(dir, 'truncated.pcap');
    writeFileSync(path, bytes.subarray(0, bytes.length - 10));
    const source = new FileSource({ path, filter: '' });
    let count = 0;
    // Act
    source.start(() => count++);
    const err = await source.done.then(() => undefined, (e: unknown) => e);
    // Assess
    assert.equal(count, TCP_UDP.length - 1);
    assert.ok(err instanceof CaptureError);
    assert.equal(err.code, CaptureErrorCode.BAD_FILE);
    assert.match(err.message, /truncated\.pcap": the file ends inside a record after 5 packets \(truncated file\)$/);
  });
});
