/**
 * One direction of an HTTP/1.x connection as a byte stream: finds each message
 * head (which may span segments, up to MAX_HEAD_BYTES), hands it to the handler,
 * then skips the body by the framing the handler returns (Content-Length,
 * chunked, until close). Capture gaps (lost segments, snaplen cuts) are counted
 * in wire bytes so body skipping stays in sync; when sync is lost, the stream
 * waits for a segment that starts like a new message.
 */
import { findHeadEnd, MAX_HEAD_BYTES } from './http-parser.js';

export type Framing =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'close' }
  | { readonly kind: 'opaque' }
  | { readonly kind: 'resync' };

export const NO_BODY: Framing = Object.freeze({ kind: 'none' });
export const RESYNC: Framing = Object.freeze({ kind: 'resync' });
export const OPAQUE: Framing = Object.freeze({ kind: 'opaque' });
export const CHUNKED: Framing = Object.freeze({ kind: 'chunked' });
export const UNTIL_CLOSE: Framing = Object.freeze({ kind: 'close' });

/** A head the handler scanned in place (onHeadIn): its length and the framing of its body. */
export type ScannedHead = { length: number; framing: Framing };

/**
 * What a stream calls back: one handler per kind of stream (requests, responses), shared by
 * every connection's stream, each call given the stream's owner (the connection's state).
 * A handler object per stream cost ~40 bytes per direction of every HTTP connection.
 */
export interface HttpStreamHandler<T> {
  /** Can a message start with these bytes (a request line, a status line)? */
  looksLikeStart(buf: Uint8Array, off: number, len: number): boolean;
  /**
   * Optional one-pass fast path for a head that starts at `off`: when buf[off, off+len)
   * holds all of it and it is well formed, handle it as onHead would (a complete head, its
   * first and last bytes at `ts`), put its length and framing in `out` and return true.
   * Otherwise return false having reported nothing: the stream delimits the head itself
   * and calls onHead (or onMalformed).
   */
  onHeadIn?(owner: T, buf: Uint8Array, off: number, len: number, ts: number, out: ScannedHead): boolean;
  /**
   * A message head at buf[off, off+len). `partial` when the capture lost the rest
   * of it; otherwise the range ends exactly after the head's blank line (as
   * findHeadEnd delimits it). `firstTs`/`lastTs`: timestamps of its first and last bytes.
   */
  onHead(owner: T, buf: Uint8Array, off: number, len: number, partial: boolean, firstTs: number, lastTs: number): Framing;
  /** Bytes that cannot start a message where one must start, or a head over the size bound. */
  onMalformed(owner: T, reason: string, tsMicros: number): void;
  /** The body of the last message ended (its last byte arrived at tsMicros). */
  onBodyEnd(owner: T, tsMicros: number): void;
}

const Mode = { HEAD: 0, BODY: 1, CHUNK_SIZE: 2, CHUNK_DATA: 3, CHUNK_TRAILER: 4, UNTIL_CLOSE: 5, RESYNC: 6, OPAQUE: 7 } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

const MAX_CHUNK_LINE = 1024;
/** HttpStream's #line: a line's length (at most MAX_HEAD_BYTES + 1) and two flags above it. */
const enum Line { LENGTH = 0xffffff, DIGITS = 1 << 24, EXT = 1 << 25 }
/** onHeadIn's answer, one for all streams: read as soon as onHeadIn returns, before any other stream runs. */
const SCANNED: ScannedHead = { length: 0, framing: NO_BODY };
const MAX_CHUNK_SIZE = 2 ** 40;
/** A head that spans segments, while it is incomplete: its bytes so far and the time of its first. */
const EMPTY_BUFFER = Buffer.alloc(0);
class PartialHead {
  /** Sized by HttpStream's #ensure: empty until the first head that uses it. */
  buf: Buffer = EMPTY_BUFFER;
  firstTs = 0;
}

