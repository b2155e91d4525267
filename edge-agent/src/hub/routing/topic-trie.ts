import { ChurnSafeMap } from './churn-safe-map.js';

/** One topic level of a TopicTrie. */
interface TrieNode<V> {
  children: ChurnSafeMap<string, TrieNode<V>> | undefined;
  plus: TrieNode<V> | undefined;
  /** The value of the filter that ends with `#` right below this node. */
  hash: V | undefined;
  /** The value of the filter that ends at this node. */
  value: V | undefined;
}

const DOLLAR = 36;

/**
 * Topic filters → one value each, in a trie of topic levels, matched against published topic
 * names. `+` and `#` have their own slots on a node, not entries in its children map, so a
 * match costs one map lookup per level plus two field reads.
 * Pure; used by SubscriptionIndex (one value per distinct filter).
 */
export class TopicTrie<V> {
  readonly #root: TrieNode<V> = newNode();
  #size = 0;

  /** Number of filters held. */
  get size(): number {
    return this.#size;
  }

  get(filter: string): V | undefined {
    const levels = filter.split('/');
    const last = levels.length - 1;
    let node: TrieNode<V> | undefined = this.#root;
    for (let i = 0; i < last && node; i++) node = child(node, levels[i] as string);
    if (!node) return undefined;
    return levels[last] === '#' ? node.hash : child(node, levels[last] as string)?.value;
  }

  /** Sets the value of a filter that the caller has validated (`#` only last, `+` whole levels). */
  set(filter: string, value: V): void {
    const levels = filter.split('/');
    const last = levels.length - 1;
    let node = this.#root;
    for (let i = 0; i < last; i++) node = childOrNew(node, levels[i] as string);
    if (levels[last] === '#') {
      if (node.hash === undefined) this.#size++;
      node.hash = value;
      return;
    }
    node = childOrNew(node, levels[last] as string);
    if (node.value === undefined) this.#size++;
    node.value = value;
  }

  /** Removes a filter and prunes the nodes it leaves empty. */
  delete(filter: string): boolean {
    const levels = filter.split('/');
    const last = levels.length - 1;
    const path: TrieNode<V>[] = [this.#root];
    let node: TrieNode<V> = this.#root;
    const hash = levels[last] === '#';
    const depth = hash ? last : last + 1;
    for (let i = 0; i < depth; i++) {
      const next = child(node, levels[i] as string);
      if (!next) return false;
      path.push(next);
      node = next;
    }
    if (hash ? node.hash === undefined : node.value === undefined) return false;
    if (hash) node.hash = undefined;
    else node.value = undefined;
    this.#size--;
    for (let i = depth; i > 0; i--) {
      const n = path[i] as TrieNode<V>;
      if (n.value !== undefined || n.hash !== undefined || n.plus || (n.children && n.children.size > 0)) break;
      const parent = path[i - 1] as TrieNode<V>;
      const level = levels[i - 1] as string;
      if (level === '+') parent.plus = undefined;
      else parent.children?.delete(level);
    }
    return true;
  }

  /** Appends to `out` the value of every filter that matches `topic`; each filter once. */
  collect(topic: string, out: V[]): void {
    const levels = topic.split('/');
    const root = this.#root;
    // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with `$`
    const dollar = topic.charCodeAt(0) === DOLLAR;
    if (!dollar && root.hash !== undefined) out.push(root.hash);
    const first = root.children?.get(levels[0] as string);
    if (first) walk(first, levels, 1, out);
    if (!dollar && root.plus) walk(root.plus, levels, 1, out);
  }

  /** Every (filter, value), for inspection and tests. */
  *entries(): IterableIterator<[string, V]> {
    yield* entriesBelow(this.#root, []);
  }
}

function walk<V>(node: TrieNode<V>, levels: readonly string[], i: number, out: V[]): void {
  // [MQTT-4.7.1-2] `#` matches the parent level too: `a/#` matches `a`
  if (node.hash !== undefined) out.push(node.hash);
  if (i === levels.length) {
    if (node.value !== undefined) out.push(node.value);
    return;
  }
  const next = node.children?.get(levels[i] as string);
  if (next) walk(next, levels, i + 1, out);
  // `+` matches exactly one level, an empty one included (`+/+` matches `/finance`)
  if (node.plus) walk(node.plus, levels, i + 1, out);
}

function* entriesBelow<V>(node: TrieNode<V>, path: readonly string[]): IterableIterator<[string, V]> {
  if (node.hash !== undefined) yield [[...path, '#'].join('/'), node.hash];
  const kids: Array<[string, TrieNode<V>]> = node.children ? [...node.children.entries()] : [];
  if (node.plus) kids.push(['+', node.plus]);
  for (const [level, kid] of kids) {
    const below = [...path, level];
    if (kid.value !== undefined) yield [below.join('/'), kid.value];
    yield* entriesBelow(kid, below);
  }
}

function newNode<V>(): TrieNode<V> {
  return { children: undefined, plus: undefined, hash: undefined, value: undefined };
}

function child<V>(node: TrieNode<V>, level: string): TrieNode<V> | undefined {
  return level === '+' ? node.plus : node.children?.get(level);
}

function childOrNew<V>(node: TrieNode<V>, level: string): TrieNode<V> {
  if (level === '+') {
    node.plus ??= newNode();
    return node.plus;
  }
  node.children ??= new ChurnSafeMap();
  let next = node.children.get(level);
  if (!next) {
    next = newNode();
    node.children.set(level, next);
  }
  return next;
}
