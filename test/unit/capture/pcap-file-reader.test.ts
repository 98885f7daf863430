/**
 * The JavaScript capture-file reader delivers exactly the packets libpcap would, from
 * classic pcap (both byte orders, µs and ns) and pcapng (both byte orders, several
 * sections and interfaces, EPB/SPB/PB, if_tsresol), and turns every truncated or
 * corrupt file into a BAD_FILE error instead of a throw from inside the loop.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileSource } from '../../../agent/capture/file-source.js';
import { CaptureError, CaptureErrorCode, LinkType } from '../../../agent/capture/packet-source.js';
import { PcapFileReader } from '../../../agent/capture/pcap-file-reader.js';
import { tcp, udp } from '../../helpers/packet-builder.js';
import { writePcap, type Frame } from '../../helpers/pcap-writer.js';

type Seen = { tsMicros: number; capLen: number; wireLen: number; sha: string };

function sha(buf: Uint8Array, len: number): string {
  return createHash('sha1').update(buf.subarray(0, len)).digest('hex');
}

function expected(frames: readonly Frame[]): Seen[] {
  return frames.map((f) => ({ tsMicros: f.tsMicros, capLen: f.data.length, wireLen: f.wireLen ?? f.data.length, sha: sha(f.data, f.data.length) }));
}

/** Open and read a whole file; the error (if any) comes back instead of being thrown. */
async function readFile(path: string, chunkBytes?: number): Promise<{ seen: Seen[]; err: unknown; reader: PcapFileReader }> {
  const reader = new PcapFileReader({ path, chunkBytes });
  const seen: Seen[] = [];
  try {
    reader.open();
  } catch (err) {
    return { seen, err, reader };
  }
  const err = await reader.run((buf, capLen, wireLen, tsSec, tsUsec, offset) =>
    seen.push({ tsMicros: tsSec * 1_000_000 + tsUsec, capLen, wireLen, sha: sha(buf.subarray(offset), capLen) }))
    .then(() => undefined, (e: unknown) => e);
  return { seen, err, reader };
}

async function readSource(source: FileSource): Promise<Seen[]> {
  const seen: Seen[] = [];
  source.start((buf, capLen, wireLen, tsSec, tsUsec, offset) =>
    seen.push({ tsMicros: tsSec * 1_000_000 + tsUsec, capLen, wireLen, sha: sha(buf.subarray(offset), capLen) }));
  await source.done;
  return seen;
}

function assertBadFile(err: unknown, path: string, reason: RegExp): void {
  assert.ok(err instanceof CaptureError, `a CaptureError, got ${String(err)}`);
  assert.equal(err.code, CaptureErrorCode.BAD_FILE);
  assert.ok(err.message.startsWith(`cannot read capture file "${path}": `), err.message);
  assert.match(err.message, reason);
  assert.ok(!err.message.includes('\n'));
}

const T0 = 1_764_000_000_123_456;
const FRAMES: Frame[] = [
  { tsMicros: T0, data: tcp({ src: '198.18.10.2', dst: '198.18.10.1', sport: 40000, dport: 80, flags: 'S' }) },
  { tsMicros: T0 + 1, data: udp({ src: '198.18.10.2', dst: '198.18.10.1', sport: 5000, dport: 53, payload: 'abc' }) },
  { tsMicros: T0 + 1_000_007, data: tcp({ src: 'fd00:18:10::2', dst: 'fd00:18:10::1', sport: 40001, dport: 443, flags: 'PA', payload: 'hello' }), wireLen: 1514 },
];

