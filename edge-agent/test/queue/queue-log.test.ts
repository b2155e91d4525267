import { appendFileSync, closeSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { silentLogger } from '@tether/node-shared/logging';
import { TetherError } from '@tether/shared';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageQueue } from '../../src/queue/message-queue.js';
import { SqliteStore, type StoreOptions } from '../../src/queue/sqlite-store.js';
import { append } from './append.js';
import { recordingLogger } from './recording-logger.js';

/**
 * The queue's log on disk (segment-log.ts under SqliteStore): what a user sees of it is the
 * messages that come back after a restart, the disk it takes, and a clear error when it is damaged.
 */
const td = new Teardown();
afterEach(() => td.run());

function openQueue(dir: string, options: Partial<StoreOptions> = {}, logger = silentLogger()) {
  const store = SqliteStore.open(dir, { durability: 'process', segmentBytes: 64 * 1024, ...options }, logger);
  let closed = false;
  const close = () => {
    if (!closed) store.close();
    closed = true;
  };
  td.add('close the store', close);
  const queue = new MessageQueue({
    name: 'q',
    maxMessages: 1_000_000,
    maxBytes: 1024 ** 3,
    overflow: 'reject-new',
    memoryWindow: 50,
    table: store.table('q'),
    logger: silentLogger(),
  });
  queue.open();
  return { store, queue, close };
}

const message = (n: number, size = 1024) => ({
  topic: `site/${n}`,
  payload: Buffer.alloc(size, n % 251),
  qos: 1 as const,
  retain: n % 7 === 0,
});

/** `count` messages offered 20 per turn of the event loop (a commit each), as from a socket. */
async function offerInTurns(queue: MessageQueue, count: number, size = 1024) {
  for (let i = 0; i < count; i += 20)
    await Promise.all(Array.from({ length: Math.min(20, count - i) }, (_, k) => append(queue, message(i + k, size))));
}

function takeAll(queue: MessageQueue) {
  const out = [];
  for (let e = queue.take(); e; e = queue.take()) out.push(e);
  return out;
}

const segments = (dir: string) =>
  readdirSync(join(dir, 'queues', 'q1'))
    .filter((n) => n.endsWith('.log'))
    .sort();
const logBytes = (dir: string) => segments(dir).reduce((n, f) => n + statSync(join(dir, 'queues', 'q1', f)).size, 0);

