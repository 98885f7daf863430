/**
 * A plain JavaScript reader for capture files: classic pcap (both byte orders, µs and
 * ns timestamps) and pcapng (SHB in both byte orders, several sections, IDB with
 * if_tsresol, EPB, SPB and the obsolete PB; every other block is skipped by its length).
 *
 * Why not libpcap: node_pcap's binding cannot dispatch a file in pieces, so it needs a
 * child process and a pipe (~0.57M pkt/s); reading 1 MiB chunks here and copying each
 * record into one reused Buffer delivers several million packets per second on one core,
 * allocating nothing per packet. It yields to the event loop between chunks so timers
 * and SIGINT/SIGTERM keep working.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { badFileError } from './capture-errors.js';
import { CaptureError, type PacketHandler } from './packet-source.js';

/** Largest record accepted, as libpcap's MAXIMUM_SNAPLEN (pcap-int.h). */
export const MAX_RECORD_BYTES = 262144;
/**
 * Bytes read per chunk: 512 KiB (a little more, to hold two records of the largest size).
 * The chunk is resident for the whole run, so it counts against the RSS budget (issue 6).
 * Measured on the 1M-packet benchmark file: 1 MiB chunks read as fast as 16 MiB ones
 * (~0.2 s either way: a read per chunk is nothing, and a smaller buffer stays in cache)
 * and saved 15 MiB of RSS; 512 KiB ones as fast again and 0.5 MiB less.
 */
export const DEFAULT_CHUNK_BYTES = 512 * 1024;
/**
 * Bytes of records delivered between two yields to the event loop: with the whole
 * analysis on top (~1 µs per packet) a 1 MiB slice of small packets is a few ms, so
 * timers and signals are never held up for long; a yield costs a few µs.
 */
const SLICE_BYTES = 1024 * 1024;

export const CaptureFileFormat = { PCAP: 'pcap', PCAPNG: 'pcapng' } as const;
export type CaptureFileFormat = (typeof CaptureFileFormat)[keyof typeof CaptureFileFormat];

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAP_HEADER_BYTES = 24;
const PCAP_RECORD_HEADER_BYTES = 16;

const BlockType = { SHB: 0x0a0d0d0a, IDB: 1, PB: 2, SPB: 3, EPB: 6 } as const;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_IF_TSRESOL = 9;
/** Smallest pcapng block: type, length, trailing length. */
const MIN_BLOCK_BYTES = 12;

type Iface = { linkType: number; snaplen: number; /** tsMicros = floor(ts / div) or ts * mul */ div: number; mul: number; binary: boolean };

export type PcapFileReaderOptions = Readonly<{ path: string; chunkBytes?: number | undefined }>;

function u32(b: Buffer, o: number, le: boolean): number {
  return le ? b.readUInt32LE(o) : b.readUInt32BE(o);
}
function u16(b: Buffer, o: number, le: boolean): number {
  return le ? b.readUInt16LE(o) : b.readUInt16BE(o);
}

/** Timestamp conversion for an IDB's if_tsresol byte (pcapng spec §4.2: MSB 0 = 10^-n, 1 = 2^-n). */
function ifaceFor(linkType: number, snaplen: number, tsresol: number): Iface {
  const n = tsresol & 0x7f;
  if (tsresol & 0x80) return { linkType, snaplen, div: 2 ** n, mul: 1, binary: true };
  if (n >= 6) return { linkType, snaplen, div: 10 ** (n - 6), mul: 1, binary: false };
  return { linkType, snaplen, div: 1, mul: 10 ** (6 - n), binary: false };
}

/** 64-bit timestamp (hi, lo) in the interface's units → µs, exact for decimal resolutions down to ps. */
function toMicros(hi: number, lo: number, i: Iface): number {
  if (i.binary) return Math.floor(((hi * 4294967296 + lo) * 1e6) / i.div);
  if (i.div === 1) return (hi * 4294967296 + lo) * i.mul;
  // (hi·2^32 + lo) / d without losing precision above 2^53: 2^32 = a·d + r.
  const a = Math.floor(4294967296 / i.div);
  const r = 4294967296 - a * i.div;
  return hi * a + Math.floor((hi * r + lo) / i.div);
}

