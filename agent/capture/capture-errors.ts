/**
 * One-line, actionable CaptureErrors built from libpcap's error strings. libpcap
 * only gives text, so the mapping is by pattern; the patterns are the messages of
 * libpcap 1.10 on Linux (pcap-linux.c, savefile.c, gencode.c) and of the bindings.
 */
import { CaptureError, CaptureErrorCode } from './packet-source.js';

export const LIST_INTERFACES_HINT = 'list them with: ip -br link';
export const PERMISSION_HINT =
  'run as root or grant CAP_NET_RAW (docker run --cap-add=NET_RAW, or setcap cap_net_raw+ep $(readlink -f $(which node)))';

/** Collapse libpcap's text to one line without a trailing full stop. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/\.$/, '');
}

export function noSuchInterfaceError(name: string, available: readonly string[]): CaptureError {
  const list = available.length > 0 ? available.join(', ') : 'none';
  return new CaptureError(CaptureErrorCode.NO_SUCH_INTERFACE,
    `no such interface "${name}"; available: ${list} (${LIST_INTERFACES_HINT})`);
}

export function noPermissionError(name: string): CaptureError {
  return new CaptureError(CaptureErrorCode.NO_PERMISSION, `cannot capture on "${name}": permission denied; ${PERMISSION_HINT}`);
}

export function badFilterError(expression: string, reason: string): CaptureError {
  return new CaptureError(CaptureErrorCode.BAD_FILTER, `bad capture filter "${expression}": ${oneLine(reason)}`);
}

export function badFileError(path: string, reason: string): CaptureError {
  // savefile.c prefixes some messages with the path already; do not say it twice.
  const r = oneLine(reason).replace(`${path}: `, '');
  return new CaptureError(CaptureErrorCode.BAD_FILE, `cannot read capture file "${path}": ${r}`);
}

const NO_SUCH_DEVICE = /no such device|doesn't exist|does not exist|SIOCGIFINDEX/i;
const NO_PERMISSION = /operation not permitted|permission denied|you don't have permission|EPERM|EACCES/i;
const FILTER = /filter|syntax error|parse|expression|unknown (host|port|protocol|network)|not implemented/i;

export type PcapErrorContext = Readonly<{
  /** The interface being opened (live) or undefined. */
  interfaceName?: string | undefined;
  /** The capture file being opened, or undefined. */
  file?: string | undefined;
  /** The complete BPF expression passed to libpcap. */
  filter?: string | undefined;
  /** Interface names to offer when the interface does not exist. */
  available?: readonly string[] | undefined;
}>;

/** Map a libpcap/binding error message to a CaptureError with a one-line message. */
export function captureErrorFromPcap(message: string, ctx: PcapErrorContext): CaptureError {
  const msg = oneLine(message);
  // Filter compile errors come after the open succeeded, so check them first.
  if (ctx.filter && FILTER.test(msg) && !NO_PERMISSION.test(msg)) return badFilterError(ctx.filter, msg);
  if (ctx.file !== undefined) return badFileError(ctx.file, msg);
  const name = ctx.interfaceName ?? '(default)';
  if (NO_SUCH_DEVICE.test(msg)) return noSuchInterfaceError(name, ctx.available ?? []);
  if (NO_PERMISSION.test(msg)) return noPermissionError(name);
  if (/not up/i.test(msg)) {
    return new CaptureError(CaptureErrorCode.OTHER, `cannot capture on "${name}": the interface is down; bring it up with: ip link set ${name} up`);
  }
  return new CaptureError(CaptureErrorCode.OTHER, `cannot capture on "${name}": ${msg}`);
}
