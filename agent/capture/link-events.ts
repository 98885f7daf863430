/**
 * The kernel's word that a network interface changed (rtnetlink link notifications, read by
 * the batch addon, native/link_events.c): created, deleted, taken down or up, carrier lost.
 * The capture watchdog reads its interface's state 250 ms after one comes instead of polling
 * sysfs four times a second, so an idle agent is woken less often (resilient-source.ts).
 */
import { loadPcapBatch } from './batch-live-source.js';

type WatcherHandle = { readonly __brand: 'link watcher' };

/** native/link_events.c's exports (on the batch addon). */
export type LinkEventsBinding = {
  watchLinks(onChange: () => void): WatcherHandle;
  unwatchLinks(handle: WatcherHandle): void;
};

/** A running watch; close() is idempotent. */
export type LinkWatch = { close(): void };

/**
 * Calls `onChange` after each wake-up that brought link notifications (any interface: the
 * caller reads the state of its own), or returns why link changes cannot be watched (the
 * addon is not built, or the netlink socket is refused). The watch does not keep the
 * process alive.
 */
export function watchLinkEvents(onChange: () => void): LinkWatch | string {
  const native = loadPcapBatch();
  if (typeof native === 'string') return native;
  const binding = native as unknown as Partial<LinkEventsBinding>;
  if (typeof binding.watchLinks !== 'function' || typeof binding.unwatchLinks !== 'function') {
    return 'the batch addon predates link notifications (npm run build compiles it again)';
  }
  let handle: WatcherHandle;
  try {
    handle = binding.watchLinks(onChange);
  } catch (err) {
    return `link notifications are not available: ${(err as Error).message}`;
  }
  const unwatch = binding.unwatchLinks;
  return { close: () => unwatch(handle) };
}
