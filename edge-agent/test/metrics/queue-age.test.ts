import { silentLogger } from '@tether/node-shared/logging';
import { describe, expect, it } from 'vitest';
import { QueueAge } from '../../src/metrics/queue-age.js';
import { MessageQueue } from '../../src/queue/message-queue.js';
import { append } from '../queue/append.js';

const message = (n: number) => ({ topic: 't', payload: Buffer.from(String(n)), qos: 1 as const, retain: false });

function memoryQueue(): MessageQueue {
  const queue = new MessageQueue({
    name: 'q',
    maxMessages: 1_000,
    maxBytes: 1 << 20,
    overflow: 'drop-oldest',
    logger: silentLogger(),
  });
  queue.open();
  return queue;
}

describe('QueueAge', () => {
  it('is the wait of the oldest queued message, to the sample, and 0 when empty', () => {
    const queue = memoryQueue();
    const t0 = 1_000_000;
    const age = new QueueAge(queue, t0);
    expect(age.oldestSeconds(t0)).toBe(0);
    void append(queue, message(1));
    age.sample(t0 + 1_000);
    void append(queue, message(2));
    age.sample(t0 + 5_000);
    expect(age.oldestSeconds(t0 + 11_000)).toBe(10);
    // the first one is delivered: the second is the oldest now
    const first = queue.take();
    if (first) queue.ack(first);
    expect(age.oldestSeconds(t0 + 11_000)).toBe(6);
    const second = queue.take();
    if (second) queue.ack(second);
    expect(age.oldestSeconds(t0 + 12_000)).toBe(0);
  });

  it('counts a backlog found at start from the start', () => {
    const queue = memoryQueue();
    void append(queue, message(1));
    void append(queue, message(2));
    // created after the queue already held two messages (a previous run's backlog)
    const age = new QueueAge({ size: queue.size, stats: { appended: 0 } }, 5_000);
    expect(age.oldestSeconds(8_000)).toBe(3);
  });
});
