import { describe, expect, it } from 'vitest';
import { hashPassword, isHashedPassword, verifyPassword, verifyPasswordAsync } from '../../src/hub/password-hash.js';

describe('password hash', () => {
  it('round-trips a hashed password and refuses a wrong one', async () => {
    const stored = hashPassword('hahaha');
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(isHashedPassword(stored)).toBe(true);
    expect(verifyPassword(stored, 'hahaha')).toBe(true);
    expect(verifyPassword(stored, Buffer.from('hahaha'))).toBe(true);
    expect(verifyPassword(stored, 'hahah')).toBe(false);
    expect(verifyPassword(stored, '')).toBe(false);
    expect(await verifyPasswordAsync(stored, Buffer.from('hahaha'))).toBe(true);
    expect(await verifyPasswordAsync(stored, 'nope')).toBe(false);
  });

  it('salts every hash', () => {
    expect(hashPassword('same')).not.toBe(hashPassword('same'));
  });

  it('compares Baetyl plain-text passwords exactly', async () => {
    expect(isHashedPassword('hahaha')).toBe(false);
    expect(verifyPassword('hahaha', 'hahaha')).toBe(true);
    expect(verifyPassword('hahaha', Buffer.from('hahaha'))).toBe(true);
    expect(verifyPassword('hahaha', 'hahaha ')).toBe(false);
    expect(verifyPassword('hahaha', 'HAHAHA')).toBe(false);
    expect(verifyPassword('hahaha', '')).toBe(false);
    expect(await verifyPasswordAsync('hahaha', 'hahaha')).toBe(true);
  });

  it('refuses a malformed or absurd hash instead of throwing', () => {
    const [, , , , salt, key] = hashPassword('x').split('$');
    expect(verifyPassword(`scrypt$3$8$1$${salt}$${key}`, 'x')).toBe(false); // N not a power of two
    expect(verifyPassword(`scrypt$${2 ** 30}$8$1$${salt}$${key}`, 'x')).toBe(false); // N too large
    expect(verifyPassword(`scrypt$16384$8$1$${salt}$AAAA`, 'x')).toBe(false); // key too short
  });
});
