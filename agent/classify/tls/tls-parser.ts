/**
 * TLS record layer, ClientHello (version, SNI, ALPN) and alert records (RFC 8446,
 * RFC 5246, RFC 6066, RFC 7301), parsed from a byte range without throwing.
 * Only plaintext records are meaningful here: alerts sent after the handshake
 * (or after a TLS 1.3 ServerHello) are encrypted and show up as application data.
 */
import { badOffset, boundedEnd, incomplete, malformed, ok, type Parsed } from '../parse-result.js';

export const TlsContentType = { CHANGE_CIPHER_SPEC: 20, ALERT: 21, HANDSHAKE: 22, APPLICATION_DATA: 23, HEARTBEAT: 24 } as const;
export const TlsHandshakeType = { CLIENT_HELLO: 1, SERVER_HELLO: 2 } as const;

/** RFC 8446 5.1: a record carries at most 2^14 bytes (+256 for ciphertext expansion in 1.2, +2048 allowed by 5246). */
export const MAX_RECORD_LENGTH = 16384 + 2048;
export const TLS_RECORD_HEADER_LENGTH = 5;

export type TlsRecordHeader = {
  contentType: number;
  /** Legacy record version, e.g. 0x0303. */
  version: number;
  /** Length of the fragment after the 5-byte header. */
  length: number;
};

/** Parse the 5-byte record header; ok even when the fragment itself is not all present yet. */
export function parseTlsRecordHeader(buf: Uint8Array, off: number, length: number): Parsed<TlsRecordHeader> {
  if (badOffset(buf, off)) return malformed('bad_offset');
  const end = boundedEnd(buf, off, length);
  const avail = end - off;
  if (avail <= 0) return incomplete('empty');
  const ct = buf[off] ?? 0;
  if (ct < TlsContentType.CHANGE_CIPHER_SPEC || ct > TlsContentType.HEARTBEAT) return malformed('bad_content_type');
  if (avail >= 2 && buf[off + 1] !== 3) return malformed('bad_record_version');
  if (avail >= 3 && (buf[off + 2] ?? 0) > 4) return malformed('bad_record_version');
  if (avail < TLS_RECORD_HEADER_LENGTH) return incomplete('short_record_header');
  const version = ((buf[off + 1] ?? 0) << 8) | (buf[off + 2] ?? 0);
  const len = ((buf[off + 3] ?? 0) << 8) | (buf[off + 4] ?? 0);
  if (len === 0 && ct !== TlsContentType.APPLICATION_DATA) return malformed('empty_record');
  if (len > MAX_RECORD_LENGTH) return malformed('record_too_long');
  return ok({ contentType: ct, version, length: len }, TLS_RECORD_HEADER_LENGTH);
}

/** True when the bytes could start a TLS handshake record (for protocol detection). */
export function looksLikeTlsHandshake(buf: Uint8Array, off: number, length: number): boolean {
  const end = boundedEnd(buf, off, length);
  if (end - off < 1) return false;
  if (buf[off] !== TlsContentType.HANDSHAKE) return false;
  if (end - off >= 2 && buf[off + 1] !== 3) return false;
  return true;
}

/**
 * True when the bytes begin a handshake record (SSL 3.0 to TLS 1.3 framing) whose first message
 * is a ClientHello: stricter than looksLikeTlsHandshake, for bytes that need not start a
 * connection (one picked up midstream, where a handshake record may be a renegotiation's).
 */
export function isClientHelloStart(buf: Uint8Array, off: number, length: number): boolean {
  if (boundedEnd(buf, off, length) - off < 6) return false;
  return buf[off] === TlsContentType.HANDSHAKE && buf[off + 1] === 3 && (buf[off + 2] ?? 9) <= 4 && buf[off + 5] === 1;
}

/**
 * True when the bytes begin with a plausible TLS record header: content type 20-23 (change cipher
 * spec, alert, handshake, application data), version 3.0-3.4, a length of 1 to 2^14 + 2048. For a
 * connection picked up midstream, whose segments start at a record boundary only sometimes.
 */
export function isTlsRecordStart(buf: Uint8Array, off: number, length: number): boolean {
  if (boundedEnd(buf, off, length) - off < 5) return false;
  const type = buf[off] ?? 0;
  const len = ((buf[off + 3] ?? 0) << 8) | (buf[off + 4] ?? 0);
  return type >= 20 && type <= 23 && buf[off + 1] === 3 && (buf[off + 2] ?? 9) <= 4 && len >= 1 && len <= 16384 + 2048;
}

