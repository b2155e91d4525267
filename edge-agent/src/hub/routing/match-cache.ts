/**
 * Topic → the work match() did for it, bounded in entries. Emptied on every subscription change
 * (the index has no cheaper way to know which topics a filter touches), and when full: evicting
 * the oldest entry instead made V8 skip ever more deleted entries at the front of the Map (a cost
 * per miss that grows with the cache: BENCHMARKS.md, "Measurements behind the code"), and an
 * LRU's reordering costs on every hit.
 */
export class MatchCache<V> {
  #entries = new Map<string, V>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.#entries.size;
  }

  get(topic: string): V | undefined {
    return this.#entries.get(topic);
  }

  set(topic: string, value: V): void {
    if (this.maxEntries <= 0) return;
    if (this.#entries.size >= this.maxEntries) this.#entries = new Map();
    this.#entries.set(topic, value);
  }

  clear(): void {
    if (this.#entries.size > 0) this.#entries = new Map();
  }
}