/**
 * Partial heads between two heads that spanned segments. A stream holds one only while a
 * head is incomplete: kept for the stream's life, it was 2-4 KB per connection that ever
 * carried a large head (big cookies), 84 MB with 20k of them open (issue 6).
 */
const HEAD_POOL: PartialHead[] = [];
/** At most this many pooled (each 2 KB to MAX_HEAD_BYTES): bounded, at most 2 MB. */
const HEAD_POOL_MAX = 32;

/**
 * The stream keeps only its position in the messages: the handler (one per kind of stream)
 * and the owner (the connection's state) are passed to each call, not kept, and one field
 * holds the length of a partial head or of a chunk line, never both at once. Measured with
 * 100k open HTTP connections (issue 6): 88 → 64 bytes a stream, two per connection.
 */
export class HttpStream<T> {
  #mode: Mode = Mode.HEAD;
  #head: PartialHead | undefined;
  /**
   * In HEAD mode, the bytes of a head that spans segments so far (#headLen). In CHUNK_SIZE and
   * CHUNK_TRAILER modes, the current line: its length so far (Line.LENGTH) and, on a chunk-size
   * line, whether it had a hex digit and an extension (Line.DIGITS, Line.EXT). 0 otherwise.
   */
  #len = 0;
  #remaining = 0;

