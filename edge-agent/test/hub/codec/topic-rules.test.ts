import { describe, expect, it } from 'vitest';
import {
  parseSharedSubscription,
  stringProblem,
  topicFilterProblem,
  topicNameProblem,
} from '../../../src/hub/codec/topic-rules.js';
import { isWellFormedUtf8 } from '../../../src/hub/codec/utf8.js';

describe('topic rules on strings (for the router)', () => {
  it('accepts topic names and refuses wildcards, emptiness, U+0000 and lone surrogates', () => {
    expect(topicNameProblem('a/b/ü/😀')).toBeUndefined();
    expect(topicNameProblem('/')).toBeUndefined();
    expect(topicNameProblem('')).toMatch(/MQTT-4.7.3-1/);
    expect(topicNameProblem('a/+')).toMatch(/MQTT-3.3.2-2/);
    expect(topicNameProblem('a/#')).toMatch(/MQTT-3.3.2-2/);
    expect(topicNameProblem('a\0b')).toMatch(/MQTT-1.5.4-2/);
    expect(topicNameProblem('a\ud800b')).toMatch(/surrogate/);
    expect(stringProblem('x'.repeat(65_536))).toMatch(/65535/);
  });

  it('checks wildcard placement in filters', () => {
    for (const ok of ['#', '+', '+/+', 'a/+/b', 'a/#', '+/#', 'a//b', '/#'])
      expect(topicFilterProblem(ok), ok).toBeUndefined();
    expect(topicFilterProblem('a#')).toMatch(/"#"/);
    expect(topicFilterProblem('#/a')).toMatch(/"#"/);
    expect(topicFilterProblem('a/#/')).toMatch(/"#"/);
    expect(topicFilterProblem('a+/b')).toMatch(/"\+"/);
    expect(topicFilterProblem('a/b+')).toMatch(/"\+"/);
    expect(topicFilterProblem('')).toMatch(/empty/);
  });

  it('splits shared subscriptions and refuses bad ones [MQTT-4.8.2-1], [MQTT-4.8.2-2]', () => {
    expect(parseSharedSubscription('$share/group/a/+')).toEqual({ shareName: 'group', filter: 'a/+' });
    expect(parseSharedSubscription('a/b')).toBeUndefined();
    expect(parseSharedSubscription('$share//a')).toBeUndefined();
    expect(topicFilterProblem('$share//a')).toMatch(/MQTT-4.8.2-1/);
    expect(topicFilterProblem('$share/g#/a')).toMatch(/MQTT-4.8.2-2/);
    expect(topicFilterProblem('$share/g')).toMatch(/MQTT-4.8.2-2/);
    expect(topicFilterProblem('$share/g/a#')).toMatch(/"#"/);
    expect(topicFilterProblem('$sharefoo/a')).toBeUndefined(); // not the prefix: an ordinary filter
  });

  it('checks payload UTF-8 strictly', () => {
    expect(isWellFormedUtf8(Buffer.from('héllo'))).toBe(true);
    expect(isWellFormedUtf8(Buffer.from([0xc0, 0x80]))).toBe(false);
    expect(isWellFormedUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(false);
  });
});
