import { Buffer } from 'node:buffer';
import { ChurnSafeMap } from './churn-safe-map.js';
import { RetainedTrie } from './retained-trie.js';

export interface RetainedIndexProps {
  /** Retained topics held at most. */
  readonly maxCount: number;
  /** Bytes held at most, counted as each topic's UTF-8 length plus its payload's. */
  readonly maxBytes: number;
}

/** What set() did. */
export type RetainOutcome =
  /** a new topic's message was stored */
  | 'stored'
  /** the topic's message was replaced */
  | 'replaced'
  /** an empty payload removed the topic's message */
  | 'cleared'
  /** an empty payload on a topic with no message: nothing to do */
  | 'absent'
  /** a new topic, and maxCount topics are held: not stored */
  | 'refused-count'
  /** it would take the total over maxBytes: not stored; a message the topic had stays */
  | 'refused-bytes';

export interface RetainedEntry<M> {
  readonly topic: string;
  readonly message: M;
  readonly bytes: number;
}

/**
 * The hub's retained messages: by topic, and by filter for a new subscription (the reverse
 * lookup: a trie of topic levels walked with the filter). Bounded in topics and bytes: at a
 * bound new topics are refused and replacements that fit still work, so a device updating its
 * state keeps working while a flood of new topics does not grow the hub; set() says which
 * happened for the caller to count and log. Pure: the caller persists what set() accepted.
 */
export class RetainedIndex<M extends { readonly payload: Uint8Array }> {
  readonly #byTopic = new ChurnSafeMap<string, RetainedEntry<M>>();
  readonly #trie = new RetainedTrie<RetainedEntry<M>>();
  #bytes = 0;

  constructor(readonly props: RetainedIndexProps) {}

  get size(): number {
    return this.#byTopic.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(topic: string): M | undefined {
    return this.#byTopic.get(topic)?.message;
  }

  /** Retains `message` on `topic`, or removes the topic's message when the payload is empty. */
  set(topic: string, message: M): RetainOutcome {
    const old = this.#byTopic.get(topic);
    if (message.payload.byteLength === 0) {
      // [MQTT-3.3.1-6] an empty retained payload removes the topic's message and
      // [MQTT-3.3.1-7] is not stored itself (MQTT 3.1.1: [MQTT-3.3.1-10], [MQTT-3.3.1-11])
      if (!old) return 'absent';
      this.#remove(old);
      return 'cleared';
    }
    const bytes = Buffer.byteLength(topic) + message.payload.byteLength;
    if (!old && this.#byTopic.size >= this.props.maxCount) return 'refused-count';
    if (this.#bytes - (old?.bytes ?? 0) + bytes > this.props.maxBytes) return 'refused-bytes';
    const entry: RetainedEntry<M> = { topic, message, bytes };
    this.#byTopic.set(topic, entry);
    this.#trie.set(topic, entry);
    this.#bytes += bytes - (old?.bytes ?? 0);
    return old ? 'replaced' : 'stored';
  }

  /** Removes the topic's message (expired, or dropped by the caller); false when it had none. */
  delete(topic: string): boolean {
    const old = this.#byTopic.get(topic);
    if (!old) return false;
    this.#remove(old);
    return true;
  }

  /**
   * Every retained message whose topic `filter` matches (non-shared filter, validated by the
   * caller): `#` matches the parent level [MQTT-4.7.1-2], and a filter starting with a wildcard
   * matches no topic starting with `$` [MQTT-4.7.2-1].
   */
  matching(filter: string): RetainedEntry<M>[] {
    if (!filter.includes('+') && !filter.includes('#')) {
      const entry = this.#byTopic.get(filter);
      return entry ? [entry] : [];
    }
    const out: RetainedEntry<M>[] = [];
    this.#trie.matching(filter, out);
    return out;
  }

  /**
   * Restores from a store at start, under the same bounds as set() (a store written under
   * larger bounds keeps its first topics); returns the topics refused.
   */
  load(entries: Iterable<readonly [string, M]>): string[] {
    const refused: string[] = [];
    for (const [topic, message] of entries) {
      const outcome = this.set(topic, message);
      if (outcome === 'refused-count' || outcome === 'refused-bytes') refused.push(topic);
    }
    return refused;
  }

  #remove(entry: RetainedEntry<M>): void {
    this.#byTopic.delete(entry.topic);
    this.#trie.delete(entry.topic);
    this.#bytes -= entry.bytes;
  }
}
