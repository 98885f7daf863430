/** decode() of LINUX_SLL2 frames (see decode-common.ts for the input format and invariants). */
import { LinkType } from '../../../agent/capture/packet-source.js';
import { decodeTarget, IP_DICTIONARY } from './decode-common.js';

export const target = decodeTarget('decode-sll2', LinkType.LINUX_SLL2, IP_DICTIONARY);
