import type { PacketView } from '../decode/packet-view.js';
import type { TcpConnection } from './tcp-connection.js';

export type { ConnectionReader, TcpConnection } from './tcp-connection.js';
export { connAddresses, endpointString, keptIpText, origIpText, type ConnAddresses } from './tcp-connection.js';

/**
 * The hook classifiers (HTTP, TLS, proxy protocol) hang on the connection table.
 * Called for every payload-bearing segment of every connection, sampled or not
 * (a classifier needs each first segment), and once when a connection leaves the
 * table. `view` and its buffer are only valid during the call, and so is `conn`:
 * it is a view the table points at one connection after another (there is no
 * object per connection, see conn-store.ts). What a classifier keeps about a
 * connection goes in `conn.app`, which stays with the connection until onClose.
 * Segments beyond any TCP window (forged or stale) are not passed on.
 */
export interface TcpObserver {
  onSegment(conn: TcpConnection, fromOriginator: boolean, view: PacketView): void;
  onClose(conn: TcpConnection): void;
}
