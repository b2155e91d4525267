import { ChurnSafeMap } from './churn-safe-map.js';

/** One topic level of a RetainedTrie; it knows its parent so a delete prunes without a path array. */
interface Node<V> {
  readonly parent: Node<V> | undefined;
  readonly level: string;
  children: ChurnSafeMap<string, Node<V>> | undefined;
  value: V | undefined;
}

const DOLLAR = 36;

/**
 * Topic names → one value each, in a trie of topic levels, searched with a topic filter: the
 * reverse of TopicTrie.
 */
export class RetainedTrie<V> {
  readonly #root: Node<V> = { parent: undefined, level: '', children: undefined, value: undefined };

  set(topic: string, value: V): void {
    let node = this.#root;
    for (const level of topic.split('/')) {
      node.children ??= new ChurnSafeMap();
      let next = node.children.get(level);
      if (!next) {
        next = { parent: node, level, children: undefined, value: undefined };
        node.children.set(level, next);
      }
      node = next;
    }
    node.value = value;
  }

  delete(topic: string): void {
    let node: Node<V> | undefined = this.#root;
    for (const level of topic.split('/')) {
      node = node.children?.get(level);
      if (!node) return;
    }
    node.value = undefined;
    while (node.parent && node.value === undefined && (node.children?.size ?? 0) === 0) {
      node.parent.children?.delete(node.level);
      node = node.parent;
    }
  }

  /** Appends to `out` the value of every topic that `filter` matches. */
  matching(filter: string, out: V[]): void {
    const levels = filter.split('/');
    const children = this.#root.children;
    if (!children) return;
    const first = levels[0] as string;
    if (first !== '+' && first !== '#') {
      const next = children.get(first);
      if (next) walk(next, levels, 1, out);
      return;
    }
    children.forEach((node, level) => {
      // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with `$`
      if (level.charCodeAt(0) === DOLLAR) return;
      if (first === '#') everything(node, out);
      else walk(node, levels, 1, out);
    });
  }
}

function walk<V>(node: Node<V>, levels: readonly string[], i: number, out: V[]): void {
  if (i === levels.length) {
    if (node.value !== undefined) out.push(node.value);
    return;
  }
  const level = levels[i] as string;
  // [MQTT-4.7.1-2] `#` matches the parent level and everything below it
  if (level === '#') {
    everything(node, out);
    return;
  }
  if (!node.children) return;
  if (level === '+') {
    node.children.forEach((next) => {
      walk(next, levels, i + 1, out);
    });
    return;
  }
  const next = node.children.get(level);
  if (next) walk(next, levels, i + 1, out);
}

function everything<V>(node: Node<V>, out: V[]): void {
  if (node.value !== undefined) out.push(node.value);
  node.children?.forEach((next) => {
    everything(next, out);
  });
}
