import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@tether/node-shared/logging';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Dispatcher, type DispatcherOptions } from '../../src/bridge/dispatcher.js';
import { DeadLetterStore } from '../../src/queue/dead-letter-store.js';
import { MessageQueue } from '../../src/queue/message-queue.js';
import { SqliteStore } from '../../src/queue/sqlite-store.js';
import {
  capturingLogger,
  connectionLost,
  FakeEndpoint,
  failedWith,
  msg,
  neverSent,
  refused,
  settleTurns,
} from './fake-endpoint.js';

/**
 * The dispatcher against a fake destination and the real queue in memory mode: every branch of
 * sending, retrying, setting aside and draining, in milliseconds.
 */
function memoryQueue(): MessageQueue {
  const queue = new MessageQueue({
    name: 'remote/a/c',
    maxMessages: 1_000_000,
    maxBytes: 1024 ** 3,
    overflow: 'drop-oldest',
    logger: silentLogger(),
  });
  queue.open();
  return queue;
}

function setup(options: Partial<DispatcherOptions> & { withSend?: boolean; publishRejects?: number } = {}) {
  const { withSend, publishRejects, ...rest } = options;
  const endpoint = new FakeEndpoint('remote/a/c', {
    ...(withSend === undefined ? {} : { withSend }),
    ...(publishRejects === undefined ? {} : { publishRejects }),
  });
  const queue = memoryQueue();
  const { logger, lines } = capturingLogger();
  const dispatcher = new Dispatcher({
    name: 'remote/a/c',
    endpoint,
    queue,
    logger,
    window: 10,
    deadLetterAfter: 3,
    ...rest,
  });
  /** Queues `topics` (memory queue: safe at once). */
  const offer = (...topics: string[]) => {
    for (const topic of topics) expect(queue.offer(msg(topic), { release() {} })).toBe(true);
  };
  return { endpoint, queue, dispatcher, lines, offer };
}

const topics = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const sentTopics = (endpoint: FakeEndpoint) => endpoint.sent.map((m) => m.topic);
const pendingTopics = (endpoint: FakeEndpoint) => endpoint.pending.map((p) => p.message.topic);

describe('Dispatcher: the in-flight window', () => {
  it('keeps at most `window` publishes awaiting their ack, and refills as acks come', async () => {
    const { endpoint, queue, dispatcher, offer } = setup({ window: 3 });
    offer(...topics(10));
    endpoint.online();
    dispatcher.start();
    expect(pendingTopics(endpoint)).toEqual(['m0', 'm1', 'm2']);
    expect(dispatcher.stats.inflight).toBe(3);

    endpoint.ack();
    await settleTurns();
    expect(pendingTopics(endpoint)).toEqual(['m1', 'm2', 'm3']);

    for (let round = 0; round < 10 && endpoint.pending.length > 0; round++) {
      endpoint.settleAll();
      await settleTurns();
    }
    expect(sentTopics(endpoint)).toEqual(topics(10));
    expect(endpoint.maxInFlight).toBe(3);
    expect(queue.size).toBe(0);
    expect(dispatcher.stats.forwarded).toBe(10);
    expect(dispatcher.stats.forwardedBytes).toBe(topics(10).join('').length);
    expect(dispatcher.stats.inflight).toBe(0);
  });

  it('sends nothing while the destination is offline, and starts on its connected event', async () => {
    const { endpoint, dispatcher, offer } = setup({ window: 2 });
    offer('a', 'b', 'c');
    dispatcher.start();
    expect(endpoint.sent).toEqual([]);
    endpoint.online();
    expect(pendingTopics(endpoint)).toEqual(['a', 'b']);
  });

  it('sends what the queue gets later without being asked (the queue tells it)', async () => {
    const { endpoint, dispatcher, offer } = setup({ window: 2 });
    endpoint.online();
    dispatcher.start();
    offer('late');
    expect(pendingTopics(endpoint)).toEqual(['late']);
  });

  it('calls beforePublish with each message just before it goes out (the echo guard)', () => {
    const seen: string[] = [];
    const { endpoint, dispatcher, offer } = setup({ window: 5, beforePublish: (m) => seen.push(m.topic) });
    offer('x', 'y');
    endpoint.online();
    dispatcher.start();
    expect(seen).toEqual(['x', 'y']);
  });

  it('uses publish() when the endpoint has no send(), with the same window', async () => {
    const { endpoint, dispatcher, offer } = setup({ window: 2, withSend: false });
    offer(...topics(4));
    endpoint.online();
    dispatcher.start();
    expect(pendingTopics(endpoint)).toEqual(['m0', 'm1']);
    endpoint.ack();
    await settleTurns();
    expect(pendingTopics(endpoint)).toEqual(['m1', 'm2']);
  });
});