export const TlsVersionName: Readonly<Record<number, string>> = {
  0x0300: 'SSLv3', 0x0301: 'TLSv1.0', 0x0302: 'TLSv1.1', 0x0303: 'TLSv1.2', 0x0304: 'TLSv1.3',
};

export type ClientHello = {
  /** Highest version offered: supported_versions when present (TLS 1.3), else legacy_version. */
  version: number;
  versionName: string;
  legacyVersion: number;
  sni: string | undefined;
  alpn: string[];
};

const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
/** Values of the form 0x?a?a reserved by GREASE (RFC 8701) are not versions. */
function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);
}

/**
 * Parse a ClientHello from the start of a TLS record (header included). A hello
 * that spans several records is reported incomplete for the part present; the
 * caller may pass the reassembled handshake bytes via parseClientHelloBody.
 */
export function parseClientHelloRecord(buf: Uint8Array, off: number, length: number): Parsed<ClientHello> {
  const hdr = parseTlsRecordHeader(buf, off, length);
  if (hdr.status !== 'ok') return hdr as Parsed<never>;
  if (hdr.value.contentType !== TlsContentType.HANDSHAKE) return malformed('not_handshake');
  const end = boundedEnd(buf, off, length);
  const fragEnd = Math.min(end, off + 5 + hdr.value.length);
  const r = parseClientHelloBody(buf, off + 5, fragEnd - (off + 5));
  // The unit is the record: a hello shorter than a record not yet whole (more
  // handshake messages follow in it) must not claim bytes that are not there.
  if (r.status === 'ok' && fragEnd < off + 5 + hdr.value.length) return incomplete('record_spans_segments');
  if (r.status === 'ok') return ok(r.value, 5 + hdr.value.length);
  return r;
}

/** Parse a ClientHello handshake message (type 1, 3-byte length, body). */
export function parseClientHelloBody(buf: Uint8Array, off: number, length: number): Parsed<ClientHello> {
  if (badOffset(buf, off)) return malformed('bad_offset');
  const end = boundedEnd(buf, off, length);
  if (end - off < 1) return incomplete('empty');
  if (buf[off] !== TlsHandshakeType.CLIENT_HELLO) return malformed('not_client_hello');
  if (end - off < 4) return incomplete('short_handshake_header');
  const hsLen = ((buf[off + 1] ?? 0) << 16) | ((buf[off + 2] ?? 0) << 8) | (buf[off + 3] ?? 0);
  const bodyEnd = off + 4 + hsLen;
  if (hsLen < 38) return malformed('client_hello_too_short');
  if (bodyEnd > end) return incomplete('client_hello_spans_records');
  let p = off + 4;
  const u8 = (): number => buf[p++] ?? 0;
  const u16 = (): number => { const v = ((buf[p] ?? 0) << 8) | (buf[p + 1] ?? 0); p += 2; return v; };
  const legacyVersion = u16();
  p += 32; // random
  const sidLen = u8();
  if (sidLen > 32 || p + sidLen > bodyEnd) return malformed('bad_session_id');
  p += sidLen;
  if (p + 2 > bodyEnd) return malformed('truncated_cipher_suites');
  const csLen = u16();
  if (csLen < 2 || csLen % 2 !== 0 || p + csLen > bodyEnd) return malformed('bad_cipher_suites');
  p += csLen;
  if (p + 1 > bodyEnd) return malformed('truncated_compression_methods');
  const cmLen = u8();
  if (cmLen < 1 || p + cmLen > bodyEnd) return malformed('bad_compression_methods');
  p += cmLen;
  const hello: ClientHello = { version: legacyVersion, versionName: '', legacyVersion, sni: undefined, alpn: [] };
  if (p === bodyEnd) { hello.versionName = TlsVersionName[hello.version] ?? `0x${hello.version.toString(16)}`; return ok(hello, bodyEnd - off); }
  if (p + 2 > bodyEnd) return malformed('truncated_extensions');
  const extTotal = u16();
  if (p + extTotal !== bodyEnd) return malformed('bad_extensions_length');
  while (p < bodyEnd) {
    if (p + 4 > bodyEnd) return malformed('truncated_extension');
    const type = u16();
    const len = u16();
    const extEnd = p + len;
    if (extEnd > bodyEnd) return malformed('truncated_extension');
    if (type === EXT_SERVER_NAME && len >= 2) {
      const listLen = u16();
      if (p + listLen > extEnd) return malformed('bad_server_name');
      while (p + 3 <= extEnd) {
        const nameType = u8();
        const nameLen = u16();
        if (p + nameLen > extEnd) return malformed('bad_server_name');
        if (nameType === 0 && hello.sni === undefined) {
          hello.sni = Buffer.from(buf.buffer, buf.byteOffset + p, nameLen).toString('latin1');
        }
        p += nameLen;
      }
    } else if (type === EXT_ALPN && len >= 2) {
      const listLen = u16();
      if (p + listLen > extEnd) return malformed('bad_alpn');
      while (p < extEnd) {
        const l = u8();
        if (l === 0 || p + l > extEnd) return malformed('bad_alpn');
        if (hello.alpn.length < 16) hello.alpn.push(Buffer.from(buf.buffer, buf.byteOffset + p, l).toString('latin1'));
        p += l;
      }
    } else if (type === EXT_SUPPORTED_VERSIONS && len >= 1) {
      const listLen = u8();
      if (p + listLen > extEnd || listLen % 2 !== 0) return malformed('bad_supported_versions');
      let best = 0;
      for (let q = 0; q < listLen; q += 2) {
        const v = ((buf[p + q] ?? 0) << 8) | (buf[p + q + 1] ?? 0);
        if (!isGrease(v) && v > best && v <= 0x0304) best = v;
      }
      if (best > 0) hello.version = best;
    }
    p = extEnd;
  }
  hello.versionName = TlsVersionName[hello.version] ?? `0x${hello.version.toString(16)}`;
  return ok(hello, bodyEnd - off);
}

