import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '@tether/node-shared/logging';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MessageQueue, type MessageQueueOptions } from '../../src/queue/message-queue.js';
import { SqliteStore } from '../../src/queue/sqlite-store.js';
import { append } from './append.js';
import { messageQueueContract } from './message-queue-contract.js';

const logger = silentLogger();
const defaults = (o: Partial<MessageQueueOptions>): MessageQueueOptions => ({
  name: 'q',
  maxMessages: 1_000_000,
  maxBytes: 1024 ** 3,
  overflow: 'drop-oldest',
  logger,
  ...o,
});

const td = new Teardown();
afterEach(() => td.run());

function durable(o: Partial<MessageQueueOptions>, dir = tempDir(td, 'tether-queue-')) {
  const store = SqliteStore.open(dir, { durability: 'process' }, logger);
  td.add('close the store', () => store.close());
  const queue = new MessageQueue({ ...defaults(o), table: store.table('q') });
  queue.open();
  return { queue, store, dir };
}

messageQueueContract('memory', (o) => ({ queue: new MessageQueue(defaults(o)) }));
messageQueueContract('sqlite', (o) => ({ queue: durable(o).queue }));
messageQueueContract('sqlite with a memory window of 2', (o) => ({ queue: durable({ ...o, memoryWindow: 2 }).queue }));

describe('the durable queue across restarts', () => {
  it('resumes what was stored and not acked, in order, before anything new', async () => {
    const dir = tempDir(td, 'tether-queue-');
    const first = durable({}, dir);
    for (let i = 0; i < 5; i++)
      await append(first.queue, { topic: `t/${i}`, payload: Buffer.from(String(i)), qos: 1, retain: i === 3 });
    first.queue.ack(first.queue.take()!); // t/0 delivered
    first.queue.take(); // t/1 in flight when the agent dies: must come back
    first.store.close();

    const second = durable({}, dir);
    expect(second.queue.size).toBe(4);
    await append(second.queue, { topic: 't/new', payload: Buffer.from('n'), qos: 1, retain: false });
    const out = [];
    for (let e = second.queue.take(); e; e = second.queue.take())
      out.push([e.message.topic, e.message.payload.toString(), e.message.retain]);
    expect(out).toEqual([
      ['t/1', '1', false],
      ['t/2', '2', false],
      ['t/3', '3', true],
      ['t/4', '4', false],
      ['t/new', 'n', false],
    ]);
  });

  it('spills a long backlog to disk and reads it back in order', async () => {
    const { queue } = durable({ memoryWindow: 10 });
    const appends = [];
    for (let i = 0; i < 2_500; i++)
      appends.push(append(queue, { topic: 't', payload: Buffer.from(String(i)), qos: 1, retain: false }));
    await Promise.all(appends);
    const seen: number[] = [];
    for (let e = queue.take(); e; e = queue.take()) {
      seen.push(Number(e.message.payload.toString()));
      queue.ack(e);
    }
    expect(seen).toEqual(Array.from({ length: 2_500 }, (_, i) => i));
  });

  it('commits a tick of appends in one transaction', async () => {
    const { queue } = durable({});
    const appends = Array.from({ length: 1_000 }, (_, i) =>
      append(queue, { topic: 't', payload: Buffer.from([i % 256]), qos: 1, retain: false }),
    );
    await Promise.all(appends);
    expect(queue.size).toBe(1_000);
  });
});

describe('the store', () => {
  it('refuses a second agent on the same data dir, naming it', () => {
    const dir = tempDir(td, 'tether-queue-');
    const { store } = durable({}, dir);
    expect(() => SqliteStore.open(dir, { durability: 'process' }, logger)).toThrow(
      new RegExp(`data dir ${dir} is in use by another tether-agent`),
    );
    store.close();
    // released on close
    const again = SqliteStore.open(dir, { durability: 'process' }, logger);
    again.close();
  });

  it('names a corrupt queue file', () => {
    const dir = tempDir(td, 'tether-queue-');
    writeFileSync(join(dir, 'queue.db'), 'this is not a database '.repeat(100));
    expect(() => SqliteStore.open(dir, { durability: 'process' }, logger)).toThrow(
      /queue\.db is damaged or not a Tether store/,
    );
  });

  it('names a data dir it cannot create', () => {
    const dir = tempDir(td, 'tether-queue-');
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => SqliteStore.open(join(dir, 'file', 'sub'), { durability: 'process' }, logger)).toThrow(/file\/sub/);
  });
});

describe('volatile QoS 0 in a durable queue', () => {
  it('keeps QoS 0 in order with stored messages, never writes it, and forgets it across a restart', async () => {
    const dir = tempDir(td, 'tether-queue-');
    const first = durable({ volatileQos0: true }, dir);
    const m = (topic: string, qos: 0 | 1) => ({ topic, payload: Buffer.from(topic), qos, retain: false });
    await Promise.all([append(first.queue, m('a', 1)), append(first.queue, m('b', 0)), append(first.queue, m('c', 1))]);
    const order = [first.queue.take(), first.queue.take(), first.queue.take()].map((e) => e?.message.topic);
    expect(order).toEqual(['a', 'b', 'c']);
    first.store.close();
    const second = durable({ volatileQos0: true }, dir);
    expect(second.queue.size).toBe(2);
  });

  it('drops a QoS 0 message that arrives while the backlog is on disk, and counts it', async () => {
    const { queue } = durable({ volatileQos0: true, memoryWindow: 1 });
    await append(queue, { topic: 'a', payload: Buffer.from('a'), qos: 1, retain: false });
    await append(queue, { topic: 'b', payload: Buffer.from('b'), qos: 1, retain: false }); // spilled
    await append(queue, { topic: 'c', payload: Buffer.from('c'), qos: 0, retain: false });
    expect(queue.stats.qos0Dropped).toBe(1);
    expect(queue.size).toBe(2);
  });
});

