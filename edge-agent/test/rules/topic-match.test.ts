import { describe, expect, it } from 'vitest';
import { topicMatches } from '../../src/rules/topic-match.js';

describe('topicMatches', () => {
  const cases: Array<[string, string, boolean]> = [
    ['t1', 't1', true],
    ['t1', 't2', false],
    ['a/b', 'a/b', true],
    ['a/b', 'a', false],
    ['a', 'a/b', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a/', true],
    ['a/+', 'a', false],
    ['+/b', 'a/b', true],
    ['+/+', '/b', true],
    ['+', '/b', false],
    ['+', 'a', true],
    ['+', '', true],
    ['#', 'a/b/c', true],
    ['#', '/', true],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/#', 'ab', false],
    ['a/#', 'ab/c', false],
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/d', false],
    ['a/+/#', 'a/b', true],
    ['a/b/', 'a/b/', true],
    ['a/b/', 'a/b', false],
    ['a//b', 'a//b', true],
    ['a/+/b', 'a//b', true],
    ['sport/tennis/+', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true],
    // [MQTT-4.7.2-1]: wildcards at the first level do not match $-topics
    ['#', '$SYS/broker', false],
    ['+/monitor/Clients', '$SYS/monitor/Clients', false],
    ['$SYS/#', '$SYS/monitor/Clients', true],
    ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
    ['abc', 'abcd', false],
    ['abcd', 'abc', false],
  ];
  it.each(cases)('%s against %s is %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});
