import { ChurnSafeMap } from './churn-safe-map.js';
import { MatchCache } from './match-cache.js';
import { SharedGroup } from './shared-group.js';
import {
  type Delivery,
  type MemberAvailable,
  mergeDeliveries,
  type StoredSubscription,
  type Subscription,
  type SubscriptionOptions,
} from './subscription.js';
import { parseSubscriptionFilter, subscriptionProblem } from './subscription-filter.js';
import { TopicTrie } from './topic-trie.js';

export interface SubscriptionIndexProps {
  /**
   * Topics whose matched set is kept; 0 turns the cache off.
   * @default 4096
   */
  readonly cacheTopics?: number;
}

/** What every subscription on one topic filter shares: the trie's value. */
interface FilterEntry {
  /** Non-shared subscriptions by client id, each as the copy it makes when it alone matches. */
  readonly clients: ChurnSafeMap<string, Delivery>;
  /** Shared subscriptions on this filter, by share name. */
  readonly groups: Map<string, SharedGroup>;
  /** `clients` as an array, and whether any has No Local: built on the first match after a change. */
  list: readonly Delivery[] | undefined;
  noLocal: boolean;
}

/** The publisher-independent part of a match, as cached. */
interface MatchedSet {
  /** Non-shared: one merged copy per client. */
  readonly deliveries: readonly Delivery[];
  /** Clients with a No Local subscription among the matches → their copy when they are the publisher. */
  readonly ownCopies: ReadonlyMap<string, { index: number; delivery: Delivery | undefined }> | undefined;
  readonly groups: readonly SharedGroup[];
}

const NO_DELIVERIES: readonly Delivery[] = [];

/**
 * Who gets a published message. Non-shared subscriptions of one client are merged into one
 * copy (the server may send one copy for overlapping subscriptions, with the maximum QoS and
 * every subscription identifier [MQTT-3.3.4-2..4]); each shared subscription (share name, filter)
 * adds one copy to one of its members, in turn (MQTT 5 section 4.8.2), never merged, so a client
 * may appear once per shared subscription besides its merged copy.
 * Retain As Published of a merged copy is true when any of its subscriptions asks for it (the
 * subscriptions are on the copy for a caller that wants another rule).
 * Pure: a trie of filters, and a bounded cache of matched sets per topic.
 */
export class SubscriptionIndex {
  readonly #trie = new TopicTrie<FilterEntry>();
  /** The trie's values by filter too, so add and remove find an entry without walking the trie. */
  readonly #filters = new ChurnSafeMap<string, FilterEntry>();
  readonly #clients = new ChurnSafeMap<string, Map<string, Subscription>>();
  readonly #cache: MatchCache<MatchedSet>;
  #size = 0;

  constructor(props: SubscriptionIndexProps = {}) {
    this.#cache = new MatchCache(props.cacheTopics ?? 4096);
  }

  /** Subscriptions held, over all clients. */
  get size(): number {
    return this.#size;
  }

  /** Clients with at least one subscription. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Distinct topic filters held (shared ones by their topic filter), for a metric. */
  get filters(): number {
    return this.#filters.size;
  }

  /** The client's subscriptions, shared ones included (for a max-subscriptions bound). */
  count(clientId: string): number {
    return this.#clients.get(clientId)?.size ?? 0;
  }

  get(clientId: string, filter: string): Subscription | undefined {
    return this.#clients.get(clientId)?.get(filter);
  }

  /** The client's subscriptions, in the order they were first made. */
  subscriptionsOf(clientId: string): IterableIterator<Subscription> {
    return (this.#clients.get(clientId) ?? new Map<string, Subscription>()).values();
  }

  /**
   * Adds a subscription, or replaces the options of the client's subscription with the same
   * filter [MQTT-3.8.4-3] (for a shared one, the same share name and filter). The answer is what
   * Retain Handling 1 needs [MQTT-3.3.1-10]. Throws a RangeError on what subscriptionProblem
   * reports: the caller refuses those in the SUBACK first.
   */
  add(clientId: string, filter: string, options: SubscriptionOptions): 'added' | 'replaced' {
    const problem = subscriptionProblem(filter, options);
    if (problem !== undefined) throw new RangeError(problem);
    const outcome = this.#put(clientId, filter, options);
    this.#cache.clear();
    return outcome;
  }

  /** Removes one subscription; false when the client had none with this filter. */
  remove(clientId: string, filter: string): boolean {
    const subs = this.#clients.get(clientId);
    const sub = subs?.get(filter);
    if (!subs || !sub) return false;
    subs.delete(filter);
    if (subs.size === 0) this.#clients.delete(clientId);
    this.#unlink(sub);
    this.#cache.clear();
    return true;
  }

  /** Removes every subscription of the client (its session ended); returns how many. */
  removeClient(clientId: string): number {
    const subs = this.#clients.get(clientId);
    if (!subs) return 0;
    this.#clients.delete(clientId);
    for (const sub of subs.values()) this.#unlink(sub);
    this.#cache.clear();
    return subs.size;
  }

  /**
   * Restores subscriptions from a store at start: no per-entry cache work. Entries that
   * subscriptionProblem rejects are skipped and returned, so one bad row cannot stop a start.
   */
  load(subscriptions: Iterable<StoredSubscription>): StoredSubscription[] {
    const rejected: StoredSubscription[] = [];
    for (const s of subscriptions) {
      if (subscriptionProblem(s.filter, s.options) === undefined) this.#put(s.clientId, s.filter, s.options);
      else rejected.push(s);
    }
    this.#cache.clear();
    return rejected;
  }

  /**
   * The copies to send for a message published on `topic`. `publisher` is the publishing
   * client's id: its own No Local subscriptions do not match [MQTT-3.8.3-3]. `isAvailable`
   * says which shared-group members can take a message now (see SharedGroup.pick).
   * The array may be shared between calls: do not modify it.
   */
  match(topic: string, publisher?: string, isAvailable?: MemberAvailable): readonly Delivery[] {
    let set = this.#cache.get(topic);
    if (set === undefined) {
      set = this.#compute(topic);
      this.#cache.set(topic, set);
    }
    const own = publisher === undefined ? undefined : set.ownCopies?.get(publisher);
    if (own === undefined && set.groups.length === 0) return set.deliveries;
    const out = set.deliveries.slice();
    if (own !== undefined) {
      if (own.delivery) out[own.index] = own.delivery;
      else out.splice(own.index, 1);
    }
    for (const group of set.groups) {
      const picked = group.pick(isAvailable);
      if (picked) out.push(sharedDelivery(group, picked.member, picked.available));
    }
    return out;
  }

  #put(clientId: string, filter: string, options: SubscriptionOptions): 'added' | 'replaced' {
    const { group, topicFilter } = parseSubscriptionFilter(filter);
    const sub: Subscription = { clientId, filter, topicFilter, group, options };
    let subs = this.#clients.get(clientId);
    if (!subs) {
      subs = new Map();
      this.#clients.set(clientId, subs);
    }
    const replaced = subs.has(filter);
    subs.set(filter, sub);
    if (!replaced) this.#size++;
    let entry = this.#filters.get(topicFilter);
    if (!entry) {
      entry = { clients: new ChurnSafeMap(), groups: new Map(), list: undefined, noLocal: false };
      this.#trie.set(topicFilter, entry);
      this.#filters.set(topicFilter, entry);
    }
    if (group === undefined) {
      entry.clients.set(clientId, mergeDeliveries([sub]));
      entry.list = undefined;
    } else {
      let shared = entry.groups.get(group);
      if (!shared) {
        shared = new SharedGroup(group, topicFilter);
        entry.groups.set(group, shared);
      }
      shared.set(sub);
    }
    return replaced ? 'replaced' : 'added';
  }

