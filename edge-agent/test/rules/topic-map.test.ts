import { describe, expect, it } from 'vitest';
import { compileTopicMapper } from '../../src/rules/topic-map.js';

describe('compileTopicMapper', () => {
  it('forwards topics unchanged without a target (Baetyl behaviour)', () => {
    expect(compileTopicMapper(undefined)('t1')).toBe('t1');
    expect(compileTopicMapper({})('a/b')).toBe('a/b');
  });
  it('adds a prefix', () => {
    expect(compileTopicMapper({ prefix: 'site-7/' })('sensors/temp')).toBe('site-7/sensors/temp');
  });
  it('strips a prefix only where present', () => {
    const map = compileTopicMapper({ strip: 'site-7/' });
    expect(map('site-7/cmd/reboot')).toBe('cmd/reboot');
    expect(map('other/cmd')).toBe('other/cmd');
  });
  it('strips then adds', () => {
    expect(compileTopicMapper({ strip: 'local/', prefix: 'cloud/' })('local/a/b')).toBe('cloud/a/b');
  });
  it('fills a template with the topic and its levels', () => {
    const map = compileTopicMapper({ topic: 'devices/{1}/telemetry/{topic}' });
    expect(map('sensors/dev42/temp')).toBe('devices/dev42/telemetry/sensors/dev42/temp');
    expect(compileTopicMapper({ strip: 'sensors/', topic: 'x/{0}' })('sensors/a/b')).toBe('x/a');
  });
  it('leaves a missing level empty', () => {
    expect(compileTopicMapper({ topic: 'a/{5}' })('x/y')).toBe('a/');
  });
});
