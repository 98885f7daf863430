/**
 * HTTP/1.x message heads (request line or status line, then header fields, ending
 * at the blank line), parsed from a byte range without throwing. Only the fields
 * the analysis needs are kept; the values of credentials (Authorization, Cookie,
 * Set-Cookie, Proxy-Authorization) are never copied out of the packet, only their
 * presence is recorded.
 */
import { wordView } from '../../decode/word-view.js';
import { badOffset, boundedEnd, incomplete, malformed, ok, type Parsed } from '../parse-result.js';

/** A head without its blank line within this many bytes is not HTTP we will follow. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Paths are cut to this length in events (a 64 KB URL says nothing more than its start). */
export const MAX_PATH_CHARS = 1024;
/** Longest method token accepted (the longest registered methods are ~17 characters). */
const MAX_METHOD_LEN = 24;

export type HttpVersion = '1.0' | '1.1';

/** Header fields common to requests and responses that decide message framing. */
export type HttpFraming = {
  /** Content-Length, or -1 when absent. -2 when present but invalid (conflicting or not a number). */
  contentLength: number;
  chunked: boolean;
  connectionClose: boolean;
};

export type HttpRequestHead = HttpFraming & {
  method: string;
  /** Request target without the query string (unless keepQuery), cut to MAX_PATH_CHARS. */
  path: string;
  version: HttpVersion;
  host: string | undefined;
  userAgent: string | undefined;
  /** All X-Forwarded-For fields joined with ", " in arrival order (RFC 9110 5.3). */
  xForwardedFor: string | undefined;
  xForwardedProto: string | undefined;
  xForwardedPort: string | undefined;
  /** X-Amzn-Trace-Id as sent (ALB adds or extends it). */
  traceId: string | undefined;
  /** How many X-Amzn-Trace-Id fields the head carried. */
  traceIdFields: number;
  expectContinue: boolean;
  upgrade: string | undefined;
  /** Presence only: the values of these are never kept. */
  hasAuthorization: boolean;
  hasCookie: boolean;
  /** The head was cut short (capture gap); fields after the cut are unknown. */
  partial: boolean;
};

export type HttpResponseHead = HttpFraming & {
  status: number;
  version: HttpVersion;
  hasSetCookie: boolean;
  partial: boolean;
};

export type HeadOptions = Readonly<{
  /** Keep the query string in `path` (off by default: queries carry personal data). */
  keepQuery?: boolean;
  /**
   * The bytes end where the capture stopped (snaplen cut or a lost segment): parse
   * the complete lines present and mark the result partial instead of waiting.
   */
  partial?: boolean;
}>;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const COMMA = 0x2c;

/** RFC 9110 tchar. */
function isTcharSlow(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x21 || (c >= 0x23 && c <= 0x27) || c === 0x2a || c === 0x2b || c === 0x2d || c === 0x2e ||
    c === 0x5e || c === 0x5f || c === 0x60 || c === 0x7c || c === 0x7e;
}

/** 1 for each tchar byte: one load per byte of a header name instead of a chain of compares. */
const TCHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) TCHAR[c] = isTcharSlow(c) ? 1 : 0;

function isTchar(c: number): boolean {
  return TCHAR[c] === 1;
}

/**
 * Whether each of the four bytes of w is an ASCII letter or '-'. A byte is a letter when,
 * OR-ed with 0x20, it lies in 0x61-0x7a (only A-Z and a-z do), tested on the low seven bits
 * with two additions that cannot carry across bytes, and its top bit is clear; '-' is
 * tested on w itself (CR OR-ed with 0x20 is '-') with an exact zero-byte test.
 */
function lettersOrDashes(w: number): boolean {
  const l = w | 0x20202020;
  const m = l & 0x7f7f7f7f;
  const letters = ((m + 0x1f1f1f1f) | 0) & ~((m + 0x05050505) | 0) & ~l;
  const x = w ^ 0x2d2d2d2d;
  const dashes = ~((((x & 0x7f7f7f7f) + 0x7f7f7f7f) | 0) | x);
  return (~(letters | dashes) & 0x80808080) === 0;
}

/**
 * Offset just after the blank line that ends a head starting at `off`, or -1 when
 * the bytes up to `end` hold no blank line. Accepts CRLF and bare LF line ends.
 */
export function findHeadEnd(buf: Uint8Array, off: number, end: number): number {
  // A head end (LF LF, or LF CR LF) is two or three adjacent CR/LF bytes, so every
  // other byte is enough to hit one of them; at a hit, the ends starting at the byte
  // before and at this one are tested, earliest first.
  for (let i = off + 1; i < end; i += 2) {
    const c = buf[i];
    if (c !== LF && c !== CR) continue;
    const e = headEndAt(buf, i - 1, end);
    if (e >= 0) return e;
    const f = headEndAt(buf, i, end);
    if (f >= 0) return f;
  }
  // An odd-length range leaves its last byte unvisited; it cannot start a head end alone.
  return -1;
}

/** The head end when a blank line follows the LF at j, else -1. */
function headEndAt(buf: Uint8Array, j: number, end: number): number {
  if (buf[j] !== LF || j + 1 >= end) return -1;
  const n = buf[j + 1];
  if (n === LF) return j + 2;
  if (j + 2 < end && n === CR && buf[j + 2] === LF) return j + 3;
  return -1;
}

