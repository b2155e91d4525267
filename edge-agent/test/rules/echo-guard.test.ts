import { describe, expect, it } from 'vitest';
import { EchoGuard } from '../../src/rules/echo-guard.js';

describe('EchoGuard', () => {
  it('drops exactly one echo per remembered publish', () => {
    const guard = new EchoGuard();
    guard.remember('t', Buffer.from('a'));
    guard.remember('t', Buffer.from('a'));
    expect(guard.isEcho('t', Buffer.from('a'))).toBe(true);
    expect(guard.isEcho('t', Buffer.from('a'))).toBe(true);
    expect(guard.isEcho('t', Buffer.from('a'))).toBe(false);
  });
  it('does not drop a different payload or topic', () => {
    const guard = new EchoGuard();
    guard.remember('t', Buffer.from('a'));
    expect(guard.isEcho('t', Buffer.from('b'))).toBe(false);
    expect(guard.isEcho('u', Buffer.from('a'))).toBe(false);
  });
  it('forgets after its time to live', () => {
    let now = 0;
    const guard = new EchoGuard(10, 1_000, () => now);
    guard.remember('t', Buffer.from('a'));
    now = 1_001;
    expect(guard.isEcho('t', Buffer.from('a'))).toBe(false);
  });
  it('stays bounded, evicting the oldest', () => {
    const guard = new EchoGuard(3);
    for (let i = 0; i < 5; i++) guard.remember('t', Buffer.from(String(i)));
    expect(guard.size).toBe(3);
    expect(guard.isEcho('t', Buffer.from('0'))).toBe(false);
    expect(guard.isEcho('t', Buffer.from('4'))).toBe(true);
  });
});
