/**
 * The capture-file reader on hostile files (classic pcap both byte orders and
 * resolutions, pcapng sections, IDB options, EPB/SPB/PB, unknown blocks). The input
 * is written to a file and read as `--read` does. Allowed: resolve, or reject with
 * CaptureError BAD_FILE carrying the reader's own message. A BAD_FILE wrapping a
 * RangeError (a read past the buffer) or any other exception is a crash.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureError, CaptureErrorCode } from '../../../agent/capture/packet-source.js';
import { MAX_RECORD_BYTES, PcapFileReader } from '../../../agent/capture/pcap-file-reader.js';
import { within, type FuzzTarget } from '../target.js';

// A RAM-backed directory when there is one: writing the input is most of the cost of a run.
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'lbta-fuzz-pcap-'));
const path = join(dir, 'input.pcap');
// Removed when the process (or the worker running the fuzzer) exits, so no run leaves a directory behind.
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const OWN_MESSAGES = /empty file|unknown file format|truncated|corrupt file|no Interface Description Block|ends inside a record/;

export const target: FuzzTarget = {
  name: 'pcap-file',
  maxLen: 16384,
  dictionary: [
    Uint8Array.of(0xd4, 0xc3, 0xb2, 0xa1), Uint8Array.of(0xa1, 0xb2, 0xc3, 0xd4), Uint8Array.of(0x4d, 0x3c, 0xb2, 0xa1),
    Uint8Array.of(0x0a, 0x0d, 0x0d, 0x0a), Uint8Array.of(0x4d, 0x3c, 0x2b, 0x1a), Uint8Array.of(0x1a, 0x2b, 0x3c, 0x4d),
    Uint8Array.of(0x01, 0x00, 0x00, 0x00), Uint8Array.of(0x06, 0x00, 0x00, 0x00), Uint8Array.of(0x03, 0x00, 0x00, 0x00),
    Uint8Array.of(0x02, 0x00, 0x00, 0x00), Uint8Array.of(0x09, 0x00, 0x01, 0x00), Uint8Array.of(0x00, 0x00, 0x04, 0x00),
    Uint8Array.of(0x71, 0x00), Uint8Array.of(0x14, 0x01), Uint8Array.of(0x65, 0x00), Uint8Array.of(0x80), Uint8Array.of(0x89),
  ],
  async fuzz(data: Buffer): Promise<void> {
    writeFileSync(path, data);
    const reader = new PcapFileReader({ path, chunkBytes: 1 });
    let packets = 0;
    try {
      reader.open();
      await reader.run((buf, capLen, wireLen, tsSec, tsUsec, offset) => {
        const ts = tsSec * 1_000_000 + tsUsec;
        packets++;
        within('capLen', capLen, 0, Math.min(MAX_RECORD_BYTES, data.length));
        // The record lies inside the buffer it is handed over in.
        within('offset', offset, 0, buf.length - capLen);
        within('wireLen', wireLen, 0, 0xffffffff);
        assert.ok(Number.isFinite(ts), `timestamp ${ts}`);
        // A malformed record may carry a microsecond field of a million or more: only the sum counts.
        within('tsUsec', tsUsec, 0, 0xffffffff);
      });
    } catch (e) {
      if (!(e instanceof CaptureError) || e.code !== CaptureErrorCode.BAD_FILE) throw e;
      if (!OWN_MESSAGES.test(e.message) || /out of range|outside buffer bounds|ERR_/.test(e.message)) throw e;
    } finally {
      reader.close();
    }
    // Each record costs at least 12 bytes of file.
    within('packets', packets, 0, Math.floor(data.length / 12));
    within('packets delivered', reader.packets, packets, packets);
  },
};
