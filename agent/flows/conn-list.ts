import type { ConnStore } from './conn-store.js';
import { ConnList } from './tcp-connection.js';

/**
 * An intrusive doubly linked list of connections (by index) ordered by last-seen
 * time: touching a connection moves it to the tail, so the head is always the next
 * to expire and expiry costs O(1) per connection removed (no scans, no timers).
 * The links live in the store's columns; -1 is "none".
 */
export class ConnQueue {
  head = -1;
  tail = -1;
  size = 0;
  readonly #s: ConnStore;

  constructor(readonly id: ConnList, store: ConnStore) {
    this.#s = store;
  }

  push(i: number): void {
    const s = this.#s;
    s.setList(i, this.id);
    s.setPrev(i, this.tail);
    s.setNext(i, -1);
    if (this.tail !== -1) s.setNext(this.tail, i); else this.head = i;
    this.tail = i;
    this.size++;
  }

  remove(i: number): void {
    const s = this.#s;
    const p = s.prev(i);
    const n = s.next(i);
    if (p !== -1) s.setNext(p, n); else this.head = n;
    if (n !== -1) s.setPrev(n, p); else this.tail = p;
    s.setPrev(i, -1);
    s.setNext(i, -1);
    s.setList(i, ConnList.NONE);
    this.size--;
  }

  /** Move to the tail (most recently seen). */
  touch(i: number): void {
    if (this.tail === i) return;
    this.remove(i);
    this.push(i);
  }
}