/**
 * Reads one file. open() (synchronous) checks the format and finds the link type;
 * run() delivers every packet through the handler, chunk by chunk, and resolves after
 * the last one, or rejects with CaptureError BAD_FILE (truncated or corrupt file).
 */
export class PcapFileReader {
  readonly path: string;
  #fd = -1;
  #buf: Buffer;
  /** Valid bytes are #buf[#pos, #end). */
  #pos = 0;
  #end = 0;
  #eof = false;
  /** Bytes of an over-long unknown pcapng block still to skip. */
  #skip = 0;
  #format: CaptureFileFormat = CaptureFileFormat.PCAP;
  #le = true;
  #nanos = false;
  #snaplen = MAX_RECORD_BYTES;
  #linkType = -1;
  #ifaces: Iface[] = [];
  #stopped = false;
  #packets = 0;
  #otherLinkType = 0;

  constructor(opts: PcapFileReaderOptions) {
    this.path = opts.path;
    const chunk = Math.max(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, 2 * (MAX_RECORD_BYTES + 64));
    this.#buf = Buffer.alloc(chunk);
  }

  get linkType(): number {
    return this.#linkType;
  }
  get format(): CaptureFileFormat {
    return this.#format;
  }
  /** Packets delivered so far. */
  get packets(): number {
    return this.#packets;
  }
  /**
   * pcapng packets not delivered because their interface's link type differs from the
   * first interface's: a PacketSource has a single link type.
   */
  get otherLinkTypePackets(): number {
    return this.#otherLinkType;
  }

  /** Open the file and read its header; throws CaptureError BAD_FILE. */
  open(): void {
    try {
      this.#fd = openSync(this.path, 'r');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw badFileError(this.path, e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied (EACCES)' : e.message);
    }
    try {
      this.#fill();
      this.#readHeader();
    } catch (err) {
      this.close();
      if (err instanceof CaptureError) throw err;
      throw badFileError(this.path, (err as Error).message);
    }
  }

  /**
   * Deliver every packet; resolves after the last one, rejects with BAD_FILE. The first
   * packet comes after start() has returned, and the event loop runs between slices.
   */
  run(onPacket: PacketHandler): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const step = (): void => {
        try {
          if (this.#stopped) return this.#settle(resolve);
          const sliceEnd = this.#pos + SLICE_BYTES;
          if (this.#format === CaptureFileFormat.PCAP) this.#pcapRecords(onPacket, sliceEnd);
          else this.#pcapngBlocks(onPacket, sliceEnd);
          if (this.#stopped) return this.#settle(resolve);
          if (this.#pos < sliceEnd) {
            // No whole record left in the buffer: read on, or end.
            if (this.#eof && this.#skip === 0 && this.#pos === this.#end) return this.#settle(resolve);
            if (this.#eof) {
              throw badFileError(this.path, `the file ends inside a record after ${this.#packets} packets (truncated file)`);
            }
            this.#fill();
          }
          setImmediate(step);
        } catch (err) {
          this.close();
          reject(err instanceof CaptureError ? err : badFileError(this.path, (err as Error).message));
        }
      };
      setImmediate(step);
    });
  }

  /** Stop delivering, even from inside the handler; run() resolves. */
  stop(): void {
    this.#stopped = true;
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }

  #settle(resolve: () => void): void {
    this.close();
    resolve();
  }