  #unlink(sub: Subscription): void {
    this.#size--;
    const entry = this.#filters.get(sub.topicFilter);
    if (!entry) return;
    if (sub.group === undefined) {
      entry.clients.delete(sub.clientId);
      entry.list = undefined;
    } else {
      const shared = entry.groups.get(sub.group);
      shared?.delete(sub.clientId);
      if (shared?.size === 0) entry.groups.delete(sub.group);
    }
    if (entry.clients.size === 0 && entry.groups.size === 0) {
      this.#trie.delete(sub.topicFilter);
      this.#filters.delete(sub.topicFilter);
    }
  }

  #compute(topic: string): MatchedSet {
    const entries: FilterEntry[] = [];
    this.#trie.collect(topic, entries);
    const groups: SharedGroup[] = [];
    for (const entry of entries) for (const group of entry.groups.values()) groups.push(group);
    // one filter and no No Local: its copies as they are, nothing to merge (the common case)
    if (entries.length === 1) {
      const only = listOf(entries[0] as FilterEntry);
      if (!only.noLocal) return { deliveries: only.list ?? NO_DELIVERIES, ownCopies: undefined, groups };
    }
    // a client's first matching filter gives its copy; a second one turns it into a list to merge
    const byClient = new Map<string, Delivery | Subscription[]>();
    for (const entry of entries) {
      for (const d of listOf(entry).list ?? NO_DELIVERIES) {
        const seen = byClient.get(d.clientId);
        if (seen === undefined) byClient.set(d.clientId, d);
        else if (Array.isArray(seen)) seen.push(...d.subscriptions);
        else byClient.set(d.clientId, [...seen.subscriptions, ...d.subscriptions]);
      }
    }
    if (byClient.size === 0) return { deliveries: NO_DELIVERIES, ownCopies: undefined, groups };
    const deliveries: Delivery[] = [];
    let ownCopies: Map<string, { index: number; delivery: Delivery | undefined }> | undefined;
    for (const [clientId, seen] of byClient) {
      const subs = Array.isArray(seen) ? seen : seen.subscriptions;
      if (subs.some((s) => s.options.noLocal)) {
        const local = subs.filter((s) => !s.options.noLocal);
        ownCopies ??= new Map();
        ownCopies.set(clientId, {
          index: deliveries.length,
          delivery: local.length > 0 ? mergeDeliveries(local) : undefined,
        });
      }
      deliveries.push(Array.isArray(seen) ? mergeDeliveries(seen) : seen);
    }
    return { deliveries, ownCopies, groups };
  }
}

function listOf(entry: FilterEntry): FilterEntry {
  if (entry.list === undefined) {
    const list: Delivery[] = [];
    entry.clients.forEach((d) => {
      list.push(d);
    });
    entry.list = list;
    entry.noLocal = list.some((d) => d.subscriptions[0]?.options.noLocal === true);
  }
  return entry;
}

function sharedDelivery(group: SharedGroup, member: Subscription, memberAvailable: boolean): Delivery {
  const { qos, retainAsPublished, subscriptionId } = member.options;
  return {
    clientId: member.clientId,
    qos,
    // a shared copy carries only the identifier of the member's own subscription (section 4.8.2)
    subscriptionIds: subscriptionId === undefined ? [] : [subscriptionId],
    retainAsPublished,
    subscriptions: [member],
    share: { group: group.group, topicFilter: group.topicFilter, memberAvailable },
  };
}