  /** True once the stream no longer follows messages (after an upgrade or CONNECT). */
  get opaque(): boolean { return this.#mode === Mode.OPAQUE; }
  /** True while bytes are being dropped until a segment starts a new message. */
  get resyncing(): boolean { return this.#mode === Mode.RESYNC; }
  /** True between messages (nothing of a next message seen yet). */
  get idle(): boolean { return this.#mode === Mode.HEAD && this.#len === 0; }

  /** Bytes of buffer this stream holds: only while a head that spans segments is incomplete. */
  get heldBytes(): number { return this.#head?.buf.length ?? 0; }

  /** Pass over bytes until a segment starts a message (a direction picked up midstream). */
  resync(): void { this.#mode = Mode.RESYNC; this.#len = 0; this.#releaseHead(); }

  /** Stop following messages (e.g. the other direction switched protocols). */
  setOpaque(): void { this.#mode = Mode.OPAQUE; this.#len = 0; this.#releaseHead(); }

  /**
   * One segment's payload: `capLen` bytes present at buf[off...], `wireLen` on the
   * wire (wireLen > capLen when the snaplen cut it).
   */
  push(handler: HttpStreamHandler<T>, owner: T, buf: Uint8Array, off: number, capLen: number, wireLen: number, ts: number): void {
    const end = Math.min(buf.length, off + Math.max(0, capLen));
    let p = off;
    if (this.#mode === Mode.RESYNC) {
      if (end > p && handler.looksLikeStart(buf, p, end - p)) { this.#mode = Mode.HEAD; this.#len = 0; } else return;
    }
    while (p < end) {
      switch (this.#mode) {
        case Mode.HEAD: p = this.#headBytes(handler, owner, buf, p, end, ts); break;
        case Mode.BODY: {
          const n = Math.min(this.#remaining, end - p);
          p += n;
          this.#remaining -= n;
          if (this.#remaining === 0) { this.#mode = Mode.HEAD; handler.onBodyEnd(owner, ts); }
          break;
        }
        case Mode.CHUNK_DATA: {
          const n = Math.min(this.#remaining, end - p);
          p += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#startChunkLine();
          break;
        }
        case Mode.CHUNK_SIZE: p = this.#chunkSizeBytes(handler, owner, buf, p, end, ts); break;
        case Mode.CHUNK_TRAILER: p = this.#trailerBytes(handler, owner, buf, p, end, ts); break;
        default: return; // UNTIL_CLOSE, OPAQUE, RESYNC: drop the rest
      }
    }
    if (wireLen > capLen) this.gap(handler, owner, wireLen - Math.max(0, capLen), ts);
  }

  /** `n` bytes of the stream were not captured. */
  gap(handler: HttpStreamHandler<T>, owner: T, n: number, ts: number): void {
    if (n <= 0) return;
    switch (this.#mode) {
      case Mode.HEAD:
        if (this.#len > 0 && this.#head !== undefined) {
          // Whatever lines we have are still worth reporting (method, path, status).
          handler.onHead(owner, this.#head.buf, 0, this.#len, true, this.#head.firstTs, ts);
        }
        this.#len = 0;
        this.#releaseHead();
        this.#mode = Mode.RESYNC;
        return;
      case Mode.BODY:
        if (n < this.#remaining) this.#remaining -= n;
        else if (n === this.#remaining) { this.#remaining = 0; this.#mode = Mode.HEAD; handler.onBodyEnd(owner, ts); }
        else this.#mode = Mode.RESYNC;
        return;
      case Mode.CHUNK_DATA:
        if (n < this.#remaining) this.#remaining -= n;
        else if (n === this.#remaining) this.#startChunkLine();
        else this.#mode = Mode.RESYNC;
        return;
      case Mode.CHUNK_SIZE:
      case Mode.CHUNK_TRAILER:
        this.#mode = Mode.RESYNC;
        return;
      default:
        return;
    }
  }

  #apply(handler: HttpStreamHandler<T>, owner: T, f: Framing, ts: number): void {
    switch (f.kind) {
      case 'none': this.#mode = Mode.HEAD; handler.onBodyEnd(owner, ts); return;
      case 'length':
        if (f.length > 0) { this.#mode = Mode.BODY; this.#remaining = f.length; }
        else { this.#mode = Mode.HEAD; handler.onBodyEnd(owner, ts); }
        return;
      case 'chunked': this.#startChunkLine(); return;
      case 'close': this.#mode = Mode.UNTIL_CLOSE; return;
      case 'opaque': this.#mode = Mode.OPAQUE; return;
      case 'resync': this.#mode = Mode.RESYNC; return;
    }
  }

  #headBytes(handler: HttpStreamHandler<T>, owner: T, buf: Uint8Array, p: number, end: number, ts: number): number {
    if (this.#len === 0) {
      if (!handler.looksLikeStart(buf, p, end - p)) {
        handler.onMalformed(owner, 'bad_start_line', ts);
        this.#mode = Mode.RESYNC;
        return end;
      }
      const limit = Math.min(end, p + MAX_HEAD_BYTES);
      // Fastest path: the handler finds the head's end while it reads the head (one pass).
      const scanned = SCANNED;
      if (handler.onHeadIn?.(owner, buf, p, limit - p, ts, scanned) === true) {
        this.#apply(handler, owner, scanned.framing, ts);
        return p + scanned.length;
      }
      // Fast path: the whole head is in this segment, parse it in place.
      const he = findHeadEnd(buf, p, limit);
      if (he >= 0) {
        this.#apply(handler, owner, handler.onHead(owner, buf, p, he - p, false, ts, ts), ts);
        return he;
      }
    }
    const n = Math.min(MAX_HEAD_BYTES - this.#len, end - p);
    const partial = this.#ensure(this.#len + n);
    if (this.#len === 0) partial.firstTs = ts;
    const head = partial.buf;
    head.set(buf.subarray(p, p + n), this.#len);
    const scanFrom = Math.max(0, this.#len - 3);
    this.#len += n;
    const he = findHeadEnd(head, scanFrom, this.#len);
    if (he >= 0) {
      const usedHere = he - (this.#len - n);
      this.#len = 0;
      const framing = handler.onHead(owner, head, 0, he, false, partial.firstTs, ts);
      this.#releaseHead();
      this.#apply(handler, owner, framing, ts);
      return p + usedHere;
    }
    if (this.#len >= MAX_HEAD_BYTES) {
      // Counted as too large, and still a request or response: its first MAX_HEAD_BYTES are
      // scanned as a partial head (the rest of the head is skipped, so is the body).
      const len = this.#len;
      this.#len = 0;
      handler.onMalformed(owner, 'head_too_large', ts);
      handler.onHead(owner, head, 0, len, true, partial.firstTs, ts);
      this.#releaseHead();
      this.#mode = Mode.RESYNC;
      return end;
    }
    return p + n;
  }

  /** The partial head, with room for `size` bytes (its bytes so far kept). */
  #ensure(size: number): PartialHead {
    const h = (this.#head ??= HEAD_POOL.pop() ?? new PartialHead());
    if (h.buf.length >= size) return h;
    // One allocation of the size needed (from 2 KB, doubling), also for a first part over 2 KB.
    let cap = Math.max(h.buf.length, 2048);
    while (cap < size) cap *= 2;
    const next = Buffer.allocUnsafe(Math.min(cap, MAX_HEAD_BYTES));
    if (this.#len > 0) h.buf.copy(next, 0, 0, this.#len);
    h.buf = next;
    return h;
  }

  /** A head that spanned segments is done: its buffer goes back to the pool (or to the collector). */
  #releaseHead(): void {
    const h = this.#head;
    if (h === undefined) return;
    this.#head = undefined;
    if (HEAD_POOL.length < HEAD_POOL_MAX) HEAD_POOL.push(h);
  }

  /** A chunk-size line starts; its size is read into #remaining (unused until the chunk's data). */
  #startChunkLine(): void {
    this.#mode = Mode.CHUNK_SIZE;
    this.#remaining = 0;
    this.#len = 0;
  }

  #chunkSizeBytes(handler: HttpStreamHandler<T>, owner: T, buf: Uint8Array, p: number, end: number, ts: number): number {
    while (p < end) {
      const c = buf[p++] ?? 0;
      const line = ++this.#len;
      if ((line & Line.LENGTH) > MAX_CHUNK_LINE) { handler.onMalformed(owner, 'bad_chunk_size', ts); this.#mode = Mode.RESYNC; return end; }
      if (c === 0x0a) {
        // The CRLF that ends the previous chunk's data arrives here as an empty line: skip it.
        if ((line & (Line.DIGITS | Line.EXT)) === 0) { this.#len = 0; continue; }
        if ((line & Line.DIGITS) === 0) { handler.onMalformed(owner, 'bad_chunk_size', ts); this.#mode = Mode.RESYNC; return end; }
        if (this.#remaining === 0) { this.#mode = Mode.CHUNK_TRAILER; this.#len = 0; return p; }
        this.#mode = Mode.CHUNK_DATA;
        return p;
      }
      if ((line & Line.EXT) !== 0 || c === 0x0d || c === 0x20 || c === 0x09) continue;
      if (c === 0x3b /* ; */) { this.#len = line | Line.EXT; continue; }
      const d = hexDigit(c);
      if (d < 0 || this.#remaining > MAX_CHUNK_SIZE) { handler.onMalformed(owner, 'bad_chunk_size', ts); this.#mode = Mode.RESYNC; return end; }
      this.#remaining = this.#remaining * 16 + d;
      this.#len = line | Line.DIGITS;
    }
    return p;
  }

  #trailerBytes(handler: HttpStreamHandler<T>, owner: T, buf: Uint8Array, p: number, end: number, ts: number): number {
    while (p < end) {
      const c = buf[p++] ?? 0;
      if (c === 0x0d) continue;
      if (c === 0x0a) {
        if (this.#len === 0) { this.#mode = Mode.HEAD; handler.onBodyEnd(owner, ts); return p; }
        this.#len = 0;
        continue;
      }
      if (++this.#len > MAX_HEAD_BYTES) { handler.onMalformed(owner, 'bad_chunk_trailer', ts); this.#mode = Mode.RESYNC; return end; }
    }
    return p;
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
