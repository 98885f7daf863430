/**
 * A DataView over the bytes of the buffer the hot path is reading, kept for as long as
 * the same buffer comes back. Capture engines reuse one buffer for every packet (the
 * batch, the pcap session's buffer, the file reader's chunk), so the view is made once
 * per buffer, not per packet. `getInt32(i, true)` is one bounds-checked load where
 * `b[i] | b[i+1] << 8 | ...` is four.
 */
let lastBuf: Uint8Array | undefined;
let lastView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

export function wordView(buf: Uint8Array): DataView<ArrayBufferLike> {
  if (buf !== lastBuf) {
    lastBuf = buf;
    lastView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return lastView;
}
