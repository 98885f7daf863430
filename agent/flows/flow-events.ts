import type { EventFactory } from '../events/event-factory.js';
import type { AnalyzerEvent, EventType } from '../events/schema.js';
import { connAddresses, endpointString, type TcpConnection } from './tcp-connection.js';

/**
 * The event for one connection: the 5-tuple oriented from the side that acted
 * (sent the RST, or the SYN), the original script's one-line message
 * ("Connection reset: 10.0.2.100:8080->10.0.1.50:43210"), and the connection's
 * Zeek state, history, byte counts and duration. Allocates: once per event.
 */
export function connectionEvent(
  events: EventFactory,
  type: EventType,
  reason: string,
  text: string,
  c: TcpConnection,
  srcIsOrig: boolean,
  tsMicros: number,
  extra: Readonly<Record<string, unknown>>,
): AnalyzerEvent {
  const a = connAddresses(c);
  const src = srcIsOrig ? endpointString(a.origIp, a.origPort) : endpointString(a.respIp, a.respPort);
  const dst = srcIsOrig ? endpointString(a.respIp, a.respPort) : endpointString(a.origIp, a.origPort);
  return events.create(type, reason, `${text}: ${src}->${dst}`, tsMicros, {
    proto: 'tcp',
    src_ip: srcIsOrig ? a.origIp : a.respIp,
    src_port: srcIsOrig ? a.origPort : a.respPort,
    dst_ip: srcIsOrig ? a.respIp : a.origIp,
    dst_port: srcIsOrig ? a.respPort : a.origPort,
    ...extra,
    state: c.state,
    history: c.history,
    bytes_orig: c.bytesOrig,
    bytes_resp: c.bytesResp,
    duration_ms: Math.round((c.lastSeenMicros - c.firstSeenMicros) / 1000),
    target_is_originator: c.localIsOriginator,
  });
}
