/**
 * A set of message ids kept as sorted, disjoint, non-adjacent ranges. The queue log's deleted ids:
 * acks come mostly in id order, so a day's backlog drained is one range, not a million entries.
 */
export class IdRanges {
  private from: number[] = [];
  private to: number[] = [];

  get rangeCount(): number {
    return this.from.length;
  }

  /** Adds `id`; false when it was there already. Adding at the end (ids in order) is O(1). */
  add(id: number): boolean {
    const n = this.to.length;
    const lastTo = n > 0 ? (this.to[n - 1] as number) : Number.NEGATIVE_INFINITY;
    if (id > lastTo + 1) {
      this.from.push(id);
      this.to.push(id);
      return true;
    }
    if (id === lastTo + 1) {
      this.to[n - 1] = id;
      return true;
    }
    if (this.has(id)) return false;
    this.addRange(id, id);
    return true;
  }

  /** Adds every id from `a` to `b` (inclusive), merging with the ranges it touches. */
  addRange(a: number, b: number): void {
    // the first range that ends at or after a - 1 (it may touch or overlap [a, b])
    const i = this.firstEndingAtOrAfter(a - 1);
    let from = a;
    let to = b;
    let j = i;
    while (j < this.from.length && (this.from[j] as number) <= b + 1) {
      from = Math.min(from, this.from[j] as number);
      to = Math.max(to, this.to[j] as number);
      j++;
    }
    this.from.splice(i, j - i, from);
    this.to.splice(i, j - i, to);
  }

  has(id: number): boolean {
    const i = this.firstEndingAtOrAfter(id);
    return i < this.from.length && (this.from[i] as number) <= id;
  }

  /** Forgets every id below `id` (ids no segment holds any more). */
  dropBelow(id: number): void {
    const i = this.firstEndingAtOrAfter(id);
    if (i > 0) {
      this.from.splice(0, i);
      this.to.splice(0, i);
    }
    if (this.from.length > 0 && (this.from[0] as number) < id) this.from[0] = id;
  }

  clear(): void {
    this.from = [];
    this.to = [];
  }

  /** The ranges as [from, to] pairs, in order. */
  *ranges(): Generator<[number, number]> {
    for (let i = 0; i < this.from.length; i++) yield [this.from[i] as number, this.to[i] as number];
  }

  /** Index of the first range whose end is >= `id` (binary search). */
  private firstEndingAtOrAfter(id: number): number {
    let lo = 0;
    let hi = this.to.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.to[mid] as number) < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
