/**
 * Connection states in Zeek's conn.log vocabulary, derived from the two
 * endpoints' states the same way Zeek's base/protocols/conn/main.zeek does, so
 * an operator who knows Zeek reads them without a legend.
 */
export const ConnState = {
  /** Connection attempt seen, no reply. */
  S0: 'S0',
  /** Established, not terminated. */
  S1: 'S1',
  /** Normal establishment and termination. */
  SF: 'SF',
  /** Connection attempt rejected (SYN answered by RST). */
  REJ: 'REJ',
  /** Established, close attempt by the originator seen, no reply from the responder. */
  S2: 'S2',
  /** Established, close attempt by the responder seen, no reply from the originator. */
  S3: 'S3',
  /** Established, the originator aborted (sent a RST). */
  RSTO: 'RSTO',
  /** The responder sent a RST. */
  RSTR: 'RSTR',
  /** The originator sent a SYN then a RST; no SYN-ACK seen. */
  RSTOS0: 'RSTOS0',
  /** The responder sent a SYN-ACK then a RST; no SYN from the originator seen. */
  RSTRH: 'RSTRH',
  /** The originator sent a SYN then a FIN; no SYN-ACK seen ("half" open). */
  SH: 'SH',
  /** The responder sent a SYN-ACK then a FIN; no SYN from the originator seen. */
  SHR: 'SHR',
  /** No SYN seen, just midstream traffic, not closed. */
  OTH: 'OTH',
} as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];
export const CONN_STATES: readonly ConnState[] = Object.values(ConnState);

/** One side's TCP state, as Zeek's TCP analyzer tracks it. */
export const EndpointState = {
  INACTIVE: 0,
  SYN_SENT: 1,
  SYN_ACK_SENT: 2,
  /** Sent data without a SYN being seen (midstream pick-up). */
  PARTIAL: 3,
  ESTABLISHED: 4,
  /** Sent a FIN. */
  CLOSED: 5,
  /** Sent a RST. */
  RESET: 6,
} as const;
export type EndpointState = (typeof EndpointState)[keyof typeof EndpointState];

// Zeek: RSTOS0 when the originator's history is a SYN then a RST with no
// handshake, ACK, FIN, gap, inconsistency or multi-flag packet in between.
const RSTOS0_HISTORY = /^\^?S[^HAFGIQ]*R/;

/** Zeek's conn_state() for TCP. `bytesOrig`/`bytesResp` are payload bytes in sequence space. */
export function connState(
  os: EndpointState,
  rs: EndpointState,
  bytesOrig: number,
  bytesResp: number,
  history: string,
): ConnState {
  const oInactive = os === EndpointState.INACTIVE || os === EndpointState.PARTIAL;
  const rInactive = rs === EndpointState.INACTIVE || rs === EndpointState.PARTIAL;
  if (rs === EndpointState.RESET) {
    if (os === EndpointState.SYN_SENT || os === EndpointState.SYN_ACK_SENT ||
        (os === EndpointState.RESET && bytesOrig === 0 && bytesResp === 0)) return ConnState.REJ;
    return oInactive ? ConnState.RSTRH : ConnState.RSTR;
  }
  if (os === EndpointState.RESET) {
    if (rInactive) return RSTOS0_HISTORY.test(history) ? ConnState.RSTOS0 : ConnState.OTH;
    return ConnState.RSTO;
  }
  if (rs === EndpointState.CLOSED && os === EndpointState.CLOSED) return ConnState.SF;
  if (os === EndpointState.CLOSED) return rInactive ? ConnState.SH : ConnState.S2;
  if (rs === EndpointState.CLOSED) return oInactive ? ConnState.SHR : ConnState.S3;
  if (os === EndpointState.SYN_SENT && rs === EndpointState.INACTIVE) return ConnState.S0;
  if (os === EndpointState.ESTABLISHED && rs === EndpointState.ESTABLISHED) return ConnState.S1;
  return ConnState.OTH;
}
