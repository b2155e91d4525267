/**
 * A first-in first-out list with O(1) amortized take from the front. `Array.prototype.shift` moves
 * every element once the array is large (a session queue of 60,000 deliveries spent a third of the
 * hub's CPU in it at full speed); here the front advances over a head index, and the taken part is
 * cut off once it is half the array.
 */
export class Fifo<T> implements Iterable<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts `front` before everything, in its order (rare: a connection lost with messages in flight). */
  unshiftAll(front: readonly T[]): void {
    if (front.length === 0) return;
    this.items = [...front, ...this.items.slice(this.head)];
    this.head = 0;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
