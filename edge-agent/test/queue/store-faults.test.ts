import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, silentLogger } from '@tether/node-shared/logging';
import { TetherError } from '@tether/shared';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageQueue } from '../../src/queue/message-queue.js';
import { SqliteStore, type StoreOptions } from '../../src/queue/sqlite-store.js';
import { append } from './append.js';
import { recordingLogger } from './recording-logger.js';

/**
 * The store when the disk or the file goes wrong: a full disk heals with nothing lost, every
 * failure is a TETHER_ERR_STORE naming the path and the cause, and the files are private.
 * Full and read-only disks are real: small tmpfs mounts (root only, as in CI).
 */
const td = new Teardown();
afterEach(() => td.run());
const isRoot = process.getuid?.() === 0;

/** A tmpfs of `size` (e.g. `12m`) at a new folder, unmounted in teardown. */
function tmpfs(size: string): string {
  const dir = tempDir(td, 'tether-store-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  td.add('unmount the tmpfs', () => execFileSync('umount', ['-l', dir]));
  return dir;
}

function open(dir: string, options: Partial<StoreOptions> = {}, logger = silentLogger()) {
  const store = SqliteStore.open(dir, { durability: 'process', ...options }, logger);
  td.add('close the store', () => store.close());
  return store;
}

function queueOn(store: SqliteStore, memoryWindow = 10_000) {
  const queue = new MessageQueue({
    name: 'q',
    maxMessages: 1_000_000,
    maxBytes: 1024 ** 3,
    overflow: 'drop-oldest',
    memoryWindow,
    table: store.table('q'),
    logger: silentLogger(),
  });
  queue.open();
  return queue;
}

const message = (n: number, size: number) => ({
  topic: `t/${n}`,
  payload: Buffer.alloc(size, n % 251),
  qos: 1 as const,
  retain: false,
});

function storeErrorOf(run: () => unknown): TetherError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TetherError);
    expect((error as TetherError).code).toBe('TETHER_ERR_STORE');
    return error as TetherError;
  }
  throw new Error('expected a TETHER_ERR_STORE');
}

