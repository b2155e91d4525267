import { describe, expect, it } from 'vitest';
import { MatchCache } from '../../../src/hub/routing/match-cache.js';
import { TopicTrie } from '../../../src/hub/routing/topic-trie.js';

const collect = (trie: TopicTrie<string>, topic: string) => {
  const out: string[] = [];
  trie.collect(topic, out);
  return out.sort();
};

describe('TopicTrie', () => {
  it('gets, sets and deletes by filter, `+` and `#` included', () => {
    // given
    const trie = new TopicTrie<string>();
    for (const f of ['a', 'a/+', 'a/#', '#', '+', '/', '+/+', 'a//b']) trie.set(f, f);
    // then
    expect(trie.size).toBe(8);
    expect(trie.get('a/#')).toBe('a/#');
    expect(trie.get('a/+')).toBe('a/+');
    expect(trie.get('a/b')).toBeUndefined();
    expect([...trie.entries()].map(([f]) => f).sort()).toEqual(['#', '+', '+/+', '/', 'a', 'a/#', 'a/+', 'a//b']);
    expect([...trie.entries()].every(([f, v]) => f === v)).toBe(true);
    // when
    expect(trie.delete('a/#')).toBe(true);
    expect(trie.delete('a/#')).toBe(false);
    expect(trie.delete('x/y')).toBe(false);
    // then
    expect(trie.size).toBe(7);
    expect(collect(trie, 'a/b')).toEqual(['#', '+/+', 'a/+']);
  });

  it('prunes a deleted branch but keeps values above and beside it', () => {
    // given
    const trie = new TopicTrie<string>();
    trie.set('a/b/c/d', 'deep');
    trie.set('a/b', 'ab');
    trie.set('a/+/c', 'plus');
    // when
    trie.delete('a/b/c/d');
    trie.delete('a/+/c');
    // then
    expect([...trie.entries()]).toEqual([['a/b', 'ab']]);
    expect(collect(trie, 'a/b')).toEqual(['ab']);
  });

  it('keeps a node that holds only a `#` value when its child goes', () => {
    // given
    const trie = new TopicTrie<string>();
    trie.set('a/#', 'hash');
    trie.set('a/b', 'ab');
    // when
    trie.delete('a/b');
    // then
    expect(collect(trie, 'a/c')).toEqual(['hash']);
    expect(trie.get('a/#')).toBe('hash');
  });

  it('setting a filter again replaces its value without counting it twice', () => {
    const trie = new TopicTrie<string>();
    trie.set('a/#', '1');
    trie.set('a/#', '2');
    expect(trie.size).toBe(1);
    expect(collect(trie, 'a')).toEqual(['2']);
  });
});

describe('MatchCache', () => {
  it('holds at most maxEntries, starting over when full', () => {
    const cache = new MatchCache<number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.size).toBe(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('c')).toBe(3);
    cache.clear();
    expect(cache.get('c')).toBeUndefined();
  });

  it('holds nothing when maxEntries is 0', () => {
    const cache = new MatchCache<number>(0);
    cache.set('a', 1);
    expect(cache.get('a')).toBeUndefined();
  });
});
