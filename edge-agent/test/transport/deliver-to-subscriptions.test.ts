import type { QoS } from '@tether/shared';
import { describe, expect, it } from 'vitest';
import type { BridgeMessage } from '../../src/core/bridge-message.js';
import { HELD, type InboundHandler, type MessageHold } from '../../src/core/message-hold.js';
import { deliverToSubscriptions } from '../../src/transport/deliver-to-subscriptions.js';

const message: BridgeMessage = { topic: 'up/a', payload: Buffer.from('x'), qos: 1, retain: false };

/** What the source connection would see: how often it acked, and the failure it got instead. */
function source() {
  const seen = { acks: 0, failures: [] as unknown[] };
  return {
    seen,
    ack: () => {
      seen.acks++;
    },
    failed: (error: unknown) => {
      seen.failures.push(error);
    },
  };
}

const sub = (filter: string, handler: InboundHandler, qos: QoS = 2) => ({ filter, qos, handler });

describe('deliverToSubscriptions', () => {
  it('acks at once when no handler holds the message, and hands the parsed message on as is', () => {
    const s = source();
    const got: BridgeMessage[] = [];
    deliverToSubscriptions([sub('up/#', (m) => void got.push(m))], message, s.ack, s.failed);
    expect(s.seen).toEqual({ acks: 1, failures: [] });
    expect(got[0]).toBe(message);
  });

  it('holds the ack until every handler is done, whichever way each reports it', async () => {
    const s = source();
    let finishHeld: MessageHold | undefined;
    let resolvePromise: () => void = () => {};
    const subs = [
      sub('up/#', (_m, hold) => {
        finishHeld = hold;
        return HELD;
      }),
      sub('up/+', () => new Promise<void>((resolve) => (resolvePromise = resolve))),
      sub('#', () => undefined),
    ];
    deliverToSubscriptions(subs, message, s.ack, s.failed);
    expect(s.seen.acks).toBe(0);
    finishHeld?.release();
    await Promise.resolve();
    expect(s.seen.acks).toBe(0); // the promise is still pending
    resolvePromise();
    await new Promise((r) => setImmediate(r));
    expect(s.seen).toEqual({ acks: 1, failures: [] });
  });

  it('never acks early when a handler reports done before the next one is called', () => {
    const s = source();
    let later: MessageHold | undefined;
    const subs = [
      sub('up/#', (_m, hold) => {
        hold.release(); // synchronously, inside the loop
        return HELD;
      }),
      sub('up/a', (_m, hold) => {
        later = hold;
        return HELD;
      }),
    ];
    deliverToSubscriptions(subs, message, s.ack, s.failed);
    expect(s.seen.acks).toBe(0);
    later?.release();
    expect(s.seen).toEqual({ acks: 1, failures: [] });
  });

  it('reports the first failure instead of acking: from release(error), a rejection or a throw', async () => {
    const stored = new Error('disk full');
    for (const failing of [
      (_m: BridgeMessage, hold: MessageHold) => {
        hold.release(stored);
        return HELD;
      },
      () => Promise.reject(stored),
      () => {
        throw stored;
      },
    ] satisfies InboundHandler[]) {
      const s = source();
      const subs = [sub('up/#', failing), sub('#', () => Promise.reject(new Error('second')))];
      deliverToSubscriptions(subs, message, s.ack, s.failed);
      await new Promise((r) => setImmediate(r));
      expect(s.seen.acks).toBe(0);
      expect(s.seen.failures).toHaveLength(1);
      expect(s.seen.failures[0]).toBe(stored);
    }
  });

  it('lowers the QoS per subscription (a copy) and skips filters that do not match', () => {
    const s = source();
    const got: Array<[string, BridgeMessage]> = [];
    deliverToSubscriptions(
      [
        sub('up/#', (m) => void got.push(['q0', m]), 0),
        sub('down/#', (m) => void got.push(['other', m])),
        sub('up/a', (m) => void got.push(['q1', m]), 1),
      ],
      message,
      s.ack,
      s.failed,
    );
    expect(got.map(([name, m]) => [name, m.qos])).toEqual([
      ['q0', 0],
      ['q1', 1],
    ]);
    expect(got[0]?.[1]).not.toBe(message);
    expect(got[1]?.[1]).toBe(message);
    expect(message.qos).toBe(1); // the original is untouched
    expect(s.seen.acks).toBe(1);
  });
});

describe('MessageHolds, misused', () => {
  it('settles once: a handler that releases twice, or releases and then throws, cannot ack twice', () => {
    const s = source();
    const got: string[] = [];
    const subs = [
      sub('up/#', (_m, hold) => {
        hold.release();
        hold.release();
        return HELD;
      }),
      sub('up/a', (_m, hold) => {
        hold.release();
        throw new Error('after release');
      }),
      sub('#', (m) => void got.push(m.topic)),
    ];
    deliverToSubscriptions(subs, message, s.ack, s.failed);
    expect(s.seen.acks + s.seen.failures.length).toBe(1);
  });

  it('an undefined rejection or throw is still a failure; release(null) is success', async () => {
    for (const handler of [
      () => Promise.reject(undefined),
      () => {
        throw undefined;
      },
    ] satisfies InboundHandler[]) {
      const s = source();
      deliverToSubscriptions([sub('up/#', handler)], message, s.ack, s.failed);
      await new Promise((r) => setImmediate(r));
      expect(s.seen.acks).toBe(0);
      expect(s.seen.failures).toHaveLength(1);
    }
    const s = source();
    deliverToSubscriptions(
      [
        sub('up/#', (_m, hold) => {
          hold.release(null);
          return HELD;
        }),
      ],
      message,
      s.ack,
      s.failed,
    );
    expect(s.seen).toEqual({ acks: 1, failures: [] });
  });
});