/** True when the bytes could be the start of a request line (method token then a space). */
export function looksLikeRequestStart(buf: Uint8Array, off: number, length: number): boolean {
  const end = boundedEnd(buf, off, length);
  let i = off;
  while (i < end && i - off <= MAX_METHOD_LEN && isTchar(buf[i] ?? 0)) i++;
  if (i === off) return false;
  if (i === end) return i - off <= MAX_METHOD_LEN && isUpperMethodPrefix(buf, off, i);
  return buf[i] === SP && i - off <= MAX_METHOD_LEN && isUpperMethodPrefix(buf, off, i);
}

/** Methods are case-sensitive and, in practice, upper case: this rejects most binary noise. */
function isUpperMethodPrefix(buf: Uint8Array, off: number, end: number): boolean {
  for (let i = off; i < end; i++) {
    const c = buf[i] ?? 0;
    if (!((c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f)) return false;
  }
  return true;
}

/** How far into a segment a whole request line is looked for (isRequestLine). */
const REQUEST_LINE_MAX = 8192;

/**
 * True when buf[off, off + length) begins with a whole HTTP/1.x request line: a method as
 * looksLikeRequestStart takes it, a space, a target without spaces or control bytes, a space and
 * the version the head scanners take (HTTP/1.0 or 1.1), then CRLF (or a bare LF), all within
 * REQUEST_LINE_MAX bytes. For bytes
 * that need not start a message (a connection picked up midstream, whose segment may be the
 * middle of a body), where "looks like a method" is too weak.
 */
export function isRequestLine(buf: Uint8Array, off: number, length: number): boolean {
  const end = Math.min(boundedEnd(buf, off, length), off + REQUEST_LINE_MAX);
  if (!looksLikeRequestStart(buf, off, end - off)) return false;
  let i = off;
  while (i < end && buf[i] !== SP) i++;
  const target = ++i;
  while (i < end && (buf[i] ?? 0) > SP && buf[i] !== 0x7f) i++;
  if (i === target || i + 9 >= end || buf[i] !== SP || parseVersion(buf, i + 1, i + 9) === undefined) return false;
  i += 9;
  return buf[i] === LF || (buf[i] === CR && i + 1 < end && buf[i + 1] === LF);
}

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/**
 * True when the bytes begin with a status line's first twelve: the version the head scanners take
 * (HTTP/1.0 or 1.1), a space and a three-digit status. For bytes that need not start a message
 * (see isRequestLine).
 */
export function isStatusLineStart(buf: Uint8Array, off: number, length: number): boolean {
  if (boundedEnd(buf, off, length) - off < 12 || parseVersion(buf, off, off + 8) === undefined || buf[off + 8] !== SP) return false;
  return isAsciiDigit(buf[off + 9] ?? 0) && isAsciiDigit(buf[off + 10] ?? 0) && isAsciiDigit(buf[off + 11] ?? 0);
}

function isAsciiDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** True when the bytes could be the start of a status line ("HTTP/"). */
export function looksLikeResponseStart(buf: Uint8Array, off: number, length: number): boolean {
  const end = boundedEnd(buf, off, length);
  if (end <= off) return false;
  for (let k = 0; k < HTTP_SLASH.length && off + k < end; k++) if (buf[off + k] !== HTTP_SLASH[k]) return false;
  return true;
}

/** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": the HTTP/2 prior-knowledge connection preface (RFC 9113 3.4). */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** 'yes' for the full preface, 'maybe' for a prefix of it, 'no' otherwise. */
export function matchHttp2Preface(buf: Uint8Array, off: number, length: number): 'yes' | 'maybe' | 'no' {
  const end = boundedEnd(buf, off, length);
  const n = Math.min(end - off, HTTP2_PREFACE.length);
  if (n <= 0) return 'maybe';
  for (let k = 0; k < n; k++) if (buf[off + k] !== HTTP2_PREFACE[k]) return 'no';
  return n === HTTP2_PREFACE.length ? 'yes' : 'maybe';
}

// ---------------------------------------------------------------- scanning in place

function parseVersion(buf: Uint8Array, start: number, end: number): HttpVersion | undefined {
  if (end - start !== 8) return undefined;
  for (let k = 0; k < 5; k++) if (buf[start + k] !== HTTP_SLASH[k]) return undefined;
  if (buf[start + 5] !== 0x31 || buf[start + 6] !== 0x2e) return undefined;
  const minor = buf[start + 7];
  if (minor === 0x31) return '1.1';
  if (minor === 0x30) return '1.0';
  return undefined;
}

/** Outcome of a scan: the head is complete (or usable partial), needs more bytes, or is not HTTP. */
export const ScanStatus = { OK: 0, INCOMPLETE: 1, MALFORMED: 2 } as const;
export type ScanStatus = (typeof ScanStatus)[keyof typeof ScanStatus];

/**
 * What the range handed to scanRequestHead/scanResponseHead is. SPLIT: a head is looked
 * for in it (its blank line found first). WHOLE: exactly one head ending with its blank
 * line, as findHeadEnd delimits it (HttpStream's buffered heads). OPEN: a head starts at
 * the offset and may end inside the range or not at all (a segment's payload): one pass
 * finds its end and reads its fields. OPEN is OK only for a complete, well-formed head,
 * with the fields and length WHOLE would give; any other verdict (incomplete, malformed)
 * may differ from WHOLE's, and the caller then delimits the head and scans it again.
 */
export const HeadRange = { SPLIT: 0, WHOLE: 1, OPEN: 2 } as const;
export type HeadRange = (typeof HeadRange)[keyof typeof HeadRange];

/**
 * What every head scan records. Scans write into a record the caller owns and
 * reuses, and keep byte offsets into `buf` instead of strings: the hot path makes
 * a string only for what it stores or reports. Offsets are valid only until the
 * bytes of `buf` change (the next packet).
 */
abstract class HeadScan {
  status: ScanStatus = ScanStatus.OK;
  /** Why the scan is not OK (a constant string). */
  reason = '';
  buf: Uint8Array = EMPTY;
  /** Bytes from the offset to the end of the head (OK only). */
  length = 0;
  /** The head was cut short (capture gap); fields after the cut are unknown. */
  partial = false;
  version: HttpVersion = '1.1';
  contentLength = -1;
  chunked = false;
  connectionClose = false;
  /** Number of lines (start line and fields) found by the split; -1 when the caller delimited the head. */
  lines = 0;
  headEnd = 0;
}

const EMPTY = new Uint8Array(0);

export class RequestHeadScan extends HeadScan {
  methodStart = 0;
  methodEnd = 0;
  /** Request target without the query string (unless keepQuery), cut to MAX_PATH_CHARS. */
  pathStart = 0;
  pathEnd = 0;
  /** First Host / User-Agent / X-Forwarded-Proto / X-Forwarded-Port / X-Amzn-Trace-Id value, start -1 when absent. */
  hostStart = -1; hostEnd = -1;
  uaStart = -1; uaEnd = -1;
  xfProtoStart = -1; xfProtoEnd = -1;
  xfPortStart = -1; xfPortEnd = -1;
  traceStart = -1; traceEnd = -1;
  traceIdFields = 0;
  /** Last Upgrade value. */
  upgradeStart = -1; upgradeEnd = -1;
  expectContinue = false;
  hasAuthorization = false;
  hasCookie = false;
  /** X-Forwarded-For fields in arrival order: [start, end) pairs. */
  xffFields = 0;
  /** The last X-Forwarded-For was cut (partial head): its rightmost entries, the client's, are missing. */
  xffCut = false;
  xffRanges = new Int32Array(8);

  reset(buf: Uint8Array): void {
    this.status = ScanStatus.OK; this.reason = ''; this.buf = buf; this.length = 0; this.partial = false;
    this.version = '1.1'; this.contentLength = -1; this.chunked = false; this.connectionClose = false;
    this.hostStart = -1; this.hostEnd = -1; this.uaStart = -1; this.uaEnd = -1;
    this.xfProtoStart = -1; this.xfProtoEnd = -1; this.xfPortStart = -1; this.xfPortEnd = -1;
    this.traceStart = -1; this.traceEnd = -1; this.traceIdFields = 0; this.upgradeStart = -1; this.upgradeEnd = -1;
    this.expectContinue = false; this.hasAuthorization = false; this.hasCookie = false; this.xffFields = 0; this.xffCut = false;
  }

  addXff(vs: number, ve: number): void {
    const at = this.xffFields * 2;
    if (at + 2 > this.xffRanges.length) {
      const next = new Int32Array(this.xffRanges.length * 2);
      next.set(this.xffRanges);
      this.xffRanges = next;
    }
    this.xffRanges[at] = vs;
    this.xffRanges[at + 1] = ve;
    this.xffFields++;
  }
}

export class ResponseHeadScan extends HeadScan {
  status3 = 0;
  hasSetCookie = false;

  reset(buf: Uint8Array): void {
    this.status = ScanStatus.OK; this.reason = ''; this.buf = buf; this.length = 0; this.partial = false;
    this.version = '1.1'; this.contentLength = -1; this.chunked = false; this.connectionClose = false;
    this.status3 = 0; this.hasSetCookie = false;
  }
}

/** Header names some scan cares about; every other name is skipped by length or by one byte compare. */
const Hdr = {
  OTHER: 0, AUTHORIZATION: 1, PROXY_AUTHORIZATION: 2, COOKIE: 3, SET_COOKIE: 4, HOST: 5, USER_AGENT: 6,
  X_FORWARDED_FOR: 7, X_FORWARDED_PROTO: 8, X_FORWARDED_PORT: 9, X_AMZN_TRACE_ID: 10, EXPECT: 11, UPGRADE: 12,
  CONNECTION: 13, CONTENT_LENGTH: 14, TRANSFER_ENCODING: 15,
} as const;
type Hdr = (typeof Hdr)[keyof typeof Hdr];

const HDR_NAMES: ReadonlyArray<[Hdr, string]> = [
  [Hdr.AUTHORIZATION, 'authorization'], [Hdr.PROXY_AUTHORIZATION, 'proxy-authorization'], [Hdr.COOKIE, 'cookie'],
  [Hdr.SET_COOKIE, 'set-cookie'], [Hdr.HOST, 'host'], [Hdr.USER_AGENT, 'user-agent'], [Hdr.X_FORWARDED_FOR, 'x-forwarded-for'],
  [Hdr.X_FORWARDED_PROTO, 'x-forwarded-proto'], [Hdr.X_FORWARDED_PORT, 'x-forwarded-port'], [Hdr.X_AMZN_TRACE_ID, 'x-amzn-trace-id'],
  [Hdr.EXPECT, 'expect'], [Hdr.UPGRADE, 'upgrade'], [Hdr.CONNECTION, 'connection'], [Hdr.CONTENT_LENGTH, 'content-length'],
  [Hdr.TRANSFER_ENCODING, 'transfer-encoding'],
];

/**
 * Per name length: the wanted names of that length and their ids. Each name is kept as the
 * little-endian 32-bit words of its lower-case bytes at offsets 0, 4, 8... and a last one
 * ending at its end (overlapping the one before when the length is not a multiple of four;
 * every wanted name has at least four bytes).
 */
type NameSlot = { ids: Hdr[]; words: Int32Array[] };
const NAMES_BY_LENGTH: Array<NameSlot | undefined> = [];
for (const [id, name] of HDR_NAMES) {
  const slot = (NAMES_BY_LENGTH[name.length] ??= { ids: [], words: [] });
  const bytes = Buffer.from(name, 'latin1');
  const words = new Int32Array(Math.ceil(name.length / 4));
  for (let q = 0; q < words.length; q++) words[q] = bytes.readInt32LE(Math.min(4 * q, name.length - 4));
  slot.ids.push(id);
  slot.words.push(words);
}

function lowerAscii(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** buf[start, start + lower.length) equals `lower` ignoring ASCII case. */
function equalsIgnoreCase(buf: Uint8Array, start: number, lower: Uint8Array): boolean {
  for (let k = 0; k < lower.length; k++) if (lowerAscii(buf[start + k] ?? 0) !== lower[k]) return false;
  return true;
}

/**
 * The id of the header name at buf[start, end), whose bytes are all tchars. Compared four
 * bytes at a time: OR-ing 0x20 into each byte lower-cases a letter and leaves '-' and the
 * digits as they are; the only other byte it maps onto a letter or '-' of a wanted name is
 * CR (onto '-'), which is no tchar.
 */
function headerId(buf: Uint8Array, start: number, end: number): Hdr {
  const n = end - start;
  const slot = NAMES_BY_LENGTH[n];
  if (slot === undefined) return Hdr.OTHER;
  const dv = wordView(buf);
  const last = n - 4;
  for (let k = 0; k < slot.words.length; k++) {
    const w = slot.words[k] as Int32Array;
    let q = 0;
    while (q < w.length && (dv.getInt32(start + Math.min(4 * q, last), true) | 0x20202020) === w[q]) q++;
    if (q === w.length) return slot.ids[k] as Hdr;
  }
  return Hdr.OTHER;
}

/** JavaScript's whitespace (String.prototype.trim, \s) restricted to latin1: header bytes are latin1 text. */
function isJsSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

/** Latin1 text of buf[start, end) (header bytes are decoded as latin1 throughout). */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end <= start) return '';
  if (Buffer.isBuffer(buf)) return buf.toString('latin1', start, end);
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

const CHUNKED_LC = Buffer.from('chunked', 'latin1');
const CLOSE_LC = Buffer.from('close', 'latin1');
const KEEP_ALIVE_LC = Buffer.from('keep-alive', 'latin1');
const CONTINUE_LC = Buffer.from('100-continue', 'latin1');

/** /(^|,)\s*chunked\s*$/i on the value bytes. */
function endsWithChunked(buf: Uint8Array, vs: number, ve: number): boolean {
  let e = ve;
  while (e > vs && isJsSpace(buf[e - 1] ?? 0)) e--;
  const s = e - CHUNKED_LC.length;
  if (s < vs || !equalsIgnoreCase(buf, s, CHUNKED_LC)) return false;
  let b = s;
  while (b > vs && isJsSpace(buf[b - 1] ?? 0)) b--;
  return b === vs || buf[b - 1] === 0x2c;
}

/** /(^|,)\s*token\s*(,|$)/i on the value bytes: one comma-separated element is `token`. */
function hasListToken(buf: Uint8Array, vs: number, ve: number, token: Uint8Array): boolean {
  let s = vs;
  while (s <= ve) {
    let e = s;
    while (e < ve && buf[e] !== 0x2c) e++;
    let a = s;
    let b = e;
    while (a < b && isJsSpace(buf[a] ?? 0)) a++;
    while (b > a && isJsSpace(buf[b - 1] ?? 0)) b--;
    if (b - a === token.length && equalsIgnoreCase(buf, a, token)) return true;
    s = e + 1;
  }
  return false;
}

/** Content-Length per /^[0-9]{1,15}$/ after trim(): the number, or -2. */
function contentLengthValue(buf: Uint8Array, vs: number, ve: number): number {
  let a = vs;
  let b = ve;
  while (a < b && isJsSpace(buf[a] ?? 0)) a++;
  while (b > a && isJsSpace(buf[b - 1] ?? 0)) b--;
  if (b === a || b - a > 15) return -2;
  let n = 0;
  for (let i = a; i < b; i++) {
    const c = buf[i] ?? 0;
    if (c < 0x30 || c > 0x39) return -2;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** The framing fields shared by requests and responses. */
function applyFramingBytes(f: HeadScan, id: Hdr, buf: Uint8Array, vs: number, ve: number): void {
  switch (id) {
    case Hdr.CONTENT_LENGTH: {
      const n = contentLengthValue(buf, vs, ve);
      if (f.contentLength === -1) f.contentLength = n;
      else if (f.contentLength !== n) f.contentLength = -2;
      return;
    }
    case Hdr.TRANSFER_ENCODING:
      if (endsWithChunked(buf, vs, ve)) f.chunked = true;
      return;
    case Hdr.CONNECTION:
      if (hasListToken(buf, vs, ve, CLOSE_LC)) f.connectionClose = true;
      if (f.version === '1.0' && hasListToken(buf, vs, ve, KEEP_ALIVE_LC)) f.connectionClose = false;
      return;
    default:
  }
}

/**
 * Finds the end of the head in [off, end): the blank line (CRLF or bare LF) after
 * at least one line. Sets s.lines and s.headEnd; when partial and no blank line,
 * the head ends after the last complete line. False when there is no end yet.
 */
function splitHead(buf: Uint8Array, off: number, end: number, partial: boolean, s: HeadScan): boolean {
  let lines = 0;
  let lineStart = off;
  for (let i = off; i < end; i++) {
    if (buf[i] !== LF) continue;
    let lineEnd = i;
    if (lineEnd > lineStart && buf[lineEnd - 1] === CR) lineEnd--;
    if (lineEnd === lineStart && lines > 0) { s.lines = lines; s.headEnd = i + 1; s.partial = false; return true; }
    lines++;
    lineStart = i + 1;
  }
  if (!partial) return false;
  s.lines = lines;
  s.headEnd = lineStart;
  s.partial = true;
  return true;
}

function fail(s: HeadScan, status: ScanStatus, reason: string): false {
  s.status = status;
  s.reason = reason;
  return false;
}

/** The checks common to both heads before the start line; false (with status set) when not usable. */
function headStatus(buf: Uint8Array, off: number, end: number, partial: boolean, range: HeadRange, s: HeadScan): boolean {
  if (end <= off) return fail(s, ScanStatus.INCOMPLETE, 'empty');
  if (range === HeadRange.OPEN) {
    // The end is found by walkFields; until then headEnd bounds the scan (a head is at most MAX_HEAD_BYTES).
    s.headEnd = Math.min(end, off + MAX_HEAD_BYTES);
    s.partial = false;
    s.lines = -1;
    return true;
  }
  if (range === HeadRange.WHOLE && !partial) {
    // The caller delimited the head with findHeadEnd: the split would find exactly this end.
    if (end - off > MAX_HEAD_BYTES) return fail(s, ScanStatus.MALFORMED, 'head_too_large');
    s.headEnd = end;
    s.partial = false;
    s.lines = -1;
    return true;
  }
  if (!splitHead(buf, off, end, partial, s)) {
    return end - off >= MAX_HEAD_BYTES ? fail(s, ScanStatus.MALFORMED, 'head_too_large') : fail(s, ScanStatus.INCOMPLETE, 'no_blank_line_yet');
  }
  if (s.headEnd - off > MAX_HEAD_BYTES) return fail(s, ScanStatus.MALFORMED, 'head_too_large');
  if (s.lines === 0) return partial ? fail(s, ScanStatus.MALFORMED, 'no_start_line') : fail(s, ScanStatus.INCOMPLETE, 'no_start_line_yet');
  return true;
}

/** End (exclusive, without CR) of the line starting at `start`; its LF is at the returned value's lineLf. */
let lineLf = 0;
function lineEndAt(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && buf[i] !== LF) i++;
  lineLf = i;
  return i > start && buf[i - 1] === CR ? i - 1 : i;
}

/**
 * Walks the field lines after the start line (which ends at firstLf); false (status
 * set) on a malformed one. One pass per line: the name is checked up to its colon,
 * the value for control characters up to the line end.
 */
function walkFields(buf: Uint8Array, firstLf: number, s: HeadScan, request: boolean, open: boolean): boolean {
  const dv = wordView(buf);
  let ls = firstLf + 1;
  const end = s.headEnd;
  while (ls < end) {
    const first = buf[ls];
    // The blank line that ends a complete head.
    if (first === LF || (first === CR && buf[ls + 1] === LF)) {
      if (open) {
        // Its LF must be inside the range (a byte past it is not part of the segment).
        if (first === CR && ls + 1 >= end) return fail(s, ScanStatus.INCOMPLETE, 'no_blank_line_yet');
        s.headEnd = first === LF ? ls + 1 : ls + 2;
      }
      return true;
    }
    // Obsolete line folding (RFC 9112 5.2): continuation of the previous field, ignored.
    if (first === SP || first === HT) {
      let e = ls;
      while (e < end && buf[e] !== LF) e++;
      ls = e + 1;
      continue;
    }
    let i = ls;
    // Four name bytes at a time while all four are letters or '-', as in almost every name;
    // the word holding another byte (the colon, a digit, another tchar) is read byte by byte.
    while (i + 4 <= end && lettersOrDashes(dv.getInt32(i, true))) i += 4;
    let c = buf[i] ?? 0;
    while (TCHAR[c] === 1) c = buf[++i] ?? 0;
    if (c !== COLON) {
      // The line ended without a colon: not a field line; any other byte: not a name.
      return fail(s, ScanStatus.MALFORMED, c === LF || (c === CR && buf[i + 1] === LF) ? 'bad_header_line' : 'bad_header_name');
    }
    if (i === ls) return fail(s, ScanStatus.MALFORMED, 'bad_header_line');
    const colon = i;
    let j = colon + 1;
    let next: number;
    // Four value bytes at a time while none of them is a control character (LF and CR included)
    // or DEL; the word holding one is then read byte by byte below.
    while (j + 4 <= end) {
      const w = dv.getInt32(j, true);
      const d = w ^ 0x7f7f7f7f;
      if ((((w - 0x20202020) & ~w) | ((d - 0x01010101) & ~d)) & 0x80808080) break;
      j += 4;
    }
    for (;;) {
      c = buf[j] ?? 0;
      if (c === LF) { next = j + 1; break; }
      // Field values may carry obs-text (>= 0x80) but no control characters other than tab.
      if ((c < 0x20 && c !== HT) || c === 0x7f) {
        if (c === CR && buf[j + 1] === LF) { next = j + 2; break; }
        return fail(s, ScanStatus.MALFORMED, 'control_character_in_header');
      }
      j++;
    }
    let vs = colon + 1;
    let ve = j;
    while (vs < ve && (buf[vs] === SP || buf[vs] === HT)) vs++;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
    const id = headerId(buf, ls, colon);
    // Direct calls, not a function passed in: V8 calls a function value through a generic builtin.
    if (id !== Hdr.OTHER) {
      if (request) requestField(s as RequestHeadScan, id, buf, vs, ve);
      else responseField(s as ResponseHeadScan, id, buf, vs, ve);
    }
    ls = next;
  }
  // A line running past the range, or no blank line in it: an open range holds no whole head.
  return open ? fail(s, ScanStatus.INCOMPLETE, 'no_blank_line_yet') : true;
}

function requestField(req: RequestHeadScan, id: Hdr, b: Uint8Array, vs: number, ve: number): void {
  switch (id) {
    // Credentials: presence only, the value is never decoded.
    case Hdr.AUTHORIZATION: case Hdr.PROXY_AUTHORIZATION: req.hasAuthorization = true; return;
    case Hdr.COOKIE: req.hasCookie = true; return;
    case Hdr.HOST: if (req.hostStart < 0) { req.hostStart = vs; req.hostEnd = ve; } return;
    case Hdr.USER_AGENT: if (req.uaStart < 0) { req.uaStart = vs; req.uaEnd = ve; } return;
    case Hdr.X_FORWARDED_FOR: req.addXff(vs, ve); return;
    case Hdr.X_FORWARDED_PROTO: if (req.xfProtoStart < 0) { req.xfProtoStart = vs; req.xfProtoEnd = ve; } return;
    case Hdr.X_FORWARDED_PORT: if (req.xfPortStart < 0) { req.xfPortStart = vs; req.xfPortEnd = ve; } return;
    case Hdr.X_AMZN_TRACE_ID: req.traceIdFields++; if (req.traceStart < 0) { req.traceStart = vs; req.traceEnd = ve; } return;
    case Hdr.EXPECT: if (ve - vs === CONTINUE_LC.length && equalsIgnoreCase(b, vs, CONTINUE_LC)) req.expectContinue = true; return;
    case Hdr.UPGRADE: req.upgradeStart = vs; req.upgradeEnd = ve; return;
    default: applyFramingBytes(req, id, b, vs, ve);
  }
}

function responseField(res: ResponseHeadScan, id: Hdr, b: Uint8Array, vs: number, ve: number): void {
  if (id === Hdr.SET_COOKIE) { res.hasSetCookie = true; return; }
  applyFramingBytes(res, id, b, vs, ve);
}

/**
 * Scan a request head at buf[off, off+length) into `s` without making strings.
 * Returns true when s.status is OK. The same verdicts as parseRequestHead.
 * `range`: what the range is (HeadRange); with OPEN, s.length is where the head ended.
 */
export function scanRequestHead(buf: Uint8Array, off: number, length: number, keepQuery: boolean, partial: boolean, s: RequestHeadScan,
  range: HeadRange = HeadRange.SPLIT): boolean {
  s.reset(buf);
  if (badOffset(buf, off)) return fail(s, ScanStatus.MALFORMED, 'bad_offset');
  const end = boundedEnd(buf, off, length);
  if (end > off && !looksLikeRequestStart(buf, off, end - off)) return fail(s, ScanStatus.MALFORMED, 'bad_method');
  if (!headStatus(buf, off, end, partial, range, s)) return false;
  const rlStart = off;
  const headEnd = s.headEnd;
  // METHOD SP request-target SP HTTP-version, in one pass to the line's end: the spaces, where
  // the query starts, and the first fault, reported once the line is known to be whole.
  let sp1 = -1;
  let sp2 = -1;
  let query = -1;
  let fault: string | undefined;
  let i = rlStart;
  for (; i < headEnd; i++) {
    const c = buf[i] ?? 0;
    if (c > SP && c !== 0x7f) {
      if ((c === 0x3f /* ? */ || c === 0x23 /* # */) && query < 0 && sp2 < 0 && sp1 >= 0) query = i;
      continue;
    }
    if (c === SP) {
      if (sp1 < 0) sp1 = i; else if (sp2 < 0) sp2 = i; else fault ??= 'bad_request_line';
      continue;
    }
    if (c === LF || (c === CR && i + 1 < headEnd && buf[i + 1] === LF)) break;
    fault ??= 'control_character_in_request_line';
  }
  if (i >= headEnd) return fail(s, ScanStatus.INCOMPLETE, 'no_blank_line_yet'); // OPEN: the request line is cut
  const rlEnd = i;
  const firstLf = buf[i] === LF ? i : i + 1;
  if (fault !== undefined) return fail(s, ScanStatus.MALFORMED, fault);
  if (sp1 <= rlStart || sp2 <= sp1 + 1) return fail(s, ScanStatus.MALFORMED, 'bad_request_line');
  if (sp1 - rlStart > MAX_METHOD_LEN) return fail(s, ScanStatus.MALFORMED, 'bad_method');
  const version = parseVersion(buf, sp2 + 1, rlEnd);
  if (version === undefined) return fail(s, ScanStatus.MALFORMED, 'bad_http_version');
  const targetEnd = keepQuery || query < 0 ? sp2 : query;
  s.methodStart = rlStart;
  s.methodEnd = sp1;
  s.pathStart = sp1 + 1;
  s.pathEnd = Math.min(targetEnd, sp1 + 1 + MAX_PATH_CHARS);
  s.version = version;
  s.connectionClose = version === '1.0';
  if (!walkFields(buf, firstLf, s, true, range === HeadRange.OPEN)) return false;
  if (s.partial && s.headEnd < end) cutForwardedFor(buf, s.headEnd, end, s);
  s.length = s.headEnd - off;
  return true;
}

/**
 * A partial head ends with the line it was cut in (by the snaplen or the head bound): when
 * that line is an X-Forwarded-For, its complete entries (up to the last comma) still count,
 * so a list too long to capture is seen as one (xff_too_long). Other cut values are left out.
 */
function cutForwardedFor(buf: Uint8Array, ls: number, end: number, s: RequestHeadScan): void {
  let nameEnd = ls;
  while (nameEnd < end && isTchar(buf[nameEnd] ?? 0)) nameEnd++;
  if (nameEnd >= end || buf[nameEnd] !== COLON || headerId(buf, ls, nameEnd) !== Hdr.X_FORWARDED_FOR) return;
  let ve = end;
  while (ve > nameEnd && buf[ve - 1] !== COMMA) ve--;
  if (ve <= nameEnd + 1) return;
  ve--; // the comma
  let vs = nameEnd + 1;
  for (let j = vs; j < ve; j++) {
    const c = buf[j] ?? 0;
    if ((c < 0x20 && c !== HT) || c === 0x7f) return;
  }
  while (vs < ve && (buf[vs] === SP || buf[vs] === HT)) vs++;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
  if (ve > vs) { s.addXff(vs, ve); s.xffCut = true; }
}

/**
 * Scan a response head at buf[off, off+length) into `s` without making strings.
 * Returns true when s.status is OK. The same verdicts as parseResponseHead.
 * `range` as for scanRequestHead.
 */
export function scanResponseHead(buf: Uint8Array, off: number, length: number, partial: boolean, s: ResponseHeadScan,
  range: HeadRange = HeadRange.SPLIT): boolean {
  s.reset(buf);
  if (badOffset(buf, off)) return fail(s, ScanStatus.MALFORMED, 'bad_offset');
  const end = boundedEnd(buf, off, length);
  if (end > off && !looksLikeResponseStart(buf, off, end - off)) return fail(s, ScanStatus.MALFORMED, 'bad_status_line');
  if (!headStatus(buf, off, end, partial, range, s)) return false;
  const slStart = off;
  const slEnd = lineEndAt(buf, off, s.headEnd);
  const firstLf = lineLf;
  if (firstLf >= s.headEnd) return fail(s, ScanStatus.INCOMPLETE, 'no_blank_line_yet'); // OPEN: the status line is cut
  // HTTP-version SP 3DIGIT SP [reason]  (the reason phrase may be empty, the SP before it is often missing)
  if (slEnd - slStart < 12) return fail(s, ScanStatus.MALFORMED, 'bad_status_line');
  const version = parseVersion(buf, slStart, slStart + 8);
  if (version === undefined) return fail(s, ScanStatus.MALFORMED, 'bad_http_version');
  if (buf[slStart + 8] !== SP) return fail(s, ScanStatus.MALFORMED, 'bad_status_line');
  let status = 0;
  for (let k = 9; k < 12; k++) {
    const c = buf[slStart + k] ?? 0;
    if (c < 0x30 || c > 0x39) return fail(s, ScanStatus.MALFORMED, 'bad_status_code');
    status = status * 10 + (c - 0x30);
  }
  if (status < 100) return fail(s, ScanStatus.MALFORMED, 'bad_status_code');
  if (slEnd - slStart > 12 && buf[slStart + 12] !== SP) return fail(s, ScanStatus.MALFORMED, 'bad_status_code');
  for (let i = slStart; i < slEnd; i++) {
    const c = buf[i] ?? 0;
    if ((c < 0x20 && c !== HT) || c === 0x7f) return fail(s, ScanStatus.MALFORMED, 'control_character_in_status_line');
  }
  s.status3 = status;
  s.version = version;
  s.connectionClose = version === '1.0';
  if (!walkFields(buf, firstLf, s, false, range === HeadRange.OPEN)) return false;
  s.length = s.headEnd - off;
  return true;
}

const KNOWN_METHODS: ReadonlyArray<[string, Uint8Array]> = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE']
  .map((m) => [m, Buffer.from(m, 'latin1')]);

/** The request's method: a shared constant for the registered ones (no string made per request). */
export function scannedMethod(s: RequestHeadScan): string {
  const b = s.buf;
  const m = s.methodStart;
  const n = s.methodEnd - m;
  if (n === 3 && b[m] === 0x47 && b[m + 1] === 0x45 && b[m + 2] === 0x54) return 'GET';
  for (let j = 0; j < KNOWN_METHODS.length; j++) {
    const known = KNOWN_METHODS[j] as [string, Uint8Array];
    const bytes = known[1];
    if (bytes.length !== n) continue;
    let k = 0;
    while (k < n && b[m + k] === bytes[k]) k++;
    if (k === n) return known[0];
  }
  return latin1(b, m, s.methodEnd);
}

function optional(buf: Uint8Array, start: number, end: number): string | undefined {
  return start < 0 ? undefined : latin1(buf, start, end);
}

/** All X-Forwarded-For fields joined with ", " in arrival order (RFC 9110 5.3), or undefined. */
export function scannedForwardedFor(s: RequestHeadScan): string | undefined {
  if (s.xffFields === 0) return undefined;
  let v = latin1(s.buf, s.xffRanges[0] ?? 0, s.xffRanges[1] ?? 0);
  for (let k = 1; k < s.xffFields; k++) v = `${v}, ${latin1(s.buf, s.xffRanges[2 * k] ?? 0, s.xffRanges[2 * k + 1] ?? 0)}`;
  return v;
}

/** The scan as the HttpRequestHead object (strings made here). */
export function requestHeadOf(s: RequestHeadScan): HttpRequestHead {
  const b = s.buf;
  return {
    method: scannedMethod(s), path: latin1(b, s.pathStart, s.pathEnd), version: s.version,
    host: optional(b, s.hostStart, s.hostEnd), userAgent: optional(b, s.uaStart, s.uaEnd), xForwardedFor: scannedForwardedFor(s),
    xForwardedProto: optional(b, s.xfProtoStart, s.xfProtoEnd), xForwardedPort: optional(b, s.xfPortStart, s.xfPortEnd),
    traceId: optional(b, s.traceStart, s.traceEnd), traceIdFields: s.traceIdFields, expectContinue: s.expectContinue,
    upgrade: optional(b, s.upgradeStart, s.upgradeEnd), hasAuthorization: s.hasAuthorization, hasCookie: s.hasCookie,
    contentLength: s.contentLength, chunked: s.chunked, connectionClose: s.connectionClose, partial: s.partial,
  };
}

/** The scan as the HttpResponseHead object. */
export function responseHeadOf(s: ResponseHeadScan): HttpResponseHead {
  return {
    status: s.status3, version: s.version, hasSetCookie: s.hasSetCookie,
    contentLength: s.contentLength, chunked: s.chunked, connectionClose: s.connectionClose, partial: s.partial,
  };
}

function notOk<T>(s: HeadScan): Parsed<T> {
  return s.status === ScanStatus.INCOMPLETE ? incomplete(s.reason) : malformed(s.reason);
}

/** Parse a request head at buf[off, off+length). */
export function parseRequestHead(buf: Uint8Array, off: number, length: number, opts: HeadOptions = {}): Parsed<HttpRequestHead> {
  const s = new RequestHeadScan();
  if (!scanRequestHead(buf, off, length, opts.keepQuery === true, opts.partial === true, s)) return notOk(s);
  return ok(requestHeadOf(s), s.length);
}

/** Parse a response head at buf[off, off+length). */
export function parseResponseHead(buf: Uint8Array, off: number, length: number, opts: HeadOptions = {}): Parsed<HttpResponseHead> {
  const s = new ResponseHeadScan();
  if (!scanResponseHead(buf, off, length, opts.partial === true, s)) return notOk(s);
  return ok(responseHeadOf(s), s.length);
}

/**
 * Whether a response to `method` with `status` carries a body at all (RFC 9112 6.3):
 * HEAD responses, 1xx, 204 and 304 never do.
 */
export function responseHasBody(method: string | undefined, status: number): boolean {
  if (method === 'HEAD') return false;
  if (status < 200 || status === 204 || status === 304) return false;
  if (method === 'CONNECT' && status >= 200 && status < 300) return false;
  return true;
}