describe('write-behind: the first of commit and delivery makes a message safe', () => {
  const m = (n: number) => ({ topic: `t/${n}`, payload: Buffer.from(String(n)), qos: 1 as const, retain: false });
  function delayed(commitDelayMs: number, dir = tempDir(td, 'tether-queue-')) {
    const store = SqliteStore.open(dir, { durability: 'process', commitDelayMs }, logger);
    td.add('close the store', () => store.close());
    const queue = new MessageQueue({ ...defaults({}), table: store.table('q') });
    queue.open();
    return { queue, store, dir };
  }

  it('a message delivered before its commit is safe at once and never written', async () => {
    const { queue, store, dir } = delayed(60_000);
    const safe = append(queue, m(1));
    expect(safe).toBeInstanceOf(Promise);
    const entry = queue.take()!; // handed out before any commit
    expect(entry.message.topic).toBe('t/1');
    queue.ack(entry); // the destination acknowledged it
    await safe;
    expect(queue.stats.unwritten).toBe(1);
    store.close();
    expect(store.stats).toMatchObject({ writes: 0 });
    expect(delayed(0, dir).queue.size).toBe(0);
  });

  it('once every waiting write was delivered, the scheduled commit is dropped: no wake-up for it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { queue, store } = delayed(20);
      const safe = [append(queue, m(1)), append(queue, m(2))];
      expect(vi.getTimerCount()).toBe(1); // the group commit's
      const [a, b] = [queue.take()!, queue.take()!];
      queue.ack(a);
      expect(vi.getTimerCount()).toBe(1); // m(2) still waits for it
      queue.ack(b);
      expect(vi.getTimerCount()).toBe(0);
      await Promise.all(safe);
      expect(queue.stats.unwritten).toBe(2);
      expect(store.stats).toMatchObject({ commits: 0, writes: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a dropped commit leaves pending deletes their own timer', async () => {
    const { queue, store } = delayed(20);
    await append(queue, m(1)); // written
    const written = queue.take()!;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const later = append(queue, m(2));
      queue.ack(written); // a delete, riding the scheduled commit
      queue.ack(queue.take()!); // m(2) delivered before its commit: the commit goes, the delete stays
      await later;
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(20);
      expect(store.stats.commits).toBe(2); // m(1)'s write, then the delete
    } finally {
      vi.useRealTimers();
    }
  });

  it('a message not delivered within the delay is written, and survives a restart', async () => {
    const { queue, store, dir } = delayed(20);
    const appended = [append(queue, m(1)), append(queue, m(2)), append(queue, m(3))];
    const inflight = queue.take()!; // sent, never acknowledged
    await Promise.all(appended);
    expect(store.stats).toMatchObject({ commits: 1, writes: 3 });
    expect(inflight.rowid).toBeGreaterThan(0);
    store.close();
    const again = delayed(0, dir).queue;
    const topics = [again.take(), again.take(), again.take(), again.take()].map((e) => e?.message.topic);
    expect(topics).toEqual(['t/1', 't/2', 't/3', undefined]);
  });

  it('deletes acknowledged rows in any order (id ranges), keeping the rest', async () => {
    const { queue, store, dir } = delayed(0);
    await Promise.all(Array.from({ length: 50 }, (_, i) => append(queue, m(i))));
    const taken = Array.from({ length: 50 }, () => queue.take()!);
    // acks out of order, with holes: 0-9, 30-39 reversed, 45
    for (const i of [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 39 - i), 45])
      queue.ack(taken[i]!);
    store.close();
    const again = delayed(0, dir).queue;
    const left: number[] = [];
    for (let e = again.take(); e; e = again.take()) left.push(Number(e.message.payload.toString()));
    const expected = Array.from({ length: 50 }, (_, i) => i).filter(
      (i) => !(i < 10 || (i >= 30 && i < 40) || i === 45),
    );
    expect(left).toEqual(expected);
  });

  it('keeps order when the memory window fills while writes are pending', async () => {
    const { queue } = (() => {
      const dir = tempDir(td, 'tether-queue-');
      const store = SqliteStore.open(dir, { durability: 'process', commitDelayMs: 10 }, logger);
      td.add('close the store', () => store.close());
      const q = new MessageQueue({ ...defaults({ memoryWindow: 3 }), table: store.table('q') });
      q.open();
      return { queue: q };
    })();
    const appends = Array.from({ length: 10 }, (_, i) => append(queue, m(i)));
    const seen: string[] = [];
    // the first three are takeable before the commit; the rest come from disk after it
    for (let e = queue.take(); e; e = queue.take()) seen.push(e.message.topic);
    expect(seen).toEqual(['t/0', 't/1', 't/2']);
    await Promise.all(appends);
    for (let e = queue.take(); e; e = queue.take()) seen.push(e.message.topic);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `t/${i}`));
  });
});
