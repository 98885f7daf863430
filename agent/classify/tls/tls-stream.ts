/**
 * One direction of a TLS connection walked record by record, across segments and
 * capture gaps (skipped bodies are counted in wire bytes). The handler says how
 * many body bytes of each record it wants to see (the whole ClientHello, the two
 * bytes of an alert, nothing of application data), so the walk copies almost
 * nothing.
 *
 * A gap that loses the record boundaries (a segment never captured, or left in the
 * kernel by the `-s N` filter, which passes only segments that start with a record
 * header) does not end the walk: it resumes at the next segment that starts with a
 * plausible record header, so a later alert is still seen.
 */
import { parseTlsRecordHeader, TLS_RECORD_HEADER_LENGTH } from './tls-parser.js';

export interface TlsStreamHandler {
  /** Body bytes wanted for a record of this type and length (0 = none). */
  want(contentType: number, length: number): number;
  /**
   * A record ended. `body` holds the wanted bytes (fewer when `truncated`: the
   * capture lost some of them). It is valid during the call only: its buffer is reused.
   */
  onRecord(contentType: number, length: number, body: Uint8Array, truncated: boolean, tsMicros: number): void;
  /** The bytes are not TLS records (the walk stops). */
  onMalformed(reason: string, tsMicros: number): void;
}

/** A record body buffer up to this size stays with the stream for its next record. */
const SMALL_BODY_BYTES = 16;
/**
 * Larger body buffers (a ClientHello's: hundreds of bytes to a few KB) go back here at the
 * record's end and are taken again by the next stream that wants one: 100k TLS connections made
 * and dropped 100k of them, ~130 MB of short-lived external memory that the allocator kept in
 * part (peak RSS, issue 6). At most BODY_POOL_MAX, each at most a record's size.
 */
const BODY_POOL: Buffer[] = [];
const BODY_POOL_MAX = 32;
const BODY_MIN_BYTES = 2048;

/** A buffer of at least `n` bytes (n <= a record's size): a pooled one when it is large enough. */
function takeBody(n: number): Buffer {
  const b = BODY_POOL.pop();
  if (b !== undefined && b.length >= n) return b;
  let size = BODY_MIN_BYTES;
  while (size < n) size *= 2;
  return Buffer.allocUnsafe(size);
}

function releaseBody(b: Buffer): void {
  if (BODY_POOL.length < BODY_POOL_MAX) BODY_POOL.push(b);
}

export class TlsStream {
  readonly #handler: TlsStreamHandler;
  readonly #hdr = new Uint8Array(TLS_RECORD_HEADER_LENGTH);
  #hdrLen = 0;
  #type = 0;
  #len = 0;
  #remaining = 0;
  #want = 0;
  #body: Buffer | undefined;
  #bodyLen = 0;
  #truncated = false;
  #stopped = false;
  /** Record boundaries were lost: wait for a segment that starts with a record header. */
  #resync = false;

  constructor(handler: TlsStreamHandler) { this.#handler = handler; }

  /** Bytes of body buffer this stream holds between records. */
  get heldBytes(): number { return this.#body?.length ?? 0; }
  /** True once the walk was told to stop or met bytes that are not TLS. */
  get stopped(): boolean { return this.#stopped; }
  /** True while the walk waits for a segment that starts with a record header. */
  get resyncing(): boolean { return this.#resync; }
  stop(): void { this.#stopped = true; }

  push(buf: Uint8Array, off: number, capLen: number, wireLen: number, ts: number): void {
    if (this.#stopped) return;
    const end = Math.min(buf.length, off + Math.max(0, capLen));
    if (this.#resync) {
      // Only a whole, valid record header at the segment's start resumes the walk.
      if (end - off < TLS_RECORD_HEADER_LENGTH || parseTlsRecordHeader(buf, off, end - off).status !== 'ok') return;
      this.#resync = false;
    }
    let p = off;
    while (p < end && !this.#stopped) {
      if (this.#hdrLen < TLS_RECORD_HEADER_LENGTH) {
        this.#hdr[this.#hdrLen++] = buf[p++] ?? 0;
        if (this.#hdrLen === TLS_RECORD_HEADER_LENGTH) this.#startRecord(ts);
        continue;
      }
      const n = Math.min(this.#remaining, end - p);
      const copy = Math.min(n, this.#want - this.#bodyLen);
      if (copy > 0 && this.#body !== undefined) {
        this.#body.set(buf.subarray(p, p + copy), this.#bodyLen);
        this.#bodyLen += copy;
      }
      p += n;
      this.#remaining -= n;
      if (this.#remaining === 0) this.#endRecord(ts);
    }
    if (wireLen > capLen) this.gap(wireLen - Math.max(0, capLen), ts);
  }

  gap(n: number, ts: number): void {
    if (this.#stopped || n <= 0) return;
    if (this.#resync) return;
    if (this.#hdrLen < TLS_RECORD_HEADER_LENGTH || n > this.#remaining) {
      // The boundaries are lost; a record cut by the gap is not reported.
      this.#hdrLen = 0;
      this.#remaining = 0;
      this.#resync = true;
      return;
    }
    if (this.#bodyLen < this.#want) this.#truncated = true;
    this.#remaining -= n;
    if (this.#remaining === 0) this.#endRecord(ts);
  }

  #startRecord(ts: number): void {
    const h = parseTlsRecordHeader(this.#hdr, 0, TLS_RECORD_HEADER_LENGTH);
    if (h.status !== 'ok') {
      this.#stopped = true;
      this.#handler.onMalformed(h.reason, ts);
      return;
    }
    this.#type = h.value.contentType;
    this.#len = h.value.length;
    this.#remaining = this.#len;
    this.#want = Math.min(this.#len, Math.max(0, this.#handler.want(this.#type, this.#len)));
    this.#bodyLen = 0;
    this.#truncated = false;
    if (this.#want > 0 && (this.#body === undefined || this.#body.length < this.#want)) {
      if (this.#body !== undefined && this.#body.length > SMALL_BODY_BYTES) releaseBody(this.#body);
      this.#body = this.#want > SMALL_BODY_BYTES ? takeBody(this.#want) : Buffer.allocUnsafe(this.#want);
    }
    if (this.#remaining === 0) this.#endRecord(ts);
  }

  #endRecord(ts: number): void {
    const body = this.#body !== undefined ? this.#body.subarray(0, this.#bodyLen) : new Uint8Array(0);
    this.#hdrLen = 0;
    this.#handler.onRecord(this.#type, this.#len, body, this.#truncated || this.#bodyLen < this.#want, ts);
    // A ClientHello's buffer (hundreds of bytes to a few KB) is not kept for the connection's
    // life (issue 6: memory with many TLS connections) but goes back to the pool; an alert's two
    // bytes stay. The handler has read `body` by now: onRecord's body is valid during the call.
    if (this.#body !== undefined && this.#body.length > SMALL_BODY_BYTES) { releaseBody(this.#body); this.#body = undefined; }
  }
}