describe('the queue log', () => {
  it('brings back exactly the messages not acked, in order, with their topic, payload and flags', async () => {
    const dir = tempDir(td, 'tether-log-');
    const first = openQueue(dir);
    await Promise.all(Array.from({ length: 300 }, (_, i) => append(first.queue, message(i))));
    const taken = takeAll(first.queue);
    // acked out of order, with gaps: every third one stays
    for (const e of [...taken].reverse()) if (Number(e.message.topic.split('/')[1]) % 3 !== 0) first.queue.ack(e);
    first.store.flush();
    first.close();

    const second = openQueue(dir);
    expect(second.queue.size).toBe(100);
    expect(second.queue.bytes).toBe(100 * 1024);
    const back = takeAll(second.queue);
    expect(back.map((e) => e.message.topic)).toEqual(Array.from({ length: 100 }, (_, i) => `site/${i * 3}`));
    for (const e of back) {
      const n = Number(e.message.topic.split('/')[1]);
      expect(e.message.payload).toEqual(Buffer.alloc(1024, n % 251));
      expect(e.message.retain).toBe(n % 7 === 0);
      expect(e.message.qos).toBe(1);
    }
  });

  it('gives acked segments back to the disk: a drained backlog leaves at most one segment', async () => {
    const dir = tempDir(td, 'tether-log-');
    const { queue, store } = openQueue(dir);
    await offerInTurns(queue, 1_000);
    // about 1 MB in 64 KiB segments
    expect(segments(dir).length).toBeGreaterThan(10);
    expect(logBytes(dir)).toBeLessThan(1_000 * 1_100);
    for (const e of takeAll(queue)) queue.ack(e);
    store.flush();
    expect(segments(dir).length).toBe(1);
    expect(logBytes(dir)).toBeLessThanOrEqual(64 * 1024 + 1_100);
  });

  it('drops acked segments while an older one still holds a message, and a restart brings back only that one', async () => {
    const dir = tempDir(td, 'tether-log-');
    const first = openQueue(dir);
    // five rounds as the cloud keeps up: each round's acks are written in a newer segment, which is
    // itself acked and dropped later; site/0 stays in flight all along (the agent stops with it)
    let next = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 100; i += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, k) => append(first.queue, message(next + k))));
        next += 20;
      }
      for (const e of takeAll(first.queue)) if (e.message.topic !== 'site/0') first.queue.ack(e);
      first.store.flush();
    }
    // 500 KB went through 64 KiB segments; only the oldest (site/0) and the newest are left
    expect(segments(dir)[0]).toBe('0000000000000001.log');
    expect(segments(dir).length).toBeLessThanOrEqual(3);
    first.close();

    const second = openQueue(dir);
    expect(takeAll(second.queue).map((e) => e.message.topic)).toEqual(['site/0']);
  });

  it('cuts off a write the agent never finished, says so, and keeps everything before it', async () => {
    const dir = tempDir(td, 'tether-log-');
    const first = openQueue(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => append(first.queue, message(i, 100))));
    first.close();
    const newest = join(dir, 'queues', 'q1', segments(dir).at(-1) as string);
    const size = statSync(newest).size;
    // half a record: a header that promises 500 bytes, and 40 of them
    const torn = Buffer.alloc(48);
    torn.writeUInt32LE(500, 4);
    appendFileSync(newest, torn);

    const { logger, lines } = recordingLogger();
    const second = openQueue(dir, {}, logger);
    expect(takeAll(second.queue).map((e) => e.message.topic)).toEqual(
      Array.from({ length: 20 }, (_, i) => `site/${i}`),
    );
    expect(statSync(newest).size).toBe(size);
    const said = lines.filter((l) => /never completed/.test(l.msg));
    expect(said).toHaveLength(1);
    expect(said[0]?.path).toBe(newest);
    expect(said[0]?.bytes).toBe(48);
  });

  it('refuses to start on a damaged older segment, naming the file and the byte', async () => {
    const dir = tempDir(td, 'tether-log-');
    const first = openQueue(dir);
    await offerInTurns(first.queue, 200);
    first.close();
    const oldest = join(dir, 'queues', 'q1', segments(dir)[0] as string);
    const fd = openSync(oldest, 'r+');
    writeSync(fd, Buffer.alloc(16, 0x55), 0, 16, 5_000);
    closeSync(fd);

    let error: unknown;
    try {
      openQueue(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TetherError);
    expect((error as TetherError).code).toBe('TETHER_ERR_STORE');
    expect((error as Error).message).toContain(oldest);
    expect((error as Error).message).toMatch(/byte \d+.*mv '/);
  });

  it('refuses a store whose queue log folder is gone, rather than start that queue empty', async () => {
    const dir = tempDir(td, 'tether-log-');
    const first = openQueue(dir);
    await append(first.queue, message(1));
    first.close();
    rmSync(join(dir, 'queues', 'q1'), { recursive: true });
    expect(() => openQueue(dir)).toThrow(/queues\/q1 is missing.*queue "q" has its log there.*mv '/);
  });

  it('moves the messages an older agent left in a SQLite table into the log, once', async () => {
    const dir = tempDir(td, 'tether-log-');
    // a store as the SQLite-table agent left it: the queues table, q1 with three rows
    openQueue(dir).close();
    const db = new DatabaseSync(join(dir, 'queue.db'));
    db.exec(
      'CREATE TABLE q1 (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL)',
    );
    const insert = db.prepare('INSERT INTO q1 (id, topic, payload, qos, retain) VALUES (?, ?, ?, ?, ?)');
    insert.run(7, 'old/a', Buffer.from('A'), 1, 0);
    insert.run(8, 'old/b', Buffer.from('B'), 1, 1);
    insert.run(12, 'old/c', Buffer.from('C'), 0, 0);
    db.close();

    const { logger, lines } = recordingLogger();
    const second = openQueue(dir, {}, logger);
    expect(second.queue.size).toBe(3);
    await append(second.queue, message(1, 10));
    const out = takeAll(second.queue).map((e) => [e.message.topic, e.message.payload.toString(), e.message.retain]);
    expect(out.slice(0, 3)).toEqual([
      ['old/a', 'A', false],
      ['old/b', 'B', true],
      ['old/c', 'C', false],
    ]);
    expect(out[3]?.[0]).toBe('site/1');
    expect(lines.filter((l) => /moved from the SQLite table/.test(l.msg))).toHaveLength(1);
    second.close();

    // once: the table is gone, and a restart brings the four back (none acked), not seven
    const check = new DatabaseSync(join(dir, 'queue.db'));
    expect(check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'q1'").get()).toEqual({ n: 0 });
    check.close();
    expect(openQueue(dir).queue.size).toBe(4);
  });

  it('writes a 1 KiB message about once: the log grows by its size, not by pages', async () => {
    const dir = tempDir(td, 'tether-log-');
    const { queue } = openQueue(dir, { segmentBytes: 4 * 1024 * 1024 });
    await Promise.all(Array.from({ length: 2_000 }, (_, i) => append(queue, message(i))));
    // payload 1,024 B, topic ~8 B, record header 21 B
    expect(logBytes(dir) / 2_000).toBeLessThan(1_024 * 1.1);
  });
});
