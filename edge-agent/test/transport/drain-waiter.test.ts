import { describe, expect, it } from 'vitest';
import { DrainWaiter } from '../../src/transport/drain-waiter.js';

describe('DrainWaiter: a stopping endpoint waits for its in-flight publishes', () => {
  it('is done at once when nothing is in flight, or when there is no time to wait', async () => {
    const drain = new DrainWaiter();
    await drain.until(() => true, 5_000);
    await drain.until(() => false, 0);
  });

  it('ends when the owner reports the change that drains it, not at the next poll', async () => {
    // given a publish in flight
    const drain = new DrainWaiter();
    let inflight = 1;
    let done = false;
    const wait = drain
      .until(() => inflight === 0, 60_000)
      .then(() => {
        done = true;
      });
    // when an unrelated change is reported, it still waits
    drain.changed();
    await Promise.resolve();
    expect(done).toBe(false);
    // when the publish settles and the owner says so, it is done
    inflight = 0;
    drain.changed();
    await wait;
    expect(done).toBe(true);
  });

  it('gives up after the time given', async () => {
    const drain = new DrainWaiter();
    const started = Date.now();
    await drain.until(() => false, 30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });
});
