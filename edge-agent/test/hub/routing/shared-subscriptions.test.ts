import { describe, expect, it } from 'vitest';
import type { Delivery, SubscriptionOptions } from '../../../src/hub/routing/subscription.js';
import { SubscriptionIndex } from '../../../src/hub/routing/subscription-index.js';

const opts = (over: Partial<SubscriptionOptions> = {}): SubscriptionOptions => ({
  qos: 0,
  noLocal: false,
  retainAsPublished: false,
  retainHandling: 0,
  ...over,
});
const shared = (ds: readonly Delivery[]) => ds.filter((d) => d.share !== undefined);
const receivers = (idx: SubscriptionIndex, topic: string, n: number, isAvailable?: (c: string) => boolean) =>
  Array.from({ length: n }, () => shared(idx.match(topic, undefined, isAvailable)).map((d) => d.clientId)).flat();

describe.each([
  ['cached', 4096],
  ['uncached', 0],
])('SubscriptionIndex shared subscriptions (%s)', (_name, cacheTopics) => {
  const index = () => new SubscriptionIndex({ cacheTopics });

  it('sends each message to one member of the group, in turn', () => {
    // given
    const idx = index();
    for (const c of ['a', 'b', 'c']) idx.add(c, '$share/g/s/+', opts());
    // when
    const got = receivers(idx, 's/1', 6);
    // then
    expect(got).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('skips members the caller says cannot take a message', () => {
    // given
    const idx = index();
    for (const c of ['a', 'b', 'c']) idx.add(c, '$share/g/s/#', opts());
    const online = new Set(['a', 'c']);
    // when
    const got = receivers(idx, 's/x', 4, (c) => online.has(c));
    // then
    expect(got).toEqual(['a', 'c', 'a', 'c']);
    const d = shared(idx.match('s/x', undefined, (c) => online.has(c)))[0];
    expect(d?.share).toEqual({ group: 'g', topicFilter: 's/#', memberAvailable: true });
  });

  it('when no member can take it, still picks one in turn and says so', () => {
    // given
    const idx = index();
    for (const c of ['a', 'b']) idx.add(c, '$share/g/s', opts());
    // when
    const ds = [0, 1, 2].map(() => shared(idx.match('s', undefined, () => false))[0]);
    // then
    expect(ds.map((d) => d?.clientId)).toEqual(['a', 'b', 'a']);
    expect(ds.every((d) => d?.share?.memberAvailable === false)).toBe(true);
  });

  it('each group, and each filter within a share name, gets its own copy', () => {
    // given
    const idx = index();
    idx.add('a', '$share/g/s/+', opts());
    idx.add('b', '$share/h/s/+', opts());
    idx.add('c', '$share/g/s/#', opts());
    idx.add('d', '$share/g/other', opts());
    // when
    const ds = shared(idx.match('s/1'));
    // then
    expect(ds.map((d) => [d.share?.group, d.share?.topicFilter, d.clientId]).sort()).toEqual([
      ['g', 's/#', 'c'],
      ['g', 's/+', 'a'],
      ['h', 's/+', 'b'],
    ]);
  });

  it('a shared copy is not merged with the same client’s non-shared copy and carries only its own identifier', () => {
    // given
    const idx = index();
    idx.add('a', 's/+', opts({ qos: 0, subscriptionId: 1 }));
    idx.add('a', '$share/g/s/+', opts({ qos: 2, subscriptionId: 2 }));
    // when
    const ds = idx.match('s/1');
    // then
    expect(ds).toHaveLength(2);
    expect(ds.find((d) => d.share === undefined)).toMatchObject({ clientId: 'a', qos: 0, subscriptionIds: [1] });
    expect(ds.find((d) => d.share !== undefined)).toMatchObject({ clientId: 'a', qos: 2, subscriptionIds: [2] });
  });

  it('re-subscribing replaces the member’s options and keeps its turn [MQTT-3.8.4-3]', () => {
    // given
    const idx = index();
    for (const c of ['a', 'b', 'c']) idx.add(c, '$share/g/s', opts());
    expect(receivers(idx, 's', 1)).toEqual(['a']);
    // when
    expect(idx.add('b', '$share/g/s', opts({ qos: 1 }))).toBe('replaced');
    // then
    const next = shared(idx.match('s'))[0];
    expect(next).toMatchObject({ clientId: 'b', qos: 1 });
    expect(receivers(idx, 's', 3)).toEqual(['c', 'a', 'b']);
  });

  it('a member leaving keeps the turn fair for the others', () => {
    // given
    const idx = index();
    for (const c of ['a', 'b', 'c', 'd']) idx.add(c, '$share/g/s', opts());
    expect(receivers(idx, 's', 2)).toEqual(['a', 'b']);
    // when: one that had its turn leaves, then the one whose turn it is
    idx.remove('a', '$share/g/s');
    expect(receivers(idx, 's', 1)).toEqual(['c']);
    idx.removeClient('d');
    // then
    expect(receivers(idx, 's', 3)).toEqual(['b', 'c', 'b']);
  });

  it('the last member leaving after its turn hands the turn back to the first', () => {
    // given
    const idx = index();
    for (const c of ['a', 'b', 'c']) idx.add(c, '$share/g/s', opts());
    expect(receivers(idx, 's', 2)).toEqual(['a', 'b']);
    // when: the one whose turn it is, the last, leaves, and nobody is available
    idx.remove('c', '$share/g/s');
    // then
    expect(receivers(idx, 's', 2, () => false)).toEqual(['a', 'b']);
  });

  it('the group disappears with its last member', () => {
    // given
    const idx = index();
    idx.add('a', '$share/g/s', opts());
    idx.match('s');
    // when
    idx.remove('a', '$share/g/s');
    // then
    expect(idx.match('s')).toEqual([]);
    expect(idx.size).toBe(0);
    expect(idx.filters).toBe(0);
    expect(idx.clients).toBe(0);
  });

  it('matches like a non-shared filter: `#` not on `$` topics [MQTT-4.7.2-1]', () => {
    // given
    const idx = index();
    idx.add('a', '$share/g/#', opts());
    idx.add('b', '$share/g/$SYS/#', opts());
    // then
    expect(shared(idx.match('$SYS/x')).map((d) => d.clientId)).toEqual(['b']);
    expect(shared(idx.match('x')).map((d) => d.clientId)).toEqual(['a']);
  });

  it('the publisher may receive from a shared subscription (No Local does not apply there)', () => {
    // given
    const idx = index();
    idx.add('p', '$share/g/s', opts());
    // then
    expect(idx.match('s', 'p').map((d) => d.clientId)).toEqual(['p']);
  });
});