describe('Dispatcher: retries keep the order', () => {
  it('gives a message that failed back ahead of everything newer, and sends it alone until it is through', async () => {
    const { endpoint, queue, dispatcher, offer } = setup({ window: 3 });
    offer(...topics(8));
    endpoint.online();
    dispatcher.start();
    expect(pendingTopics(endpoint)).toEqual(['m0', 'm1', 'm2']);

    endpoint.settle(failedWith(), 'm1');
    await settleTurns();
    // the failure blames m1: it goes next, alone, so nothing newer than it went out
    expect(pendingTopics(endpoint)).toEqual(['m0', 'm2']);
    endpoint.ack('m0');
    endpoint.ack('m2');
    await settleTurns();
    expect(pendingTopics(endpoint)).toEqual(['m1']);
    endpoint.ack('m1');
    await settleTurns();
    // through: the window is back to 3
    expect(pendingTopics(endpoint)).toEqual(['m3', 'm4', 'm5']);
    endpoint.settleAll();
    await settleTurns();
    endpoint.settleAll();
    await settleTurns();

    expect(sentTopics(endpoint)).toEqual(['m0', 'm1', 'm2', 'm1', 'm3', 'm4', 'm5', 'm6', 'm7']);
    expect(dispatcher.stats.retried).toBe(1);
    expect(queue.stats.redelivered).toBe(1);
    expect(queue.size).toBe(0);
  });

  it('gives several failed messages back oldest first, whatever order they failed in', async () => {
    const { endpoint, dispatcher, offer } = setup({ window: 4 });
    offer(...topics(6));
    endpoint.online();
    dispatcher.start();
    endpoint.settle(neverSent(), 'm3');
    endpoint.settle(neverSent(), 'm1');
    endpoint.settle(neverSent(), 'm2');
    endpoint.offline();
    endpoint.ack('m0');
    await settleTurns();
    expect(endpoint.pending).toEqual([]);
    endpoint.online();
    await settleTurns();
    expect(pendingTopics(endpoint)).toEqual(['m1', 'm2', 'm3', 'm4']);
  });

  it('never counts a send that never happened (destination offline) against the message', async () => {
    // deadLetterAfter 1: a single counted failure would set it aside
    const { endpoint, queue, dispatcher, offer } = setup({ window: 1, deadLetterAfter: 1 });
    offer('m0');
    endpoint.online();
    dispatcher.start();
    for (let i = 0; i < 10; i++) {
      endpoint.settle(neverSent());
      await settleTurns();
    }
    expect(dispatcher.stats.deadLettered).toBe(0);
    expect(dispatcher.stats.retried).toBe(10);
    expect(pendingTopics(endpoint)).toEqual(['m0']);
    endpoint.ack();
    await settleTurns();
    expect(queue.size).toBe(0);
  });

  it('gives a message back when publish() rejects (an endpoint bug), logs it and sends it again after a pause', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { endpoint, queue, dispatcher, lines, offer } = setup({ window: 1, withSend: false, publishRejects: 1 });
    offer('m0');
    endpoint.online();
    dispatcher.start();
    await settleTurns();
    expect(queue.stats.redelivered).toBe(1);
    expect(lines.filter((l) => String(l.msg).startsWith('publish threw'))).toHaveLength(1);
    expect(pendingTopics(endpoint)).toEqual([]);
    vi.advanceTimersByTime(1_000);
    vi.useRealTimers();
    await settleTurns();
    expect(pendingTopics(endpoint)).toEqual(['m0']);
    endpoint.ack();
    await settleTurns();
    expect(queue.size).toBe(0);
  });

  // a publish() that keeps rejecting was once retried at once from the rejection's promise job,
  // never yielding to the event loop (timers, sockets and stop() starved). The fake stops
  // rejecting after 1,000 calls so the test ends either way.
  it('does not spin without yielding when publish() keeps rejecting', async () => {
    const { endpoint, dispatcher, offer } = setup({ window: 1, withSend: false, publishRejects: 1_000 });
    offer('m0');
    endpoint.online();
    dispatcher.start();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const inOneTurn = endpoint.sent.length;
    dispatcher.detach();
    expect(inOneTurn).toBeLessThan(100);
  });
});

