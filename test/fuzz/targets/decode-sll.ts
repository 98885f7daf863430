/** decode() of LINUX_SLL frames (see decode-common.ts for the input format and invariants). */
import { LinkType } from '../../../agent/capture/packet-source.js';
import { decodeTarget, IP_DICTIONARY } from './decode-common.js';

export const target = decodeTarget('decode-sll', LinkType.LINUX_SLL, IP_DICTIONARY);