describe.skipIf(!isRoot)('a full disk heals', () => {
  /**
   * The cloud is away while messages arrive until the disk is full; then it takes everything.
   * Every message offered must come out exactly once and every source be told "safe", none "failed".
   */
  async function fillThenDrain(options: { reserveBytes?: number; filler?: number }) {
    const dir = tmpfs('24m');
    const { logger, lines } = recordingLogger();
    const store = open(join(dir, 'data'), { commitDelayMs: 1, ...options }, logger);
    const queue = queueOn(store, 20);
    if (options.filler) writeFileSync(join(dir, 'filler'), Buffer.alloc(options.filler));
    const N = 1_000;
    let safe = 0;
    const failed: Error[] = [];
    for (let i = 0; i < N; i++) {
      queue.offer(message(i, 16 * 1024), {
        release: (error?: unknown) => (error ? failed.push(error as Error) : safe++),
      });
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    // 16 MB offered to a 24 MB disk less the reserves (or the filler): the store fills, and the rest waits (not failed)
    await waitFor(() => store.writesWait, { what: 'the store full', timeoutMs: 10_000 });
    expect(safe).toBeLessThan(N);
    expect(failed).toEqual([]);

    // the destination is back and takes all: acks free room, the waiting writes go, then come out
    const seen = new Map<string, number>();
    await waitFor(
      () => {
        for (let e = queue.take(); e; e = queue.take()) {
          seen.set(e.message.topic, (seen.get(e.message.topic) ?? 0) + 1);
          queue.ack(e);
        }
        return seen.size === N && safe === N;
      },
      { what: 'every message delivered and safe', timeoutMs: 30_000 },
    );
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(failed).toEqual([]);
    expect(store.writesWait).toBe(false);
    expect(queue.size).toBe(0);
    return lines;
  }

  it('holds new writes while full, deletes what the destination acked, and resumes: 0 lost, 0 duplicates', async () => {
    const lines = await fillThenDrain({});
    const full = lines.filter((l) => /disk full/.test(l.msg));
    const healed = lines.filter((l) => /room again/.test(l.msg));
    // one line when it starts, one with the count when it ends
    expect(full).toHaveLength(1);
    expect(full[0]?.msg).toMatch(/data\/queue\.db.*new messages wait/);
    expect(healed).toHaveLength(1);
    expect(healed[0]?.deferredCommits).toBeGreaterThan(0);
  }, 60_000);

  it('recovers from SQLITE_FULL itself (the disk filled by someone else): rolled-back deletes go again', async () => {
    // no reserve kept free: SQLite hits the end of the disk (a filler takes 12 MB of it); the
    // reserve file goes, the checkpoint and the deletes get room, and the store heals
    const lines = await fillThenDrain({ reserveBytes: 0, filler: 12 * 1024 * 1024 });
    expect(lines.filter((l) => /disk full/.test(l.msg))).toHaveLength(1);
  }, 60_000);
});

describe('store errors name the path and the cause', () => {
  it('damaged pages: refused at start', async () => {
    const dir = tempDir(td, 'tether-store-');
    const store = open(dir);
    const queue = queueOn(store);
    await Promise.all(Array.from({ length: 300 }, (_, i) => append(queue, message(i, 1024))));
    store.close();
    const fd = openSync(join(dir, 'queue.db'), 'r+');
    writeSync(fd, Buffer.alloc(4 * 4096, 0x55), 0, 4 * 4096, 3 * 4096);
    closeSync(fd);
    const error = storeErrorOf(() => SqliteStore.open(dir, { durability: 'process' }, silentLogger()));
    expect(error.message).toContain(join(dir, 'queue.db'));
    expect(error.message).toMatch(
      /is damaged or not a Tether store \(SQLITE_CORRUPT: quick_check: .*\); nothing was changed; .*mv '/,
    );
  });

  it('a data dir that is a file', () => {
    const file = join(tempDir(td, 'tether-store-'), 'data');
    writeFileSync(file, 'x');
    const error = storeErrorOf(() => SqliteStore.open(file, { durability: 'process' }, silentLogger()));
    expect(error.message).toBe(`data dir ${file} is a file, not a directory`);
  });

  it.skipIf(!isRoot)('a data dir that cannot be created on a read-only file system', () => {
    const ro = tmpfs('1m');
    execFileSync('mount', ['-o', 'remount,ro', ro]);
    const dir = join(ro, 'missing', 'data');
    const error = storeErrorOf(() => SqliteStore.open(dir, { durability: 'process' }, silentLogger()));
    expect(error.message).toBe(`cannot create data dir ${dir}: ${ro} is on a read-only file system (EROFS)`);
  });

  it.skipIf(!isRoot)('a store with a backlog on a mount that became read-only', async () => {
    const disk = tmpfs('4m');
    const dir = join(disk, 'data');
    // (a disk smaller than the default reserve: none kept)
    const store = SqliteStore.open(dir, { durability: 'process', reserveBytes: 0 }, silentLogger());
    await append(queueOn(store), message(1, 100));
    store.close();
    execFileSync('mount', ['-o', 'remount,ro', disk]);
    const error = storeErrorOf(() => SqliteStore.open(dir, { durability: 'process' }, silentLogger()));
    expect(error.message).toBe(`data dir ${dir} is not writable: ${dir} is on a read-only file system (EROFS)`);
  });

  it('a 0-byte queue.db that held a store is refused, with the command to start over', async () => {
    const dir = tempDir(td, 'tether-store-');
    const store = open(dir);
    await append(queueOn(store), message(1, 100));
    store.close();
    truncateSync(join(dir, 'queue.db'), 0);
    const error = storeErrorOf(() => SqliteStore.open(dir, { durability: 'process' }, silentLogger()));
    expect(error.message).toMatch(
      /queue\.db is empty \(0 bytes\), but .*queue\.manifest says a store was created there on \d{4}-/,
    );
    expect(error.message).toContain(`mv '${dir}' '${dir}.old'`);
    // and missing altogether: the same
    rmSync(join(dir, 'queue.db'));
    expect(storeErrorOf(() => SqliteStore.open(dir, { durability: 'process' }, silentLogger())).message).toMatch(
      /queue\.db is missing/,
    );
    // started over on purpose: a new, empty store
    execFileSync('mv', [dir, `${dir}.old`]);
    td.add('remove the old data dir', () => rmSync(`${dir}.old`, { recursive: true, force: true }));
    expect(queueOn(open(dir)).size).toBe(0);
  });

  it('damage found while running: takes nothing new, delivers what it can read, says so once', async () => {
    const dir = tempDir(td, 'tether-store-');
    const { logger, lines } = recordingLogger();
    const store = open(dir, {}, logger);
    const queue = queueOn(store, 10);
    await Promise.all(Array.from({ length: 500 }, (_, i) => append(queue, message(i, 1024))));
    // the queue's log, damaged from 80 KiB on (a bad sector, say): ~75 messages before it are intact
    const fd = openSync(join(dir, 'queues', 'q1', '0000000000000001.log'), 'r+');
    writeSync(fd, Buffer.alloc(60 * 4096, 0x55), 0, 60 * 4096, 20 * 4096);
    closeSync(fd);
    const delivered: string[] = [];
    for (let e = queue.take(); e; e = queue.take()) {
      delivered.push(e.message.topic);
      queue.ack(e);
    }
    // the ten in memory went out; the damaged rows could not be read
    expect(delivered.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `t/${i}`));
    expect(delivered.length).toBeLessThan(500);
    expect(store.writesWait).toBe(true);
    let outcome = 'waiting';
    queue.offer(message(1_000, 10), {
      release: (error?: unknown) => {
        outcome = error ? 'failed' : 'safe';
      },
    });
    store.flush();
    expect(outcome).toBe('waiting');
    const said = lines.filter((l) => /is damaged/.test(l.msg));
    expect(said).toHaveLength(1);
    expect(said[0]?.msg).toContain(join(dir, 'queues', 'q1', '0000000000000001.log'));
    expect(said[0]?.msg).toMatch(/takes no new messages.*what is in memory is still delivered/);
  });
});

describe('file modes, whatever the umask', () => {
  it('data dir 0700, queue.db and its WAL 0600, the log file 0640 under umask 000', async () => {
    const root = tempDir(td, 'tether-store-');
    const old = process.umask(0);
    td.add('restore the umask', () => process.umask(old));
    const dir = join(root, 'data');
    const store = open(dir);
    await append(queueOn(store), message(1, 10));
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect(mode(dir)).toBe('700');
    expect(mode(join(dir, 'queue.db'))).toBe('600');
    expect(mode(join(dir, 'queue.db-wal'))).toBe('600');
    expect(mode(join(dir, 'queue.manifest'))).toBe('600');
    // an existing, older store is tightened too
    store.close();
    execFileSync('chmod', ['0755', dir]);
    execFileSync('chmod', ['0644', join(dir, 'queue.db')]);
    open(dir);
    expect(mode(dir)).toBe('700');
    expect(mode(join(dir, 'queue.db'))).toBe('600');

    mkdirSync(join(root, 'logs'));
    const logFile = join(root, 'logs', 'agent.log');
    const log = createLogger({ level: 'info', path: logFile });
    log.info('first line');
    expect(mode(logFile)).toBe('640');
  });
});
