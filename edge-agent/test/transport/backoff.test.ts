import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/transport/backoff.js';

describe('Backoff', () => {
  it('starts at the minimum and doubles up to the cap (Baetyl: 500 ms to interval)', () => {
    const backoff = new Backoff({ minMs: 500, maxMs: 60_000, factor: 2, jitter: 0 });
    const delays = Array.from({ length: 10 }, () => backoff.next());
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });
  it('resets after a success', () => {
    const backoff = new Backoff({ minMs: 100, maxMs: 1_000, factor: 2, jitter: 0 });
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });
  it('draws jitter within [d·(1−j), d]', () => {
    let r = 0;
    const backoff = new Backoff({ minMs: 1_000, maxMs: 1_000, factor: 2, jitter: 0.5 }, () => r);
    r = 0;
    expect(backoff.next()).toBe(1_000);
    r = 0.999999;
    expect(backoff.next()).toBe(500);
    r = 0.5;
    expect(backoff.next()).toBe(750);
  });
});