  #corrupt(what: string): CaptureError {
    return badFileError(this.path, `corrupt file: ${what} after ${this.#packets} packets`);
  }

  /** Keep the unread tail, then read until the buffer is full or the file ends. */
  #fill(): void {
    const buf = this.#buf;
    if (this.#pos > 0) {
      buf.copyWithin(0, this.#pos, this.#end);
      this.#end -= this.#pos;
      this.#pos = 0;
    }
    while (this.#end < buf.length && !this.#eof) {
      const n = readSync(this.#fd, buf, this.#end, buf.length - this.#end, null);
      if (n === 0) this.#eof = true;
      this.#end += n;
    }
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, this.#end - this.#pos);
      this.#pos += n;
      this.#skip -= n;
    }
  }

  #readHeader(): void {
    const buf = this.#buf;
    const avail = this.#end;
    if (avail < 4) throw badFileError(this.path, avail === 0 ? 'empty file' : 'unknown file format');
    const magicLe = buf.readUInt32LE(0);
    const magicBe = buf.readUInt32BE(0);
    if (magicLe === BlockType.SHB) {
      this.#format = CaptureFileFormat.PCAPNG;
      // Blocks before the first IDB carry no packets; read up to it to learn the link type.
      while (this.#linkType < 0) {
        const len = this.#block(() => undefined);
        if (len === 0) {
          throw badFileError(this.path, this.#eof && this.#pos === this.#end
            ? 'the file has no Interface Description Block' : 'truncated file header');
        }
      }
      return;
    }
    if (magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS) this.#le = true;
    else if (magicBe === PCAP_MAGIC_US || magicBe === PCAP_MAGIC_NS) this.#le = false;
    else throw badFileError(this.path, 'unknown file format');
    this.#nanos = (this.#le ? magicLe : magicBe) === PCAP_MAGIC_NS;
    if (avail < PCAP_HEADER_BYTES) throw badFileError(this.path, 'truncated file header');
    const snaplen = u32(buf, 16, this.#le);
    // 0 and absurd values mean "no limit" to libpcap; the absolute limit still applies.
    this.#snaplen = snaplen === 0 || snaplen > MAX_RECORD_BYTES ? MAX_RECORD_BYTES : snaplen;
    this.#linkType = u32(buf, 20, this.#le) & 0x03ff_ffff; // the top bits are FCS length flags
    this.#pos = PCAP_HEADER_BYTES;
  }

  /** Deliver the complete classic pcap records in the buffer that start before sliceEnd. */
  #pcapRecords(onPacket: PacketHandler, sliceEnd: number): void {
    const buf = this.#buf;
    const end = this.#end;
    const le = this.#le;
    const nanos = this.#nanos;
    const snaplen = this.#snaplen;
    let pos = this.#pos;
    while (pos + PCAP_RECORD_HEADER_BYTES <= end && pos < sliceEnd && !this.#stopped) {
      const capLen = u32(buf, pos + 8, le);
      if (capLen > snaplen) {
        this.#pos = pos;
        throw this.#corrupt(`a record of ${capLen} bytes is larger than the snaplen ${snaplen}`);
      }
      const data = pos + PCAP_RECORD_HEADER_BYTES;
      if (data + capLen > end) break;
      const sec = u32(buf, pos, le);
      const frac = u32(buf, pos + 4, le);
      const wireLen = u32(buf, pos + 12, le);
      pos = data + capLen;
      this.#pos = pos;
      this.#packets++;
      // In place: the handler reads buf[data, data + capLen) and keeps nothing.
      onPacket(buf, capLen, wireLen, sec, nanos ? Math.floor(frac / 1000) : frac, data);
    }
    this.#pos = pos;
  }

  #pcapngBlocks(onPacket: PacketHandler, sliceEnd: number): void {
    while (this.#pos < sliceEnd && !this.#stopped && this.#skip === 0 && this.#block(onPacket) > 0);
  }

  /**
   * Handle the pcapng block at #pos when it is whole in the buffer: returns its length,
   * or 0 when more bytes are needed.
   */
  #block(onPacket: PacketHandler): number {
    const buf = this.#buf;
    const pos = this.#pos;
    const avail = this.#end - pos;
    if (avail < MIN_BLOCK_BYTES) return 0;
    let le = this.#le;
    const type = buf.readUInt32LE(pos); // SHB's type is a palindrome; others need the order
    if (type === BlockType.SHB) {
      const m = buf.readUInt32LE(pos + 8);
      if (m === BYTE_ORDER_MAGIC) le = true;
      else if (buf.readUInt32BE(pos + 8) === BYTE_ORDER_MAGIC) le = false;
      else throw this.#corrupt('bad byte-order magic in a section header');
    }
    const t = type === BlockType.SHB ? type : u32(buf, pos, le);
    const len = u32(buf, pos + 4, le);
    if (len < MIN_BLOCK_BYTES || len % 4 !== 0) throw this.#corrupt(`a block of ${len} bytes`);
    const isKnown = t === BlockType.SHB || t === BlockType.IDB || t === BlockType.EPB || t === BlockType.SPB || t === BlockType.PB;
    if (len > avail) {
      if (isKnown && len > this.#buf.length / 2) throw this.#corrupt(`a block of ${len} bytes`);
      if (!isKnown && pos === 0 && this.#end === this.#buf.length) {
        // An unknown block longer than the buffer: skip it across reads.
        this.#skip = len - avail;
        this.#pos = this.#end;
        return 0;
      }
      return 0;
    }
    if (u32(buf, pos + len - 4, le) !== len) throw this.#corrupt('block lengths disagree');
    switch (t) {
      case BlockType.SHB:
        this.#le = le;
        this.#ifaces = [];
        break;
      case BlockType.IDB:
        this.#idb(pos, len, le);
        break;
      case BlockType.EPB:
      case BlockType.PB: {
        const ifId = t === BlockType.EPB ? u32(buf, pos + 8, le) : u16(buf, pos + 8, le);
        const iface = this.#iface(ifId);
        const capLen = u32(buf, pos + 20, le);
        this.#checkCapLen(capLen, iface, len - 32);
        this.#deliver(onPacket, iface, pos + 28, capLen, u32(buf, pos + 24, le), toMicros(u32(buf, pos + 12, le), u32(buf, pos + 16, le), iface));
        break;
      }
      case BlockType.SPB: {
        const iface = this.#iface(0);
        const wireLen = u32(buf, pos + 8, le);
        // The SPB has no captured length: it is the wire length cut to the snaplen (spec §4.4).
        const capLen = Math.min(wireLen, iface.snaplen === 0 ? MAX_RECORD_BYTES : iface.snaplen, len - 16);
        this.#checkCapLen(capLen, iface, len - 16);
        this.#deliver(onPacket, iface, pos + 12, capLen, wireLen, 0);
        break;
      }
      default:
        break; // NRB, ISB, DSB, custom blocks...: nothing the analysis needs
    }
    this.#pos = pos + len;
    return len;
  }

  #idb(pos: number, len: number, le: boolean): void {
    const buf = this.#buf;
    const linkType = u16(buf, pos + 8, le);
    const snaplen = u32(buf, pos + 12, le);
    let tsresol = 6;
    let o = pos + 16;
    const optEnd = pos + len - 4;
    while (o + 4 <= optEnd) {
      const code = u16(buf, o, le);
      const olen = u16(buf, o + 2, le);
      if (code === 0) break;
      if (code === OPT_IF_TSRESOL && olen >= 1 && o + 4 < optEnd) tsresol = buf[o + 4] ?? 6;
      o += 4 + ((olen + 3) & ~3);
    }
    this.#ifaces.push(ifaceFor(linkType, snaplen, tsresol));
    if (this.#linkType < 0) this.#linkType = linkType;
  }

  #iface(id: number): Iface {
    const iface = this.#ifaces[id];
    if (!iface) throw this.#corrupt(`a packet for interface ${id}, which has no Interface Description Block`);
    return iface;
  }

  #checkCapLen(capLen: number, iface: Iface, room: number): void {
    const limit = iface.snaplen === 0 || iface.snaplen > MAX_RECORD_BYTES ? MAX_RECORD_BYTES : iface.snaplen;
    if (capLen > limit) throw this.#corrupt(`a record of ${capLen} bytes is larger than the snaplen ${limit}`);
    if (capLen > room) throw this.#corrupt(`a record of ${capLen} bytes in a block with room for ${room}`);
  }

  #deliver(onPacket: PacketHandler, iface: Iface, data: number, capLen: number, wireLen: number, tsMicros: number): void {
    if (iface.linkType !== this.#linkType) {
      this.#otherLinkType++;
      return;
    }
    this.#packets++;
    const sec = Math.floor(tsMicros / 1_000_000);
    onPacket(this.#buf, capLen, wireLen, sec, tsMicros - sec * 1_000_000, data);
  }
}
