import { describe, expect, it } from 'vitest';
import { ChurnSafeMap } from '../../../src/hub/routing/churn-safe-map.js';

describe('ChurnSafeMap', () => {
  it('behaves as a Map for get, has, set, delete, size and iteration', () => {
    // given
    const m = new ChurnSafeMap<string, number>();
    m.set('a', 1);
    m.set('b', 2);
    m.set('a', 3);
    // when
    expect(m.delete('b')).toBe(true);
    expect(m.delete('b')).toBe(false);
    expect(m.delete('x')).toBe(false);
    // then
    expect(m.size).toBe(1);
    expect(m.get('a')).toBe(3);
    expect(m.get('b')).toBeUndefined();
    expect(m.has('a')).toBe(true);
    expect(m.has('b')).toBe(false);
    expect([...m.entries()]).toEqual([['a', 3]]);
    expect([...m.values()]).toEqual([3]);
  });

  it('revives a deleted key and keeps counts right through sweeps', () => {
    // given
    const m = new ChurnSafeMap<number, number>();
    for (let i = 0; i < 100; i++) m.set(i, i);
    // when: enough deletes to sweep, then a revival
    for (let i = 0; i < 90; i++) m.delete(i);
    m.set(5, 50);
    for (let r = 0; r < 1000; r++) {
      m.set(-1, r);
      m.delete(-1);
    }
    // then
    expect(m.size).toBe(11);
    expect([...m.values()].sort((x, y) => x - y)).toEqual([50, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    expect(m.get(-1)).toBeUndefined();
  });

  it('sweeps dead keys so they never outnumber the live ones by much', () => {
    // given
    const m = new ChurnSafeMap<string, number>();
    for (let i = 0; i < 10; i++) m.set(`live-${i}`, i);
    // when: many distinct keys come and go
    for (let i = 0; i < 1000; i++) {
      m.set(`gone-${i}`, i);
      m.delete(`gone-${i}`);
    }
    // then
    expect(m.size).toBe(10);
    expect(m.footprint).toBeLessThanOrEqual(2 * 10 + 33);
  });
});
