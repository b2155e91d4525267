import type { IConnectPacket } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../src/hub/broker/login-throttle.js';
import { Resources, seedConfig } from './hub-fixtures.js';
import { rawSocket } from './raw-mqtt.js';

/** limits.logindelay (issue 18.6): password guessing from one address gets slower; nobody else does. */

describe('LoginThrottle', () => {
  const config = { minMs: 100, maxMs: 1_000, forgetMs: 60_000 };

  it('doubles the delay per failure from one address, up to the bound', () => {
    const throttle = new LoginThrottle(config, undefined, () => 0);
    const delays = Array.from({ length: 6 }, () => throttle.failed('10.0.0.1:5000'));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('keeps addresses apart (the port does not matter) and forgets one after a quiet period', () => {
    let now = 0;
    const stats = { loginDelays: 0, loginDelayMs: 0 };
    const throttle = new LoginThrottle(config, stats, () => now);
    throttle.failed('10.0.0.1:5000');
    expect(throttle.failed('10.0.0.1:5001')).toBe(200);
    expect(throttle.failed('[::1]:5000')).toBe(100);
    now = 60_000;
    expect(throttle.failed('10.0.0.1:5002')).toBe(100);
    expect(stats).toEqual({ loginDelays: 4, loginDelayMs: 500 });
  });

  it('min 0 turns it off', () => {
    const throttle = new LoginThrottle({ ...config, minMs: 0 });
    expect(throttle.failed('10.0.0.1:1')).toBe(0);
    expect(throttle.size).toBe(0);
  });
});

describe('limits.logindelay on the hub', () => {
  const res = new Resources();
  afterEach(() => res.run());
  const MIN = 200;
  const MAX = 800;

  it('answers wrong passwords later each time, up to max; a right one from the same address is not held', async () => {
    const hub = await res.hub(seedConfig({ limits: { logindelay: { min: `${MIN}ms`, max: `${MAX}ms` } } }));
    const expected = [MIN, MIN * 2, MAX, MAX];
    for (const [i, delay] of expected.entries()) {
      const raw = await rawSocket(res, hub);
      const sent = performance.now();
      const connack = await raw.connect({ password: Buffer.from('wrong') });
      // a lower bound, not a speed: the refusal cannot come before its delay
      expect(performance.now() - sent).toBeGreaterThanOrEqual(delay - 5);
      expect(connack.returnCode).toBe(4); // bad user name or password [MQTT-3.2.2.3]
      expect(hub.broker.stats.loginDelays).toBe(i + 1);
      expect(hub.broker.stats.loginDelayMs).toBe(expected.slice(0, i + 1).reduce((a, b) => a + b, 0));
      await raw.waitClosed();
    }
    // a guess is pending (MAX); a right password from another connection is answered first and not counted
    const guess = await rawSocket(res, hub);
    const order: string[] = [];
    const refused = guess.connect({ password: Buffer.from('wrong') }).then((c) => order.push(`guess ${c.returnCode}`));
    const right = await rawSocket(res, hub);
    const accepted = await right.connect();
    order.push(`right ${accepted.returnCode}`);
    await refused;
    expect(order).toEqual(['right 0', 'guess 4']);
    expect(hub.broker.stats.loginDelays).toBe(expected.length + 1);
  });

  it('does not count a login without a password (certificate or username only)', async () => {
    const hub = await res.hub(seedConfig({ limits: { logindelay: { min: `${MIN}ms` } } }));
    const raw = await rawSocket(res, hub);
    const connack = await raw.connect({
      username: 'nobody',
      password: undefined,
    } as unknown as Partial<IConnectPacket>);
    expect(connack.returnCode).toBe(5); // not authorized
    expect(hub.broker.stats.loginDelays).toBe(0);
  });
});
