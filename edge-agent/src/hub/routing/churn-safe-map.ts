/**
 * A Map whose delete does not slow down its other operations. V8's Map leaves a deleted entry
 * in its bucket's chain until the table fills and is rehashed, so setting and deleting the same
 * key over and over (a client reconnecting, a filter unsubscribed and subscribed again, a
 * retained topic set and cleared) makes each operation walk every earlier deletion of that key,
 * and the cost grows with the Map (BENCHMARKS.md, "Measurements behind the code"). Here a delete
 * keeps the key with `undefined`
 * (a tombstone that the next set of the key reuses) and the dead keys are swept into a new Map
 * once they outnumber the live ones, which keeps the memory within twice the live entries and
 * the sweeps' cost at O(1) per delete, amortized.
 */
export class ChurnSafeMap<K, V> {
  #map = new Map<K, V | undefined>();
  #live = 0;

  /** Live entries. */
  get size(): number {
    return this.#live;
  }

  /** Keys held, dead ones included: at most twice `size`, plus a few. */
  get footprint(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.get(key) !== undefined;
  }

  set(key: K, value: V): void {
    if (this.#map.get(key) === undefined) this.#live++;
    this.#map.set(key, value);
  }

  delete(key: K): boolean {
    if (this.#map.get(key) === undefined) return false;
    this.#map.set(key, undefined);
    this.#live--;
    const dead = this.#map.size - this.#live;
    if (dead > 32 && dead > this.#live) this.#sweep();
    return true;
  }

  /** The live entries, in insertion order; no generator, so it is the one to use on hot paths. */
  forEach(visit: (value: V, key: K) => void): void {
    this.#map.forEach((value, key) => {
      if (value !== undefined) visit(value, key);
    });
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [key, value] of this.#map) if (value !== undefined) yield [key, value];
  }

  *values(): IterableIterator<V> {
    for (const value of this.#map.values()) if (value !== undefined) yield value;
  }

  #sweep(): void {
    const live = new Map<K, V | undefined>();
    for (const [key, value] of this.#map) if (value !== undefined) live.set(key, value);
    this.#map = live;
  }
}
