import { describe, expect, it } from 'vitest';
import { filtersOverlap } from '../../src/rules/filter-overlap.js';

describe('filtersOverlap', () => {
  it.each([
    ['t', 't', true],
    ['t1', 't2', false],
    ['a/+', 'a/b', true],
    ['a/#', 'a', true],
    ['a', 'a/#', true],
    ['a/b', 'a/b/c', false],
    ['+/b', 'a/+', true],
    ['#', 'anything/at/all', true],
    ['#', '$SYS/x', false],
    ['+/x', '$aws/x', false],
    ['$aws/#', '$aws/things', true],
    ['a/+/c', 'a/b/d', false],
  ])('%s and %s: %s', (a, b, expected) => {
    expect(filtersOverlap(a, b)).toBe(expected);
    expect(filtersOverlap(b, a)).toBe(expected);
  });
});