describe('Dispatcher: a lost connection blames no message until one loses it alone', () => {
  it('after losing several in flight at once, sends them one at a time, then opens the window again', async () => {
    // deadLetterAfter 1: if the group loss counted against any of them, it would be set aside
    const { endpoint, queue, dispatcher, offer } = setup({ window: 4, deadLetterAfter: 1 });
    offer(...topics(10));
    endpoint.online();
    dispatcher.start();
    expect(pendingTopics(endpoint)).toEqual(['m0', 'm1', 'm2', 'm3']);
    endpoint.offline();
    endpoint.settleAll(connectionLost());
    await settleTurns();
    expect(endpoint.pending).toEqual([]);
    expect(dispatcher.stats.deadLettered).toBe(0);

    endpoint.online();
    const inFlight: string[][] = [];
    for (let i = 0; i < 4; i++) {
      inFlight.push(pendingTopics(endpoint));
      endpoint.ack();
      await settleTurns();
    }
    // the suspects, alone each
    expect(inFlight).toEqual([['m0'], ['m1'], ['m2'], ['m3']]);
    // the first message past the suspects opens the window again
    expect(pendingTopics(endpoint)).toEqual(['m4', 'm5', 'm6', 'm7']);
    endpoint.settleAll();
    await settleTurns();
    endpoint.settleAll();
    await settleTurns();
    expect(queue.size).toBe(0);
    expect(dispatcher.stats.forwarded).toBe(10);
    expect(dispatcher.stats.deadLettered).toBe(0);
  });

  it('sets aside a message that loses the connection alone queue.deadletter.after times, and moves on', async () => {
    const { endpoint, queue, dispatcher, lines, offer } = setup({ window: 4, deadLetterAfter: 3 });
    offer('poison', 'm1', 'm2');
    endpoint.online();
    dispatcher.start();
    endpoint.settleAll(connectionLost()); // together: no one blamed
    await settleTurns();
    const attempts: string[][] = [];
    for (let i = 0; i < 3; i++) {
      attempts.push(pendingTopics(endpoint));
      endpoint.settle(connectionLost()); // alone: counted
      await settleTurns();
    }
    expect(attempts).toEqual([['poison'], ['poison'], ['poison']]);
    expect(dispatcher.stats.deadLettered).toBe(1);
    // the rest moves on (still one at a time: they lost the connection with the poison message)
    expect(pendingTopics(endpoint)).toEqual(['m1']);
    endpoint.ack();
    await settleTurns();
    expect(pendingTopics(endpoint)).toEqual(['m2']);
    endpoint.ack();
    await settleTurns();
    expect(queue.size).toBe(0);
    expect(sentTopics(endpoint).filter((t) => t === 'poison')).toHaveLength(4);

    // one warning per counted failure before the last, then one error when it is set aside
    const warned = lines.filter((l) => /^a message failed (again|while alone in flight)/.test(String(l.msg)));
    expect(warned.map((l) => l.failures)).toEqual([1, 2]);
    const setAside = lines.filter((l) => l.level === 50);
    expect(setAside).toHaveLength(1);
    expect(setAside[0]).toMatchObject({ topic: 'poison', attempts: 3 });
    expect(String(setAside[0]?.msg)).toMatch(/failed 3 times in a row; it is dropped/);
  });

  it('counts failures in a row of the same kind only: another kind starts again at 1', async () => {
    const { endpoint, queue, dispatcher, offer } = setup({ window: 1, deadLetterAfter: 2 });
    offer('m0');
    endpoint.online();
    dispatcher.start();
    for (const outcome of [failedWith(0x80), connectionLost(), failedWith(0x80), connectionLost()]) {
      endpoint.settle(outcome);
      await settleTurns();
    }
    expect(dispatcher.stats.deadLettered).toBe(0);
    endpoint.settle(connectionLost()); // the second ECONNCLOSED in a row
    await settleTurns();
    expect(dispatcher.stats.deadLettered).toBe(1);
    expect(queue.size).toBe(0);
  });

  it('sets a message the destination refuses aside at once', async () => {
    const { endpoint, queue, dispatcher, offer } = setup({ window: 2 });
    offer('refused', 'ok');
    endpoint.online();
    dispatcher.start();
    endpoint.settle(refused(), 'refused');
    endpoint.ack('ok');
    await settleTurns();
    expect(dispatcher.stats).toMatchObject({ rejected: 1, deadLettered: 1, forwarded: 1 });
    expect(queue.size).toBe(0);
    expect(sentTopics(endpoint)).toEqual(['refused', 'ok']);
  });

  it('never sends a topic the spec forbids (a compliant broker would drop the connection)', async () => {
    const { endpoint, queue, dispatcher, offer } = setup({ window: 2 });
    offer('a/+/b', 'nul\u0000topic', 'fine');
    endpoint.online();
    dispatcher.start();
    expect(sentTopics(endpoint)).toEqual(['fine']);
    expect(dispatcher.stats.deadLettered).toBe(2);
    endpoint.ack();
    await settleTurns();
    expect(queue.size).toBe(0);
  });
});