/** RFC 8446 6 / IANA TLS Alert registry. */
export const TlsAlertName: Readonly<Record<number, string>> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 21: 'decryption_failed',
  22: 'record_overflow', 30: 'decompression_failure', 40: 'handshake_failure', 41: 'no_certificate',
  42: 'bad_certificate', 43: 'unsupported_certificate', 44: 'certificate_revoked',
  45: 'certificate_expired', 46: 'certificate_unknown', 47: 'illegal_parameter', 48: 'unknown_ca',
  49: 'access_denied', 50: 'decode_error', 51: 'decrypt_error', 60: 'export_restriction',
  70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error',
  86: 'inappropriate_fallback', 90: 'user_canceled', 100: 'no_renegotiation',
  109: 'missing_extension', 110: 'unsupported_extension', 111: 'certificate_unobtainable',
  112: 'unrecognized_name', 113: 'bad_certificate_status_response', 114: 'bad_certificate_hash_value',
  115: 'unknown_psk_identity', 116: 'certificate_required', 120: 'no_application_protocol',
};

export const TlsAlertLevel = { WARNING: 1, FATAL: 2 } as const;

export type TlsAlert = {
  level: number;
  levelName: 'warning' | 'fatal' | 'unknown';
  description: number;
  descriptionName: string;
};

/**
 * Parse an alert record (header included). An encrypted alert (fragment longer
 * than 2 bytes) is reported malformed with reason 'encrypted_alert'.
 */
export function parseAlertRecord(buf: Uint8Array, off: number, length: number): Parsed<TlsAlert> {
  if (badOffset(buf, off)) return malformed('bad_offset');
  const hdr = parseTlsRecordHeader(buf, off, length);
  if (hdr.status !== 'ok') return hdr as Parsed<never>;
  if (hdr.value.contentType !== TlsContentType.ALERT) return malformed('not_alert');
  if (hdr.value.length !== 2) return malformed('encrypted_alert');
  const end = boundedEnd(buf, off, length);
  if (end - off < 7) return incomplete('short_alert');
  const level = buf[off + 5] ?? 0;
  const description = buf[off + 6] ?? 0;
  if (level !== TlsAlertLevel.WARNING && level !== TlsAlertLevel.FATAL) return malformed('bad_alert_level');
  return ok({
    level,
    levelName: level === TlsAlertLevel.FATAL ? 'fatal' : 'warning',
    description,
    descriptionName: TlsAlertName[description] ?? `unknown_${description}`,
  }, 7);
}
