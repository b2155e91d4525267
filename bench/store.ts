import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@tether/node-shared/logging';
import { MessageQueue } from '../edge-agent/src/queue/message-queue.js';
import { type Durability, SqliteStore } from '../edge-agent/src/queue/sqlite-store.js';
import { append } from '../edge-agent/test/queue/append.js';

/**
 * The durable store alone, in the way the bridge uses it: messages appended (group-committed),
 * then taken and acknowledged (deleted by id range). Prints, per scenario, messages per second
 * (each one insert + delete) and bytes handed to write(2) per message (/proc/self/io wchar: the
 * WAL, its checkpoints into the database and the SHM). Run on the Node to measure:
 * `node --import tsx bench/store.ts` (node_modules/node24/bin/node, node22, ...).
 * TETHER_BENCH_QUICK=1 runs a tenth of the messages; TETHER_BENCH_SIZE sets the payload (256 B).
 *
 * - steady: the destination is slower than the commit delay, so every message is written and then
 *   deleted; batches of 100 (one commit each), the acks ride the next commit.
 * - backlog: the destination is offline while N messages arrive, then takes them all.
 */
const QUICK = process.env.TETHER_BENCH_QUICK === '1';
const N = QUICK ? 20_000 : 200_000;
const PAYLOAD = Buffer.alloc(Number(process.env.TETHER_BENCH_SIZE ?? 256), 7);
const logger = silentLogger();

function written(): number {
  const io = readFileSync('/proc/self/io', 'utf8');
  return Number(/wchar: (\d+)/.exec(io)?.[1] ?? 0);
}

async function scenario(name: string, durability: Durability, count: number, batch: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-bench-store-'));
  const store = SqliteStore.open(dir, { durability, commitDelayMs: 1 }, logger);
  const queue = new MessageQueue({
    name: 'bench',
    maxMessages: 10_000_000,
    maxBytes: 1024 ** 4,
    overflow: 'reject-new',
    table: store.table('bench'),
    logger,
  });
  queue.open();
  const message = { topic: 'site/1/telemetry', payload: PAYLOAD, qos: 1 as const, retain: false };
  const bytesBefore = written();
  const start = process.hrtime.bigint();
  if (batch === count) {
    // backlog: everything arrives first, then the destination takes it all
    // as from a socket: up to 1,000 messages per read, one turn of the event loop each
    const appends: Array<Promise<void> | undefined> = [];
    for (let i = 0; i < count; i++) {
      appends.push(append(queue, message));
      if (i % 1_000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(appends);
    const filled = process.hrtime.bigint();
    let taken = 0;
    for (let e = queue.take(); e; e = queue.take()) {
      queue.ack(e);
      taken++;
    }
    store.flush();
    const end = process.hrtime.bigint();
    if (taken !== count) throw new Error(`took ${taken} of ${count}`);
    const fillS = Number(filled - start) / 1e9;
    const drainS = Number(end - filled) / 1e9;
    report(
      name,
      count,
      Number(end - start) / 1e9,
      written() - bytesBefore,
      store,
      `fill ${rate(count, fillS)}, drain ${rate(count, drainS)}`,
    );
  } else {
    for (let done = 0; done < count; done += batch) {
      const appends: Array<Promise<void> | undefined> = [];
      for (let i = 0; i < batch; i++) appends.push(append(queue, message));
      await Promise.all(appends);
      for (let e = queue.take(); e; e = queue.take()) queue.ack(e);
    }
    store.flush();
    const end = process.hrtime.bigint();
    report(name, count, Number(end - start) / 1e9, written() - bytesBefore, store, '');
  }
  store.close();
  await rm(dir, { recursive: true, force: true });
}

function rate(count: number, seconds: number): string {
  return `${Math.round(count / seconds).toLocaleString('en-US')} msg/s`;
}

function report(name: string, count: number, seconds: number, bytes: number, store: SqliteStore, extra: string): void {
  console.log(
    `${name}: ${count} msgs of ${PAYLOAD.length} B, ${rate(count, seconds)} (insert+delete), ` +
      `${Math.round(bytes / count)} B written/msg, ${store.stats.commits} commits${extra ? `; ${extra}` : ''}`,
  );
}

console.log(`store bench on Node ${process.version}`);
await scenario('steady, process', 'process', N, 100);
await scenario('steady, fsync', 'fsync', N / 10, 100);
await scenario('backlog, process', 'process', N, N);
