/**
 * HTTP/1.x message heads (request line or status line, then header fields, ending
 * at the blank line), parsed from a byte range without throwing. Only the fields
 * the analysis needs are kept; the values of credentials (Authorization, Cookie,
 * Set-Cookie, Proxy-Authorization) are never copied out of the packet, only their
 * presence is recorded.
 */
import { badOffset, boundedEnd, incomplete, malformed, ok, type Parsed } from '../../../agent/classify/parse-result.js';

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

/** RFC 9110 tchar. */
function isTchar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x21 || (c >= 0x23 && c <= 0x27) || c === 0x2a || c === 0x2b || c === 0x2d || c === 0x2e ||
    c === 0x5e || c === 0x5f || c === 0x60 || c === 0x7c || c === 0x7e;
}

/**
 * Offset just after the blank line that ends a head starting at `off`, or -1 when
 * the bytes up to `end` hold no blank line. Accepts CRLF and bare LF line ends.
 */
export function findHeadEnd(buf: Uint8Array, off: number, end: number): number {
  for (let i = off; i < end; i++) {
    if (buf[i] !== LF) continue;
    // An LF followed by CRLF or by LF is the end of the head.
    const n = buf[i + 1];
    if (i + 1 < end && n === LF) return i + 2;
    if (i + 2 < end && n === CR && buf[i + 2] === LF) return i + 3;
  }
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

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

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

type Line = { start: number; end: number };

/** Splits [off, end) into lines (without CR/LF) up to the blank line; returns the lines and the head end. */
function splitHead(buf: Uint8Array, off: number, end: number, partial: boolean): { lines: Line[]; headEnd: number; complete: boolean } | undefined {
  const lines: Line[] = [];
  let lineStart = off;
  for (let i = off; i < end; i++) {
    if (buf[i] !== LF) continue;
    let lineEnd = i;
    if (lineEnd > lineStart && buf[lineEnd - 1] === CR) lineEnd--;
    if (lineEnd === lineStart && lines.length > 0) return { lines, headEnd: i + 1, complete: true };
    lines.push({ start: lineStart, end: lineEnd });
    lineStart = i + 1;
  }
  if (!partial) return undefined;
  return { lines, headEnd: lineStart, complete: false };
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

function parseVersion(buf: Uint8Array, start: number, end: number): HttpVersion | undefined {
  if (end - start !== 8) return undefined;
  for (let k = 0; k < 5; k++) if (buf[start + k] !== HTTP_SLASH[k]) return undefined;
  if (buf[start + 5] !== 0x31 || buf[start + 6] !== 0x2e) return undefined;
  const minor = buf[start + 7];
  if (minor === 0x31) return '1.1';
  if (minor === 0x30) return '1.0';
  return undefined;
}

type HeaderSink = (lowerName: string, buf: Uint8Array, valueStart: number, valueEnd: number) => void;

/** Lengths of the header names any sink cares about: other names are never decoded (hot path). */
const WANTED_NAME_LENGTHS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'host', 'user-agent',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port', 'x-amzn-trace-id', 'expect', 'upgrade', 'connection',
  'content-length', 'transfer-encoding'].map((n) => n.length));

/** Walks header lines; returns a malformed reason or undefined. */
function walkHeaders(buf: Uint8Array, lines: readonly Line[], sink: HeaderSink): string | undefined {
  for (let li = 1; li < lines.length; li++) {
    const line = lines[li];
    if (line === undefined) break;
    const first = buf[line.start];
    // Obsolete line folding (RFC 9112 5.2): continuation of the previous field, ignored.
    if (first === SP || first === HT) continue;
    let colon = -1;
    for (let i = line.start; i < line.end; i++) {
      const c = buf[i] ?? 0;
      if (c === COLON) { colon = i; break; }
      if (!isTchar(c)) return 'bad_header_name';
    }
    if (colon <= line.start) return 'bad_header_line';
    let vs = colon + 1;
    let ve = line.end;
    while (vs < ve && (buf[vs] === SP || buf[vs] === HT)) vs++;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
    for (let i = vs; i < ve; i++) {
      const c = buf[i] ?? 0;
      // Field values may carry obs-text (>= 0x80) but no control characters other than tab.
      if (c < 0x20 && c !== HT) return 'control_character_in_header';
      if (c === 0x7f) return 'control_character_in_header';
    }
    if (WANTED_NAME_LENGTHS.has(colon - line.start)) sink(latin1(buf, line.start, colon).toLowerCase(), buf, vs, ve);
  }
  return undefined;
}

