/**
 * Child process of FileSource: reads a capture file with libpcap's offline reader
 * (pcap and pcapng alike) and streams the packets to stdout as records
 *   [ts_sec u32][ts_usec u32][capLen u32][wireLen u32][capLen bytes]   (host byte order)
 * It exists because node_pcap's dispatch() reads a whole file in one synchronous
 * call and its addon cannot be loaded in a worker thread (not context-aware); in a
 * child, the blocking write to the pipe is the back-pressure and the parent's event
 * loop stays free between chunks.
 *
 * argv: <file> <bpf filter>. Exit codes: see FileReaderExit.
 */
import { writeSync } from 'node:fs';
import { FileReaderExit, RECORD_HEADER_BYTES } from './file-reader-protocol.js';
import { HeaderField, loadPcapBinding, MAX_SNAPLEN } from './pcap-binding.js';

const RECORD_HEADER = RECORD_HEADER_BYTES;
const CHUNK_BYTES = 1 << 20;

function writeAll(fd: number, buf: Buffer, len: number): void {
  let off = 0;
  while (off < len) {
    try {
      off += writeSync(fd, buf, off, len - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      // A non-blocking pipe that is full: wait for the parent to read.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function main(): void {
  const [file, filter] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: file-reader-child <file> [filter]\n');
    process.exit(FileReaderExit.OPEN_FAILED);
  }
  // Larger than any record libpcap returns (it rejects or cuts to MAXIMUM_SNAPLEN), so
  // the binding, which silently cuts at buf.length, never cuts a packet.
  const pkt = Buffer.alloc(MAX_SNAPLEN);
  const header = Buffer.alloc(RECORD_HEADER);
  const hv = new Uint32Array(header.buffer, header.byteOffset, 4);
  const chunk = Buffer.alloc(CHUNK_BYTES);
  let used = 0;
  let packets = 0;
  const onReady = (): void => {
    const capLen = Math.min(hv[HeaderField.CAPLEN] ?? 0, pkt.length);
    if (used + RECORD_HEADER + capLen > chunk.length) {
      writeAll(1, chunk, used);
      used = 0;
    }
    header.copy(chunk, used);
    chunk.writeUInt32LE(capLen, used + 8);
    pkt.copy(chunk, used + RECORD_HEADER, 0, capLen);
    used += RECORD_HEADER + capLen;
    packets++;
  };
  const session = new (loadPcapBinding().PcapSession)();
  try {
    session.open_offline(file, filter ?? '', 0, 0, '', onReady, false, 0, () => undefined, false);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(FileReaderExit.OPEN_FAILED);
  }
  const r = session.dispatch(pkt, header);
  writeAll(1, chunk, used);
  if (r < 0) {
    process.stderr.write(`read error after ${packets} packets (truncated or corrupt file)\n`);
    process.exit(FileReaderExit.READ_FAILED);
  }
  process.exit(FileReaderExit.OK);
}

main();
