import { describe, expect, it } from 'vitest';
import type { Delivery, SubscriptionOptions } from '../../../src/hub/routing/subscription.js';
import { SubscriptionIndex } from '../../../src/hub/routing/subscription-index.js';
import { topicMatches } from '../../../src/rules/topic-match.js';
import { randomFilter, randomTopic, SPEC_FILTER_CASES, seeded } from './spec-filter-cases.js';

const opts = (over: Partial<SubscriptionOptions> = {}): SubscriptionOptions => ({
  qos: 0,
  noLocal: false,
  retainAsPublished: false,
  retainHandling: 0,
  ...over,
});
const clients = (ds: readonly Delivery[]) => ds.map((d) => d.clientId).sort();

// Every behaviour is checked with the topic cache on and off: a stale cache must fail a test.
describe.each([
  ['cached', 4096],
  ['uncached', 0],
])('SubscriptionIndex (%s)', (_name, cacheTopics) => {
  const index = () => new SubscriptionIndex({ cacheTopics });

  describe('matching (section 4.7)', () => {
    it.each(SPEC_FILTER_CASES)('%s against %s → %s', (filter, topic, matches) => {
      // given
      const idx = index();
      idx.add('c', filter, opts());
      // when
      const ds = idx.match(topic);
      // then
      expect(clients(ds)).toEqual(matches ? ['c'] : []);
    });

    it('agrees with topicMatches on random filters and topics', () => {
      const rand = seeded(42);
      for (let round = 0; round < 50; round++) {
        // given
        const idx = index();
        const filters = Array.from({ length: 30 }, () => randomFilter(rand));
        filters.forEach((f, i) => {
          idx.add(`c${i}`, f, opts());
        });
        for (let t = 0; t < 30; t++) {
          const topic = randomTopic(rand);
          // when
          const got = clients(idx.match(topic));
          // then
          const want = filters
            .map((f, i) => [f, `c${i}`] as const)
            .filter(([f]) => topicMatches(f, topic))
            .map(([, c]) => c)
            .sort();
          expect(got, `topic ${JSON.stringify(topic)} filters ${JSON.stringify(filters)}`).toEqual(want);
        }
      }
    });
  });

  describe('one copy per client for overlapping subscriptions', () => {
    it('merges with the maximum QoS and all subscription identifiers [MQTT-3.3.4-2..4]', () => {
      // given
      const idx = index();
      idx.add('c', 'a/+', opts({ qos: 1, subscriptionId: 7 }));
      idx.add('c', 'a/#', opts({ qos: 2, subscriptionId: 9 }));
      idx.add('c', 'a/b', opts({ qos: 0 }));
      idx.add('d', 'a/b', opts({ qos: 0, subscriptionId: 3 }));
      // when
      const ds = idx.match('a/b');
      // then
      expect(ds).toHaveLength(2);
      const c = ds.find((d) => d.clientId === 'c');
      expect(c?.qos).toBe(2);
      expect([...(c?.subscriptionIds ?? [])].sort()).toEqual([7, 9]);
      expect(c?.subscriptions.map((s) => s.filter).sort()).toEqual(['a/#', 'a/+', 'a/b']);
      expect(ds.find((d) => d.clientId === 'd')).toMatchObject({ qos: 0, subscriptionIds: [3] });
    });

    it('keeps the retain flag when any matching subscription has Retain As Published', () => {
      // given
      const idx = index();
      idx.add('c', 'a/+', opts({ retainAsPublished: true }));
      idx.add('c', 'a/#', opts());
      idx.add('d', 'a/#', opts({ retainAsPublished: true }));
      idx.add('d', 'a/+', opts());
      idx.add('e', 'a/#', opts());
      // when
      const ds = idx.match('a/b');
      // then
      expect(ds.find((d) => d.clientId === 'c')?.retainAsPublished).toBe(true);
      expect(ds.find((d) => d.clientId === 'd')?.retainAsPublished).toBe(true);
      expect(ds.find((d) => d.clientId === 'e')?.retainAsPublished).toBe(false);
      expect(idx.match('a').find((d) => d.clientId === 'c')?.retainAsPublished).toBe(false);
    });
  });

  describe('No Local [MQTT-3.8.3-3]', () => {
    it('does not send the publisher its own message, others still get it', () => {
      // given
      const idx = index();
      idx.add('p', 'a/#', opts({ noLocal: true }));
      idx.add('q', 'a/#', opts({ noLocal: true }));
      // when, then
      expect(clients(idx.match('a/b', 'p'))).toEqual(['q']);
      expect(clients(idx.match('a/b', 'q'))).toEqual(['p']);
      expect(clients(idx.match('a/b', 'x'))).toEqual(['p', 'q']);
      expect(clients(idx.match('a/b'))).toEqual(['p', 'q']);
    });

    it("merges only the publisher's subscriptions without No Local into its copy", () => {
      // given
      const idx = index();
      idx.add('p', 'a/#', opts({ noLocal: true, qos: 2, subscriptionId: 1 }));
      idx.add('p', 'a/+', opts({ qos: 1, subscriptionId: 2 }));
      // when
      const own = idx.match('a/b', 'p');
      const other = idx.match('a/b', 'x');
      // then
      expect(own).toEqual([expect.objectContaining({ clientId: 'p', qos: 1, subscriptionIds: [2] })]);
      expect(other).toEqual([expect.objectContaining({ clientId: 'p', qos: 2 })]);
      expect(idx.match('a/b', 'p')).toHaveLength(1); // and again, from the cache when on
    });
  });

  describe('re-subscribe and removal', () => {
    it('replaces the options of the same filter [MQTT-3.8.4-3]', () => {
      // given
      const idx = index();
      expect(idx.add('c', 'a/+', opts({ qos: 0, subscriptionId: 1 }))).toBe('added');
      expect(idx.match('a/b')[0]?.qos).toBe(0);
      // when
      const outcome = idx.add('c', 'a/+', opts({ qos: 2, subscriptionId: 5 }));
      // then
      expect(outcome).toBe('replaced');
      expect(idx.count('c')).toBe(1);
      expect(idx.size).toBe(1);
      expect(idx.match('a/b')).toEqual([expect.objectContaining({ qos: 2, subscriptionIds: [5] })]);
      expect(idx.get('c', 'a/+')?.options.qos).toBe(2);
    });

    it('remove takes one subscription away and says whether it existed', () => {
      // given
      const idx = index();
      idx.add('c', 'a/+', opts());
      idx.add('c', 'a/#', opts());
      idx.add('d', 'a/+', opts());
      expect(clients(idx.match('a/b'))).toEqual(['c', 'd']);
      // when
      expect(idx.remove('c', 'a/+')).toBe(true);
      expect(idx.remove('c', 'a/+')).toBe(false);
      expect(idx.remove('nobody', 'a/+')).toBe(false);
      // then
      expect(
        idx
          .match('a/b')
          .find((d) => d.clientId === 'c')
          ?.subscriptions.map((s) => s.filter),
      ).toEqual(['a/#']);
      expect(idx.remove('c', 'a/#')).toBe(true);
      expect(clients(idx.match('a/b'))).toEqual(['d']);
      expect(idx.count('c')).toBe(0);
      expect(idx.size).toBe(1);
      expect(idx.clients).toBe(1);
    });

    it('removeClient takes all of one client, shared memberships too', () => {
      // given
      const idx = index();
      idx.add('c', 'a/+', opts());
      idx.add('c', '$share/g/a/+', opts());
      idx.add('c', 'b', opts());
      idx.add('d', 'a/+', opts());
      expect(idx.count('c')).toBe(3);
      expect(idx.match('b')).toHaveLength(1);
      // when
      const removed = idx.removeClient('c');
      // then
      expect(removed).toBe(3);
      expect(idx.removeClient('c')).toBe(0);
      expect(clients(idx.match('a/b'))).toEqual(['d']);
      expect(idx.match('b')).toEqual([]);
      expect(idx.count('c')).toBe(0);
      expect([...idx.subscriptionsOf('c')]).toEqual([]);
      expect(idx.size).toBe(1);
      expect(idx.clients).toBe(1);
      expect(idx.filters).toBe(1);
    });

    it('a filter removed and added again matches again (its trie nodes were pruned, not broken)', () => {
      // given
      const idx = index();
      idx.add('c', 'a/b/c', opts());
      idx.add('d', 'a/b', opts());
      idx.remove('c', 'a/b/c');
      // when
      idx.add('e', 'a/b/c', opts());
      // then
      expect(clients(idx.match('a/b/c'))).toEqual(['e']);
      expect(clients(idx.match('a/b'))).toEqual(['d']);
    });
  });

  describe('counts', () => {
    it('counts subscriptions per client, shared ones by (share name, filter)', () => {
      // given
      const idx = index();
      idx.add('c', 'a', opts());
      idx.add('c', '$share/g/a', opts());
      idx.add('c', '$share/h/a', opts());
      idx.add('c', '$share/g/a', opts({ qos: 1 }));
      idx.add('d', 'a', opts());
      // then
      expect(idx.count('c')).toBe(3);
      expect(idx.count('d')).toBe(1);
      expect(idx.count('x')).toBe(0);
      expect(idx.size).toBe(4);
      expect([...idx.subscriptionsOf('c')].map((s) => [s.filter, s.group, s.topicFilter])).toEqual([
        ['a', undefined, 'a'],
        ['$share/g/a', 'g', 'a'],
        ['$share/h/a', 'h', 'a'],
      ]);
    });
  });

  describe('bulk load', () => {
    it('restores subscriptions and hands back the rows it cannot hold', () => {
      // given
      const idx = index();
      idx.match('a/b'); // a cached empty set must not survive the load
      // when
      const rejected = idx.load([
        { clientId: 'c', filter: 'a/+', options: opts({ qos: 1 }) },
        { clientId: 'c', filter: 'a/#/b', options: opts() },
        { clientId: 'd', filter: '$share/g/a/b', options: opts() },
      ]);
      // then
      expect(rejected.map((r) => r.filter)).toEqual(['a/#/b']);
      expect(idx.size).toBe(2);
      expect(clients(idx.match('a/b'))).toEqual(['c', 'd']);
    });
  });

  describe('validation', () => {
    it.each([
      ['a/#/b', opts()],
      ['a+', opts()],
      ['', opts()],
      ['$share//a', opts()],
      ['$share/g', opts()],
      ['$share/g/', opts()],
      ['$share/g+/a', opts()],
      ['$share/g/a', opts({ noLocal: true })],
    ])('add refuses %j', (filter, options) => {
      const idx = index();
      expect(() => idx.add('c', filter, options)).toThrow(RangeError);
      expect(idx.size).toBe(0);
    });
  });
});