describe('Dispatcher: dead letters in a store', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  it('takes a message out of the queue only once its dead letter is committed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-dispatcher-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = SqliteStore.open(dir, { durability: 'process', commitDelayMs: 0 }, silentLogger());
    cleanups.push(() => store.close());
    const deadLetters = new DeadLetterStore(store);
    const { endpoint, queue, dispatcher, offer } = setup({ window: 1, deadLetterAfter: 2, deadLetters });
    offer('poison', 'next');
    endpoint.online();
    dispatcher.start();
    endpoint.settle(failedWith());
    await settleTurns();
    endpoint.settle(failedWith());
    // until the dead letter is committed the message stays counted in the queue
    let uncommittedTurns = 0;
    for (let i = 0; i < 50 && deadLetters.list().length === 0; i++) {
      if (dispatcher.stats.deadLettered === 1) {
        uncommittedTurns++;
        expect(queue.size).toBe(2);
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(uncommittedTurns).toBeGreaterThan(0);
    expect(deadLetters.list()).toMatchObject([
      { queue: 'remote/a/c', message: { topic: 'poison' }, attempts: 2, reason: 'publish failed' },
    ]);
    expect(dispatcher.stats.deadLettered).toBe(1);
    await settleTurns();
    expect(queue.size).toBe(1);
    expect(endpoint.pending.map((p) => p.message.topic)).toEqual(['next']);
  });
});