function applyFraming(f: HttpFraming, name: string, value: string): boolean {
  switch (name) {
    case 'content-length': {
      const t = value.trim();
      const n = /^[0-9]{1,15}$/.test(t) ? Number(t) : -2;
      if (f.contentLength === -1) f.contentLength = n;
      else if (f.contentLength !== n) f.contentLength = -2;
      return true;
    }
    case 'transfer-encoding':
      if (/(^|,)\s*chunked\s*$/i.test(value)) f.chunked = true;
      return true;
    case 'connection':
      if (/(^|,)\s*close\s*(,|$)/i.test(value)) f.connectionClose = true;
      return true;
    default:
      return false;
  }
}

function headStatus<T>(buf: Uint8Array, off: number, end: number, partial: boolean): Parsed<T> | { lines: Line[]; headEnd: number; complete: boolean } {
  if (end <= off) return incomplete('empty');
  const split = splitHead(buf, off, end, partial);
  if (split === undefined) {
    return end - off >= MAX_HEAD_BYTES ? malformed('head_too_large') : incomplete('no_blank_line_yet');
  }
  if (split.headEnd - off > MAX_HEAD_BYTES) return malformed('head_too_large');
  if (split.lines.length === 0) return partial ? malformed('no_start_line') : incomplete('no_start_line_yet');
  return split;
}

/** Parse a request head at buf[off, off+length). */
export function parseRequestHead(buf: Uint8Array, off: number, length: number, opts: HeadOptions = {}): Parsed<HttpRequestHead> {
  if (badOffset(buf, off)) return malformed('bad_offset');
  const end = boundedEnd(buf, off, length);
  if (end > off && !looksLikeRequestStart(buf, off, end - off)) return malformed('bad_method');
  const head = headStatus<HttpRequestHead>(buf, off, end, opts.partial === true);
  if ('status' in head) return head;
  const { lines, headEnd, complete } = head;
  const rl = lines[0] as Line;
  // METHOD SP request-target SP HTTP-version
  let sp1 = -1;
  let sp2 = -1;
  for (let i = rl.start; i < rl.end; i++) {
    const c = buf[i] ?? 0;
    if (c === SP) { if (sp1 < 0) sp1 = i; else if (sp2 < 0) sp2 = i; else return malformed('bad_request_line'); }
    else if (c < 0x21 || c === 0x7f) return malformed('control_character_in_request_line');
  }
  if (sp1 <= rl.start || sp2 <= sp1 + 1) return malformed('bad_request_line');
  if (sp1 - rl.start > MAX_METHOD_LEN) return malformed('bad_method');
  const version = parseVersion(buf, sp2 + 1, rl.end);
  if (version === undefined) return malformed('bad_http_version');
  let targetEnd = sp2;
  if (opts.keepQuery !== true) {
    for (let i = sp1 + 1; i < sp2; i++) if (buf[i] === 0x3f /* ? */ || buf[i] === 0x23 /* # */) { targetEnd = i; break; }
  }
  const path = latin1(buf, sp1 + 1, Math.min(targetEnd, sp1 + 1 + MAX_PATH_CHARS));
  const req: HttpRequestHead = {
    method: latin1(buf, rl.start, sp1), path, version,
    host: undefined, userAgent: undefined, xForwardedFor: undefined, xForwardedProto: undefined,
    xForwardedPort: undefined, traceId: undefined, traceIdFields: 0, expectContinue: false, upgrade: undefined,
    hasAuthorization: false, hasCookie: false,
    contentLength: -1, chunked: false, connectionClose: version === '1.0', partial: !complete,
  };
  const bad = walkHeaders(buf, lines, (name, b, vs, ve) => {
    switch (name) {
      // Credentials: presence only, the value is never decoded.
      case 'authorization': case 'proxy-authorization': req.hasAuthorization = true; return;
      case 'cookie': req.hasCookie = true; return;
      case 'host': req.host ??= latin1(b, vs, ve); return;
      case 'user-agent': req.userAgent ??= latin1(b, vs, ve); return;
      case 'x-forwarded-for': {
        const v = latin1(b, vs, ve);
        req.xForwardedFor = req.xForwardedFor === undefined ? v : `${req.xForwardedFor}, ${v}`;
        return;
      }
      case 'x-forwarded-proto': req.xForwardedProto ??= latin1(b, vs, ve); return;
      case 'x-forwarded-port': req.xForwardedPort ??= latin1(b, vs, ve); return;
      case 'x-amzn-trace-id': req.traceIdFields++; req.traceId ??= latin1(b, vs, ve); return;
      case 'expect': if (/^100-continue$/i.test(latin1(b, vs, ve))) req.expectContinue = true; return;
      case 'upgrade': req.upgrade = latin1(b, vs, ve); return;
      case 'connection': {
        const v = latin1(b, vs, ve);
        applyFraming(req, name, v);
        if (/(^|,)\s*keep-alive\s*(,|$)/i.test(v) && version === '1.0') req.connectionClose = false;
        return;
      }
      default: {
        if (name === 'content-length' || name === 'transfer-encoding') applyFraming(req, name, latin1(b, vs, ve));
      }
    }
  });
  if (bad !== undefined) return malformed(bad);
  if (!complete && headEnd < end) {
    // The line the head was cut in: an X-Forwarded-For keeps its entries up to the last comma.
    const m = /^x-forwarded-for:([^]*),/i.exec(latin1(buf, headEnd, end));
    const raw = m?.[1];
    if (raw !== undefined && !/[\x00-\x08\x0a-\x1f\x7f]/.test(raw)) {
      const v = raw.replace(/^[ \t]+|[ \t]+$/g, '');
      if (v !== '') req.xForwardedFor = req.xForwardedFor === undefined ? v : `${req.xForwardedFor}, ${v}`;
    }
  }
  return ok(req, headEnd - off);
}

