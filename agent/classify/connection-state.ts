/**
 * What the classifiers remember about one TCP connection (kept in the
 * connection's `app` slot) and the facts they are given about it.
 */
import type { HttpStream } from './http/http-stream.js';
import type { ProxyHeader } from './proxy-protocol/proxy-parser.js';
import type { TlsStream } from './tls/tls-stream.js';

/** The connection as the classifiers see it: originator = the side that sent the SYN. */
export type ConnFacts = Readonly<{
  originatorIp: string;
  originatorPort: number;
  responderIp: string;
  responderPort: number;
  /** The connection was carried inside GENEVE (a Gateway Load Balancer flow). */
  geneve?: boolean;
}>;

/** How a connection left the table, from the classifiers' point of view. */
export const ConnEnd = {
  FIN_BY_ORIGINATOR: 'fin_by_originator',
  FIN_BY_RESPONDER: 'fin_by_responder',
  RESET_BY_ORIGINATOR: 'reset_by_originator',
  RESET_BY_RESPONDER: 'reset_by_responder',
  /** SYN answered by RST. */
  REFUSED: 'refused',
  /** SYN never answered. */
  UNANSWERED: 'unanswered',
  /** Idle expiry or table eviction while still open. */
  EXPIRED: 'expired',
} as const;
export type ConnEnd = (typeof ConnEnd)[keyof typeof ConnEnd];

export const Phase = { PRELUDE: 0, HTTP: 1, TLS: 2, H2: 3, OPAQUE: 4 } as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Bit per LB indicator seen on this flow (see LbIndicator). */
export const IndicatorBit = {
  TRACE_ID: 1, FORWARDED_WITHOUT_TRACE: 2, HEALTH_CHECKER_V2: 4, HEALTH_CHECKER_V1: 8,
  PROXY_V1: 16, PROXY_V2: 32, TCP_HEALTH_CHECK: 64, DIRECT_CLIENT: 128, GENEVE: 256,
} as const;

export type PendingRequest = {
  method: string;
  path: string;
  /** First and last byte timestamps of the request (µs). */
  firstTs: number;
  lastTs: number;
  clientIp: string;
  traceId: string | undefined;
  /** ELB health checker version when this is a health check. */
  hc: 'v1' | 'v2' | undefined;
  /** A health check already reported as timed out. */
  timedOut: boolean;
};

export class ConnectionState {
  readonly facts: ConnFacts;
  readonly openedTs: number;
  phase: Phase = Phase.PRELUDE;
  /** Originator bytes held until the protocol is known (proxy header, first request or hello). */
  pre: Buffer | undefined;
  preLen = 0;
  preStart = 0;
  /** Next expected sequence number per direction, or -1 before the first payload. */
  nextSeqC2s = -1;
  nextSeqS2c = -1;
  c2sBytes = 0;
  s2cBytes = 0;
  serverFirst = false;
  proxyDone = false;
  proxy: ProxyHeader | undefined;
  indicators = 0;
  req: HttpStream | undefined;
  res: HttpStream | undefined;
  pending: PendingRequest[] = [];
  tlsC2s: TlsStream | undefined;
  tlsS2c: TlsStream | undefined;
  helloSeen = false;
  handshakeDone = false;
  sni: string | undefined;
  httpHealthCheck = false;
  clientCounted = false;
  closed = false;

  constructor(facts: ConnFacts, openedTs: number) {
    this.facts = facts;
    this.openedTs = openedTs;
  }
}