describe('Dispatcher: drain', () => {
  it('waits for the publishes in flight, and sends nothing new meanwhile', async () => {
    const { endpoint, queue, dispatcher, offer } = setup({ window: 2 });
    offer(...topics(5));
    endpoint.online();
    dispatcher.start();
    let drained = false;
    const drain = dispatcher.drain(5_000, 'inflight').then(() => {
      drained = true;
    });
    await settleTurns();
    expect(drained).toBe(false);
    endpoint.ack();
    await settleTurns();
    expect(drained).toBe(false);
    expect(pendingTopics(endpoint)).toEqual(['m1']); // no refill while draining
    endpoint.ack();
    await drain;
    expect(sentTopics(endpoint)).toEqual(['m0', 'm1']);
    expect(queue.size).toBe(3); // a durable queue keeps them for the next start
  });

  it('gives up after `ms` when the destination never answers', async () => {
    const { endpoint, dispatcher, offer } = setup({ window: 2 });
    offer('m0');
    endpoint.online();
    dispatcher.start();
    const started = Date.now();
    await dispatcher.drain(50, 'inflight');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(endpoint.pending).toHaveLength(1);
  });

  it("with 'backlog' (a memory queue), waits for the queue to empty as well", async () => {
    const { endpoint, queue, dispatcher, offer } = setup({ window: 2 });
    offer(...topics(6));
    endpoint.autoAck = true;
    endpoint.online();
    dispatcher.start();
    await dispatcher.drain(5_000, 'backlog');
    expect(queue.size).toBe(0);
    expect(sentTopics(endpoint)).toEqual(topics(6));
  });

  it('returns at once when nothing is in flight', async () => {
    const { endpoint, dispatcher } = setup();
    endpoint.online();
    dispatcher.start();
    const started = Date.now();
    await dispatcher.drain(5_000, 'inflight');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('Dispatcher: detach (reload)', () => {
  it('hands the queue to a new dispatcher: what was in flight goes out first, in order, nothing lost', async () => {
    const first = setup({ window: 3 });
    first.offer(...topics(6));
    first.endpoint.online();
    first.dispatcher.start();
    first.endpoint.ack('m0');
    await settleTurns();
    expect(pendingTopics(first.endpoint)).toEqual(['m1', 'm2', 'm3']);

    // as Bridge.apply and Agent.rewire do: detach, a new dispatcher on the same queue and a new
    // endpoint (not connected yet), then the old connection stops and its publishes fail
    first.dispatcher.detach();
    const next = new FakeEndpoint('remote/a/c');
    const dispatcher = new Dispatcher({
      name: 'remote/a/c',
      endpoint: next,
      queue: first.queue,
      logger: silentLogger(),
      window: 3,
      deadLetterAfter: 3,
      stats: first.dispatcher.stats,
    });
    dispatcher.start();
    first.endpoint.ack('m1'); // acked just before the old connection went
    first.endpoint.offline();
    first.endpoint.settleAll(connectionLost());
    await settleTurns();
    first.offer('m6');
    expect(sentTopics(first.endpoint)).toEqual(['m0', 'm1', 'm2', 'm3']);

    next.autoAck = true;
    next.online();
    for (let i = 0; i < 20 && first.queue.size > 0; i++) await settleTurns();
    expect(sentTopics(next)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
    expect(first.queue.size).toBe(0);
    // counters carry over: they never go back
    expect(dispatcher.stats.forwarded).toBe(7);
  });

  it('sends nothing more once detached, even when the queue gets more, and leaves no listener behind', async () => {
    const { endpoint, dispatcher, offer } = setup({ window: 5 });
    endpoint.online();
    dispatcher.start();
    expect(endpoint.listenerCount).toBe(1);
    dispatcher.detach();
    expect(endpoint.listenerCount).toBe(0);
    offer('after');
    endpoint.offline();
    endpoint.online();
    await settleTurns();
    expect(endpoint.sent).toEqual([]);
  });
});
