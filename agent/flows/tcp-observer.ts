import type { PacketView } from '../decode/packet-view.js';
import type { TcpConnection } from './tcp-connection.js';

export type { TcpConnection } from './tcp-connection.js';
export { connAddresses, endpointString, type ConnAddresses } from './tcp-connection.js';

/**
 * The hook classifiers (HTTP, TLS, proxy protocol) hang on the connection table.
 * Called for every payload-bearing segment of every connection, sampled or not
 * (a classifier needs each first segment), and once when a connection leaves the
 * table. `view` and its buffer are only valid during the call.
 */
export interface TcpObserver {
  onSegment(conn: TcpConnection, fromOriginator: boolean, view: PacketView): void;
  onClose(conn: TcpConnection): void;
}