/** Classic pcap in either byte order, with µs or ns timestamps. */
function pcapBytes(frames: readonly Frame[], opts: { le: boolean; nanos: boolean; linkType?: number; snaplen?: number }): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  const w32 = (b: Buffer, v: number, o: number): number => (opts.le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  const w16 = (b: Buffer, v: number, o: number): number => (opts.le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
  w32(h, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0); w16(h, 2, 4); w16(h, 4, 6);
  w32(h, opts.snaplen ?? 65535, 16); w32(h, opts.linkType ?? LinkType.ETHERNET, 20);
  parts.push(h);
  for (const f of frames) {
    const r = Buffer.alloc(16);
    const sec = Math.floor(f.tsMicros / 1e6);
    const us = f.tsMicros - sec * 1e6;
    w32(r, sec, 0); w32(r, opts.nanos ? us * 1000 + 999 : us, 4); // +999 ns: the reader truncates to µs
    w32(r, f.data.length, 8); w32(r, f.wireLen ?? f.data.length, 12);
    parts.push(r, Buffer.from(f.data));
  }
  return Buffer.concat(parts);
}

/** pcapng blocks, built in either byte order. */
class Ng {
  readonly parts: Buffer[] = [];
  constructor(readonly le: boolean) {}
  #w32(b: Buffer, v: number, o: number): void {
    if (this.le) b.writeUInt32LE(v >>> 0, o); else b.writeUInt32BE(v >>> 0, o);
  }
  #w16(b: Buffer, v: number, o: number): void {
    if (this.le) b.writeUInt16LE(v, o); else b.writeUInt16BE(v, o);
  }
  block(type: number, body: Buffer): this {
    const pad = (4 - (body.length % 4)) % 4;
    const len = 12 + body.length + pad;
    const b = Buffer.alloc(len);
    this.#w32(b, type, 0); this.#w32(b, len, 4);
    body.copy(b, 8);
    this.#w32(b, len, len - 4);
    this.parts.push(b);
    return this;
  }
  shb(): this {
    const body = Buffer.alloc(16);
    this.#w32(body, 0x1a2b3c4d, 0); this.#w16(body, 1, 4); this.#w16(body, 0, 6);
    body.fill(0xff, 8, 16); // section length unknown (-1)
    return this.block(0x0a0d0d0a, body);
  }
  idb(linkType: number, snaplen: number, tsresol?: number): this {
    // A comment option first (so the reader must walk the options), then if_tsresol, then the end.
    const full = Buffer.alloc(tsresol === undefined ? 8 : 8 + 8 + 8 + 4);
    this.#w16(full, linkType, 0); this.#w32(full, snaplen, 4);
    if (tsresol !== undefined) {
      this.#w16(full, 1, 8); this.#w16(full, 1, 10); full[12] = 0x41;
      this.#w16(full, 9, 16); this.#w16(full, 1, 18); full[20] = tsresol;
    }
    return this.block(1, full);
  }
  epb(ifId: number, ts: bigint, f: Frame, opts = Buffer.alloc(0)): this {
    const data = Buffer.from(f.data);
    const padded = data.length + ((4 - (data.length % 4)) % 4);
    const body = Buffer.alloc(20 + padded + opts.length);
    this.#w32(body, ifId, 0); this.#w32(body, Number(ts >> 32n), 4); this.#w32(body, Number(ts & 0xffffffffn), 8);
    this.#w32(body, data.length, 12); this.#w32(body, f.wireLen ?? data.length, 16);
    data.copy(body, 20);
    opts.copy(body, 20 + padded);
    return this.block(6, body);
  }
  pb(ifId: number, ts: bigint, f: Frame): this {
    const data = Buffer.from(f.data);
    const body = Buffer.alloc(20 + data.length);
    this.#w16(body, ifId, 0); this.#w32(body, Number(ts >> 32n), 4); this.#w32(body, Number(ts & 0xffffffffn), 8);
    this.#w32(body, data.length, 12); this.#w32(body, f.wireLen ?? data.length, 16);
    data.copy(body, 20);
    return this.block(2, body);
  }
  spb(f: Frame): this {
    const data = Buffer.from(f.data);
    const body = Buffer.alloc(4 + data.length);
    this.#w32(body, f.wireLen ?? data.length, 0);
    data.copy(body, 4);
    return this.block(3, body);
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

describe('pcap file reader', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lbcap-reader-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, bytes: Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };

  it('reads a microsecond pcap written by the test writer, with its link type, timestamps and lengths', async () => {
    // Prepare
    const path = join(dir, 'us.pcap');
    writePcap(path, FRAMES);
    // Act
    const { seen, err, reader } = await readFile(path);
    // Assess
    assert.equal(err, undefined);
    assert.equal(reader.linkType, LinkType.ETHERNET);
    assert.equal(reader.format, 'pcap');
    assert.deepEqual(seen, expected(FRAMES));
  });

  for (const le of [true, false]) {
    for (const nanos of [false, true]) {
      it(`reads a ${le ? 'little' : 'big'}-endian ${nanos ? 'nanosecond' : 'microsecond'} pcap, timestamps in µs`, async () => {
        // Prepare
        const path = write(`o-${le}-${nanos}.pcap`, pcapBytes(FRAMES, { le, nanos, linkType: LinkType.ETHERNET }));
        // Act
        const { seen, err, reader } = await readFile(path);
        // Assess
        assert.equal(err, undefined);
        assert.equal(reader.linkType, LinkType.ETHERNET);
        assert.deepEqual(seen, expected(FRAMES));
      });
    }
  }

  for (const le of [true, false]) {
    it(`reads ${le ? 'little' : 'big'}-endian pcapng: EPB, SPB, obsolete PB, unknown blocks skipped, two sections`, async () => {
      // Prepare: section 1 with the default resolution (µs); section 2 (same byte order) in ns.
      const ng = new Ng(le).shb().block(0x0bad, Buffer.from('custom')).idb(LinkType.ETHERNET, 0)
        .epb(0, BigInt(T0), FRAMES[0]!)
        .block(5, Buffer.alloc(20)) // interface statistics: skipped
        .pb(0, BigInt(T0 + 1), FRAMES[1]!)
        .shb().idb(LinkType.ETHERNET, 65535, 9)
        .epb(0, BigInt(FRAMES[2]!.tsMicros) * 1000n + 999n, FRAMES[2]!, Buffer.from([1, 0, 4, 0, 0x61, 0x62, 0x63, 0x64, 0, 0, 0, 0]))
        .spb(FRAMES[0]!);
      const path = write(`ng-${le}.pcapng`, ng.bytes());
      // Act
      const { seen, err, reader } = await readFile(path);
      // Assess: an SPB has no timestamp (0, as libpcap gives).
      assert.equal(err, undefined);
      assert.equal(reader.format, 'pcapng');
      assert.equal(reader.linkType, LinkType.ETHERNET);
      assert.deepEqual(seen, expected([...FRAMES, { ...FRAMES[0]!, tsMicros: 0 }]));
    });
  }

  it('converts if_tsresol: milliseconds, nanoseconds (exactly, above 2^53) and a power of two', async () => {
    // Prepare
    const ts = (BigInt(T0) * 1000n) + 123n; // ns, > 2^53
    const ng = new Ng(true).shb()
      .idb(LinkType.ETHERNET, 0, 3) // 0: ms
      .idb(LinkType.ETHERNET, 0, 9) // 1: ns
      .idb(LinkType.ETHERNET, 0, 0x80 | 10) // 2: 1/1024 s
      .epb(0, 1_764_000_000_123n, FRAMES[0]!)
      .epb(1, ts, FRAMES[0]!)
      .epb(2, 1_764_000_000n * 1024n + 512n, FRAMES[0]!);
    const path = write('tsresol.pcapng', ng.bytes());
    // Act
    const { seen, err } = await readFile(path);
    // Assess
    assert.equal(err, undefined);
    assert.deepEqual(seen.map((s) => s.tsMicros), [1_764_000_000_123_000, T0, 1_764_000_000_500_000]);
  });

  it('delivers only the packets of the first interface\'s link type and counts the others', async () => {
    // Prepare
    const ng = new Ng(true).shb().idb(LinkType.ETHERNET, 0).idb(LinkType.RAW, 0)
      .epb(0, BigInt(T0), FRAMES[0]!).epb(1, BigInt(T0 + 1), FRAMES[1]!).epb(0, BigInt(T0 + 2), FRAMES[2]!);
    const path = write('two-links.pcapng', ng.bytes());
    // Act
    const { seen, err, reader } = await readFile(path);
    // Assess
    assert.equal(err, undefined);
    assert.equal(reader.linkType, LinkType.ETHERNET);
    assert.deepEqual(seen.map((s) => s.tsMicros), [T0, T0 + 2]);
    assert.equal(reader.otherLinkTypePackets, 1);
  });

  it('delivers records split across small chunks and skips an unknown block longer than a chunk', async () => {
    // Prepare: the minimum chunk is 2 × (262144 + 64) bytes; a 600,000-byte custom block spans two.
    const many: Frame[] = Array.from({ length: 5000 }, (_, i) => ({ tsMicros: T0 + i, data: FRAMES[i % 3]!.data, wireLen: FRAMES[i % 3]!.wireLen }));
    const ng = new Ng(false).shb().idb(LinkType.ETHERNET, 0).block(0x0bad, Buffer.alloc(1_200_000, 7));
    for (const f of many) ng.epb(0, BigInt(f.tsMicros), f);
    const path = write('chunks.pcapng', ng.bytes());
    // Act
    const { seen, err } = await readFile(path, 1);
    // Assess
    assert.equal(err, undefined);
    assert.deepEqual(seen, expected(many));
  });

  it('cut at every byte: never throws from the loop, delivers every whole record, and fails with BAD_FILE exactly when cut inside one', async () => {
    // Prepare
    const pcap = pcapBytes(FRAMES, { le: true, nanos: false });
    const ng = new Ng(true).shb().idb(LinkType.ETHERNET, 0)
      .epb(0, BigInt(T0), FRAMES[0]!).epb(0, BigInt(T0 + 1), FRAMES[1]!).epb(0, BigInt(FRAMES[2]!.tsMicros), FRAMES[2]!).bytes();
    for (const [name, full, headerBytes] of [['cut.pcap', pcap, 24], ['cut.pcapng', ng, 28 + 20]] as const) {
      const ends: number[] = []; // offsets where a record ends
      let off = headerBytes;
      for (const f of FRAMES) {
        off += (name.endsWith('ng') ? 32 + f.data.length + ((4 - (f.data.length % 4)) % 4) : 16 + f.data.length);
        ends.push(off);
      }
      assert.equal(ends.at(-1), full.length);
      for (let cut = 0; cut <= full.length; cut++) {
        const path = write(name, full.subarray(0, cut));
        // Act
        const { seen, err } = await readFile(path);
        // Assess
        const whole = ends.filter((e) => e <= cut).length;
        if (cut < headerBytes) {
          assertBadFile(err, path, /empty file|unknown file format|truncated file header|no Interface Description Block/);
          assert.equal(seen.length, 0);
          continue;
        }
        assert.deepEqual(seen, expected(FRAMES.slice(0, whole)), `cut at ${cut}`);
        if (cut === headerBytes || ends.includes(cut)) assert.equal(err, undefined, `cut at ${cut}`);
        else assertBadFile(err, path, new RegExp(`ends inside a record after ${whole} packets \\(truncated file\\)$`));
      }
    }
  });

  it('refuses garbage, empty and unreadable files with a one-line BAD_FILE naming the file', async () => {
    // Prepare
    const garbage = write('garbage.bin', Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const empty = write('empty.pcap', Buffer.alloc(0));
    // Act
    const results = await Promise.all([garbage, empty, join(dir, 'missing.pcap'), dir].map((p) => readFile(p)));
    // Assess
    assertBadFile(results[0]!.err, garbage, /": unknown file format$/);
    assertBadFile(results[1]!.err, empty, /": empty file$/);
    assertBadFile(results[2]!.err, join(dir, 'missing.pcap'), /": no such file$/);
    assertBadFile(results[3]!.err, dir, /EISDIR/);
  });

  it('refuses records larger than the snaplen or than 262144 bytes as corrupt, after the good ones', async () => {
    // Prepare
    const small = write('snaplen.pcap', pcapBytes(FRAMES, { le: true, nanos: false, snaplen: 60 }));
    const huge = pcapBytes([FRAMES[0]!], { le: false, nanos: false, snaplen: 0 });
    const hugeRecord = Buffer.alloc(16);
    hugeRecord.writeUInt32BE(300_000, 8);
    const big = write('huge.pcap', Buffer.concat([huge, hugeRecord, Buffer.alloc(64)]));
    const ng = write('huge.pcapng', new Ng(true).shb().idb(LinkType.ETHERNET, 64).epb(0, 0n, FRAMES[2]!).bytes());
    // Act
    const [a, b, c] = await Promise.all([readFile(small), readFile(big), readFile(ng)]);
    // Assess: FRAMES[0] is 54 bytes, FRAMES[1] 45, FRAMES[2] (IPv6) larger than 60.
    assert.equal(a.seen.length, 2);
    assertBadFile(a.err, small, /corrupt file: a record of \d+ bytes is larger than the snaplen 60 after 2 packets$/);
    assert.equal(b.seen.length, 1);
    assertBadFile(b.err, big, /corrupt file: a record of 300000 bytes is larger than the snaplen 262144 after 1 packets$/);
    assertBadFile(c.err, ng, /larger than the snaplen 64/);
  });

  it('gives the same packets as libpcap for pcapng and nanosecond pcap made by editcap', async (t) => {
    // Prepare
    const src = join(dir, 'src.pcap');
    writePcap(src, FRAMES);
    const made: string[] = [];
    for (const [fmt, name] of [['pcapng', 'e.pcapng'], ['nsecpcap', 'e-ns.pcap']] as const) {
      try {
        execFileSync('editcap', ['-F', fmt, src, join(dir, name)], { stdio: 'ignore' });
      } catch {
        t.skip('editcap (wireshark-common) is not installed: cannot convert the capture');
        return;
      }
      made.push(join(dir, name));
    }
    for (const path of made) {
      // Act: the JS reader (no filter) and libpcap in the child process (a filter that keeps all).
      const js = await readSource(new FileSource({ path, filter: '' }));
      const libpcap = await readSource(new FileSource({ path, filter: 'len >= 0' }));
      // Assess
      assert.deepEqual(js, expected(FRAMES), path);
      assert.deepEqual(js, libpcap, path);
    }
  });

  it('counts the same packets and bytes as tshark on a pcapng file', async (t) => {
    // Prepare
    const src = join(dir, 'ts.pcap');
    writePcap(src, FRAMES);
    const path = join(dir, 'ts.pcapng');
    let fields = '';
    try {
      execFileSync('editcap', ['-F', 'pcapng', src, path], { stdio: 'ignore' });
      fields = execFileSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.cap_len', '-e', 'frame.len'], { encoding: 'utf8' });
    } catch {
      t.skip('tshark/editcap are not installed');
      return;
    }
    // Act
    const { seen, err } = await readFile(path);
    // Assess
    assert.equal(err, undefined);
    assert.equal(fields.trim(), seen.map((s) => `${s.capLen}\t${s.wireLen}`).join('\n'));
    assert.ok(readFileSync(path).length > 0);
  });
});
