/**
 * Writes classic pcap files (microsecond timestamps) for fixtures, benchmarks and
 * tcpreplay. Streaming: frames are buffered in chunks, so a million-packet
 * capture is written without holding it all in memory.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export const DLT_EN10MB = 1;
export const DLT_RAW = 101;
export const DLT_LINUX_SLL = 113;

export function pcapGlobalHeader(linkType: number, snaplen = 262144): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0); h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6);
  h.writeInt32LE(0, 8); h.writeUInt32LE(0, 12); h.writeUInt32LE(snaplen, 16); h.writeUInt32LE(linkType, 20);
  return h;
}

export type Frame = Readonly<{ tsMicros: number; data: Uint8Array; wireLen?: number }>;

export class PcapWriter {
  readonly #fd: number;
  #chunk = Buffer.alloc(1 << 22);
  #used = 0;
  count = 0;

  constructor(path: string, linkType: number = DLT_EN10MB, readonly snaplen = 262144) {
    this.#fd = openSync(path, 'w');
    writeSync(this.#fd, pcapGlobalHeader(linkType, snaplen));
  }

  write(tsMicros: number, data: Uint8Array, wireLen = data.length): void {
    const capLen = Math.min(data.length, this.snaplen);
    if (this.#used + 16 + capLen > this.#chunk.length) this.#flush();
    if (16 + capLen > this.#chunk.length) this.#chunk = Buffer.alloc(16 + capLen);
    const c = this.#chunk;
    const sec = Math.floor(tsMicros / 1e6);
    c.writeUInt32LE(sec >>> 0, this.#used);
    c.writeUInt32LE(Math.round(tsMicros - sec * 1e6) >>> 0, this.#used + 4);
    c.writeUInt32LE(capLen, this.#used + 8);
    c.writeUInt32LE(wireLen, this.#used + 12);
    c.set(data.subarray(0, capLen), this.#used + 16);
    this.#used += 16 + capLen;
    this.count++;
  }

  #flush(): void {
    if (this.#used > 0) writeSync(this.#fd, this.#chunk, 0, this.#used);
    this.#used = 0;
  }

  close(): void {
    this.#flush();
    closeSync(this.#fd);
  }
}

/** Write a whole list of frames at once. */
export function writePcap(path: string, frames: readonly Frame[], linkType: number = DLT_EN10MB): void {
  const w = new PcapWriter(path, linkType);
  for (const f of frames) w.write(f.tsMicros, f.data, f.wireLen ?? f.data.length);
  w.close();
}
