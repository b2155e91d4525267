import { withTimeout } from '@tether/test-helpers/wait-for';
import { describe, expect, it } from 'vitest';
import type { BridgeMessage } from '../../src/core/bridge-message.js';
import type { MessageQueue, MessageQueueOptions } from '../../src/queue/message-queue.js';
import { append } from './append.js';

export type QueueFactory = (options: Partial<MessageQueueOptions>) => {
  queue: MessageQueue;
  reopen?: () => MessageQueue;
};

const msg = (n: number, size = 1): BridgeMessage => ({
  topic: `t/${n}`,
  payload: Buffer.alloc(size, n % 256),
  qos: 1,
  retain: false,
});
const takeAll = (queue: MessageQueue) => {
  const out = [];
  for (let e = queue.take(); e; e = queue.take()) out.push(e);
  return out;
};

/** One suite for every MessageQueue flavour (the aedes-persistence way). */
export function messageQueueContract(name: string, build: QueueFactory): void {
  describe(`MessageQueue contract: ${name}`, () => {
    it('hands messages out in order, once, and forgets what is acked', async () => {
      const { queue } = build({});
      for (let i = 0; i < 5; i++) await append(queue, msg(i));
      expect(queue.size).toBe(5);
      const taken = takeAll(queue);
      expect(taken.map((e) => e.message.topic)).toEqual(['t/0', 't/1', 't/2', 't/3', 't/4']);
      expect(queue.take()).toBeUndefined();
      for (const e of taken) queue.ack(e);
      expect(queue.size).toBe(0);
      expect(queue.bytes).toBe(0);
    });

    it('gives a released message back before anything newer, in id order', async () => {
      const { queue } = build({});
      for (let i = 0; i < 4; i++) await append(queue, msg(i));
      const [a, b, c] = [queue.take(), queue.take(), queue.take()];
      queue.requeue(c!);
      queue.requeue(a!);
      expect(takeAll(queue).map((e) => e.message.topic)).toEqual(['t/0', 't/2', 't/3']);
      queue.ack(b!);
      expect(queue.stats.redelivered).toBe(2);
    });

    it('drop-oldest: at the bound exactly the oldest are dropped and counted', async () => {
      const { queue } = build({ maxMessages: 3, overflow: 'drop-oldest' });
      for (let i = 0; i < 7; i++) await append(queue, msg(i));
      expect(queue.size).toBe(3);
      expect(queue.stats.dropped).toBe(4);
      expect(takeAll(queue).map((e) => e.message.topic)).toEqual(['t/4', 't/5', 't/6']);
    });

    it('drop-oldest never drops a message in flight', async () => {
      const { queue } = build({ maxMessages: 2, overflow: 'drop-oldest' });
      await append(queue, msg(0));
      await append(queue, msg(1));
      const inflight = queue.take()!;
      await append(queue, msg(2));
      expect(queue.stats.dropped).toBe(1);
      expect(takeAll(queue).map((e) => e.message.topic)).toEqual(['t/2']);
      queue.ack(inflight);
    });

    it('bounds bytes as well as messages', async () => {
      const { queue } = build({ maxBytes: 100, overflow: 'drop-oldest' });
      for (let i = 0; i < 5; i++) await append(queue, msg(i, 40));
      expect(queue.bytes).toBeLessThanOrEqual(100);
      expect(takeAll(queue).map((e) => e.message.topic)).toEqual(['t/3', 't/4']);
    });

    it('reject-new: an append waits for room, then lands in order', async () => {
      const { queue } = build({ maxMessages: 2, overflow: 'reject-new' });
      await append(queue, msg(0));
      await append(queue, msg(1));
      let landed = false;
      const third = (append(queue, msg(2)) ?? Promise.resolve()).then(() => {
        landed = true;
      });
      await new Promise((r) => setImmediate(r));
      expect(landed).toBe(false);
      const first = queue.take()!;
      queue.ack(first);
      await third;
      expect(landed).toBe(true);
      expect(takeAll(queue).map((e) => e.message.topic)).toEqual(['t/1', 't/2']);
      expect(queue.stats.dropped).toBe(0);
    });

    it('tells its listener when messages arrive, each takeable then, until the listener is removed', async () => {
      const { queue } = build({});
      const handed: string[] = [];
      // the listener takes what is there when told, as a dispatcher does (the acks come later)
      const off = queue.onAvailable(() => {
        for (const entry of takeAll(queue)) handed.push(entry.message.topic);
      });
      await append(queue, msg(0));
      expect(handed).toEqual(['t/0']);
      await append(queue, msg(1));
      expect(handed).toEqual(['t/0', 't/1']);
      off();
      await append(queue, msg(2));
      expect(handed).toEqual(['t/0', 't/1']);
      expect(queue.take()?.message.topic).toBe('t/2');
    });

    it('reports a message safe when its listener delivers and acks it inside offer()', async () => {
      const { queue } = build({});
      const acked: string[] = [];
      // a dispatcher on a fast link: told, it takes, and the ack lands before offer() returns
      queue.onAvailable(() => {
        for (const entry of takeAll(queue)) {
          queue.ack(entry);
          acked.push(entry.message.topic);
        }
      });
      for (let i = 0; i < 3; i++) {
        await withTimeout(Promise.resolve(append(queue, msg(i))), 2_000, `append t/${i}`);
      }
      expect(acked).toEqual(['t/0', 't/1', 't/2']);
      expect(queue.take()).toBeUndefined();
      expect(queue.stats.dropped).toBe(0);
    });
  });
}
