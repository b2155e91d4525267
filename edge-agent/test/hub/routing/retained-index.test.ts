import { describe, expect, it } from 'vitest';
import { RetainedIndex } from '../../../src/hub/routing/retained-index.js';
import { topicMatches } from '../../../src/rules/topic-match.js';
import { randomFilter, randomTopic, SPEC_FILTER_CASES, seeded } from './spec-filter-cases.js';

interface Msg {
  readonly payload: Uint8Array;
  readonly qos: 0 | 1 | 2;
}
const msg = (text: string, qos: 0 | 1 | 2 = 0): Msg => ({ payload: Buffer.from(text), qos });
const EMPTY: Msg = { payload: new Uint8Array(0), qos: 0 };
const roomy = () => new RetainedIndex<Msg>({ maxCount: 1000, maxBytes: 1 << 20 });
const topics = (idx: RetainedIndex<Msg>, filter: string) =>
  idx
    .matching(filter)
    .map((e) => e.topic)
    .sort();

describe('RetainedIndex', () => {
  describe('set and get', () => {
    it('stores, replaces, and clears on an empty payload [MQTT-3.3.1-6], [MQTT-3.3.1-7]', () => {
      // given
      const idx = roomy();
      // when, then
      expect(idx.set('a/b', msg('1'))).toBe('stored');
      expect(idx.set('a/b', msg('22', 1))).toBe('replaced');
      expect(idx.get('a/b')).toEqual(msg('22', 1));
      expect(idx.size).toBe(1);
      expect(idx.bytes).toBe(3 + 2);
      expect(idx.set('a/b', EMPTY)).toBe('cleared');
      expect(idx.get('a/b')).toBeUndefined();
      expect(idx.set('a/b', EMPTY)).toBe('absent');
      expect(idx.size).toBe(0);
      expect(idx.bytes).toBe(0);
      expect(topics(idx, '#')).toEqual([]);
    });

    it('delete removes a topic and frees its bytes', () => {
      const idx = roomy();
      idx.set('a/b', msg('xyz'));
      idx.set('a/b/c', msg('q'));
      expect(idx.delete('a/b')).toBe(true);
      expect(idx.delete('a/b')).toBe(false);
      expect(idx.bytes).toBe(5 + 1);
      expect(topics(idx, 'a/#')).toEqual(['a/b/c']);
    });

    it('counts bytes as UTF-8', () => {
      const idx = roomy();
      idx.set('é', msg('ü'));
      expect(idx.bytes).toBe(4);
    });
  });

  describe('matching(filter) (section 4.7)', () => {
    it.each(SPEC_FILTER_CASES)('%s against %s → %s', (filter, topic, matches) => {
      // given
      const idx = roomy();
      idx.set(topic, msg('x'));
      // when, then
      expect(topics(idx, filter)).toEqual(matches ? [topic] : []);
    });

    it('returns every match, and `$` topics only for filters that do not start with a wildcard', () => {
      // given
      const idx = roomy();
      for (const t of ['a', 'a/b', 'a/b/c', 'a/x/c', 'b/b/c', '$SYS/a', '$SYS/a/b', '/a']) idx.set(t, msg(t));
      // then
      expect(topics(idx, '#')).toEqual(['/a', 'a', 'a/b', 'a/b/c', 'a/x/c', 'b/b/c']);
      expect(topics(idx, 'a/#')).toEqual(['a', 'a/b', 'a/b/c', 'a/x/c']);
      expect(topics(idx, '+/+/c')).toEqual(['a/b/c', 'a/x/c', 'b/b/c']);
      expect(topics(idx, '+')).toEqual(['a']);
      expect(topics(idx, '+/a')).toEqual(['/a']);
      expect(topics(idx, '$SYS/#')).toEqual(['$SYS/a', '$SYS/a/b']);
      expect(topics(idx, '$SYS/+')).toEqual(['$SYS/a']);
      expect(topics(idx, 'a/b')).toEqual(['a/b']);
      expect(idx.matching('a/b')[0]?.message).toEqual(msg('a/b'));
      expect(topics(idx, 'nope')).toEqual([]);
    });

    it('agrees with topicMatches on random filters and topics', () => {
      const rand = seeded(7);
      for (let round = 0; round < 50; round++) {
        // given
        const idx = roomy();
        const held = new Set(Array.from({ length: 30 }, () => randomTopic(rand)));
        for (const t of held) idx.set(t, msg('x'));
        for (let f = 0; f < 30; f++) {
          const filter = randomFilter(rand);
          // when, then
          const want = [...held].filter((t) => topicMatches(filter, t)).sort();
          expect(topics(idx, filter), `filter ${JSON.stringify(filter)} topics ${JSON.stringify([...held])}`).toEqual(
            want,
          );
        }
      }
    });

    it('no longer returns a cleared topic, and prunes without losing its neighbours', () => {
      const idx = roomy();
      idx.set('a/b/c', msg('1'));
      idx.set('a/b', msg('2'));
      idx.set('a/b/c', EMPTY);
      expect(topics(idx, 'a/#')).toEqual(['a/b']);
      idx.set('a/b', EMPTY);
      expect(topics(idx, '#')).toEqual([]);
      idx.set('a/b/c', msg('3'));
      expect(topics(idx, 'a/+/c')).toEqual(['a/b/c']);
    });
  });

  describe('bounds', () => {
    it('at maxCount refuses new topics and still replaces and clears existing ones', () => {
      // given
      const idx = new RetainedIndex<Msg>({ maxCount: 2, maxBytes: 1 << 20 });
      idx.set('a', msg('1'));
      idx.set('b', msg('1'));
      // when, then
      expect(idx.set('c', msg('1'))).toBe('refused-count');
      expect(idx.get('c')).toBeUndefined();
      expect(topics(idx, '#')).toEqual(['a', 'b']);
      expect(idx.set('a', msg('2'))).toBe('replaced');
      expect(idx.get('a')).toEqual(msg('2'));
      expect(idx.set('b', EMPTY)).toBe('cleared');
      expect(idx.set('c', msg('1'))).toBe('stored');
    });

    it('refuses what would take the total over maxBytes; a smaller update still fits', () => {
      // given: topic 1 byte + payload; 10 bytes at most
      const idx = new RetainedIndex<Msg>({ maxCount: 100, maxBytes: 10 });
      expect(idx.set('a', msg('1234'))).toBe('stored'); // 5
      expect(idx.set('b', msg('123'))).toBe('stored'); // 4, total 9
      // when, then
      expect(idx.set('c', msg('1'))).toBe('refused-bytes'); // would be 11
      expect(idx.set('a', msg('123456'))).toBe('refused-bytes'); // would be 11
      expect(idx.get('a')).toEqual(msg('1234'));
      expect(idx.set('a', msg('12345'))).toBe('replaced'); // exactly 10
      expect(idx.bytes).toBe(10);
      expect(idx.set('a', msg('1'))).toBe('replaced'); // 2 + 4 = 6
      expect(idx.set('c', msg('123'))).toBe('stored'); // 10
      expect(idx.bytes).toBe(10);
    });
  });

  describe('bulk load', () => {
    it('restores under the bounds and returns the topics it refused', () => {
      // given
      const idx = new RetainedIndex<Msg>({ maxCount: 2, maxBytes: 1 << 20 });
      // when
      const refused = idx.load([
        ['a', msg('1')],
        ['b', msg('2')],
        ['c', msg('3')],
        ['a', msg('4')],
      ]);
      // then
      expect(refused).toEqual(['c']);
      expect(idx.get('a')).toEqual(msg('4'));
      expect(topics(idx, '+')).toEqual(['a', 'b']);
    });
  });
});