/** Parse a response head at buf[off, off+length). */
export function parseResponseHead(buf: Uint8Array, off: number, length: number, opts: HeadOptions = {}): Parsed<HttpResponseHead> {
  if (badOffset(buf, off)) return malformed('bad_offset');
  const end = boundedEnd(buf, off, length);
  if (end > off && !looksLikeResponseStart(buf, off, end - off)) return malformed('bad_status_line');
  const head = headStatus<HttpResponseHead>(buf, off, end, opts.partial === true);
  if ('status' in head) return head;
  const { lines, headEnd, complete } = head;
  const sl = lines[0] as Line;
  // HTTP-version SP 3DIGIT SP [reason]  (the reason phrase may be empty, the SP before it is often missing)
  if (sl.end - sl.start < 12) return malformed('bad_status_line');
  const version = parseVersion(buf, sl.start, sl.start + 8);
  if (version === undefined) return malformed('bad_http_version');
  if (buf[sl.start + 8] !== SP) return malformed('bad_status_line');
  let status = 0;
  for (let k = 9; k < 12; k++) {
    const c = buf[sl.start + k] ?? 0;
    if (c < 0x30 || c > 0x39) return malformed('bad_status_code');
    status = status * 10 + (c - 0x30);
  }
  if (status < 100) return malformed('bad_status_code');
  if (sl.end - sl.start > 12 && buf[sl.start + 12] !== SP) return malformed('bad_status_code');
  for (let i = sl.start; i < sl.end; i++) {
    const c = buf[i] ?? 0;
    if ((c < 0x20 && c !== HT) || c === 0x7f) return malformed('control_character_in_status_line');
  }
  const res: HttpResponseHead = {
    status, version, hasSetCookie: false,
    contentLength: -1, chunked: false, connectionClose: version === '1.0',
    partial: !complete,
  };
  const bad = walkHeaders(buf, lines, (name, b, vs, ve) => {
    if (name === 'set-cookie') { res.hasSetCookie = true; return; }
    if (name === 'content-length' || name === 'transfer-encoding' || name === 'connection') {
      const v = latin1(b, vs, ve);
      applyFraming(res, name, v);
      if (name === 'connection' && version === '1.0' && /(^|,)\s*keep-alive\s*(,|$)/i.test(v)) res.connectionClose = false;
    }
  });
  if (bad !== undefined) return malformed(bad);
  return ok(res, headEnd - off);
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
