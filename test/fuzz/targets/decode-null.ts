/** decode() of NULL frames (see decode-common.ts for the input format and invariants). */
import { LinkType } from '../../../agent/capture/packet-source.js';
import { decodeTarget, IP_DICTIONARY } from './decode-common.js';

export const target = decodeTarget('decode-null', LinkType.NULL, IP_DICTIONARY);
