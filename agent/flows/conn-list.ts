import { ConnList, type Connection } from './tcp-connection.js';

/**
 * An intrusive doubly linked list of connections ordered by last-seen time:
 * touching a connection moves it to the tail, so the head is always the next to
 * expire and expiry costs O(1) per connection removed (no scans, no timers).
 */
export class ConnQueue {
  head: Connection | null = null;
  tail: Connection | null = null;
  size = 0;

  constructor(readonly id: ConnList) {}

  push(c: Connection): void {
    c.list = this.id;
    c.prev = this.tail;
    c.next = null;
    if (this.tail !== null) this.tail.next = c; else this.head = c;
    this.tail = c;
    this.size++;
  }

  remove(c: Connection): void {
    if (c.prev !== null) c.prev.next = c.next; else this.head = c.next;
    if (c.next !== null) c.next.prev = c.prev; else this.tail = c.prev;
    c.prev = null;
    c.next = null;
    c.list = ConnList.NONE;
    this.size--;
  }

  /** Move to the tail (most recently seen). */
  touch(c: Connection): void {
    if (this.tail === c) return;
    this.remove(c);
    this.push(c);
  }
}
