import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TetherError } from '@tether/shared';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { BridgeMessage } from '../transport/message-endpoint.js';

/**
 * How much a commit survives. `process`: WAL with synchronous=NORMAL — a commit is in the OS
 * page cache, so it survives the agent being killed (kill -9, crash) but not power loss.
 * `fsync`: synchronous=FULL — every group commit is fsynced, so it survives power loss.
 */
export type Durability = 'process' | 'fsync';

export interface StoredRow {
  readonly id: number;
  readonly message: BridgeMessage;
}

type InsertCallback = (error: Error | undefined, id: number) => void;

interface PendingInsert {
  readonly message: BridgeMessage;
  /** Not written: only ordered with the writes of its commit. */
  readonly volatile: boolean;
  readonly done: InsertCallback;
}

/** One queue's table in the store. */
export class QueueTable {
  readonly inserts: PendingInsert[] = [];
  readonly deletes: number[] = [];
  readonly insertStmt: Database.Statement;
  private readonly deleteStmt: Database.Statement;
  private readonly loadStmt: Database.Statement;
  private readonly statsStmt: Database.Statement;

  constructor(
    private readonly store: SqliteStore,
    db: Database.Database,
    table: string,
  ) {
    this.insertStmt = db.prepare(`INSERT INTO ${table} (topic, payload, qos, retain) VALUES (?, ?, ?, ?)`);
    this.deleteStmt = db.prepare(`DELETE FROM ${table} WHERE id = ?`);
    this.loadStmt = db.prepare(`SELECT id, topic, payload, qos, retain FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`);
    this.statsStmt = db.prepare(`SELECT count(*) AS count, coalesce(sum(length(payload)), 0) AS bytes FROM ${table}`);
  }

  /** Stores a message with the next group commit; `done` runs after the commit, in order. */
  insert(message: BridgeMessage, volatile: boolean, done: InsertCallback): void {
    this.inserts.push({ message, volatile, done });
    this.store.scheduleFlush();
  }

  /** Forgets a message with the next commit (a crash before it means a redelivery, not a loss). */
  delete(id: number): void {
    this.deletes.push(id);
    this.store.scheduleFlush(this.deletes.length < 1024);
  }

  loadAfter(id: number, limit: number): StoredRow[] {
    const rows = this.loadStmt.all(id, limit) as Array<{
      id: number;
      topic: string;
      payload: Buffer;
      qos: number;
      retain: number;
    }>;
    return rows.map((r) => ({
      id: r.id,
      message: { topic: r.topic, payload: r.payload, qos: r.qos as 0 | 1 | 2, retain: r.retain === 1 },
    }));
  }

  stats(): { count: number; bytes: number } {
    return this.statsStmt.get() as { count: number; bytes: number };
  }

  runDeletes(): void {
    for (const id of this.deletes) this.deleteStmt.run(id);
    this.deletes.length = 0;
  }
}

/**
 * The agent's durable store: one SQLite database (WAL) in the data dir, one table per queue.
 * Appends from one tick are written in one transaction (group commit), so the cost of a
 * commit is shared by every message that arrived meanwhile. The database is opened in
 * exclusive locking mode: a second agent on the same data dir gets a clear error.
 */
export class SqliteStore {
  readonly path: string;
  private readonly tables = new Map<string, QueueTable>();
  private flushScheduled = false;
  private lazyTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    path: string,
    private readonly logger: Logger,
  ) {
    this.path = path;
  }

  static open(dataDir: string, durability: Durability, logger: Logger): SqliteStore {
    const path = join(dataDir, 'queue.db');
    let db: Database.Database | undefined;
    try {
      mkdirSync(dataDir, { recursive: true });
      db = new Database(path, { timeout: 200 });
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${durability === 'fsync' ? 'FULL' : 'NORMAL'}`);
      // take the exclusive lock now, not at the first message
      db.exec('BEGIN EXCLUSIVE; COMMIT');
      db.exec('CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, tbl TEXT NOT NULL UNIQUE)');
      db.pragma('quick_check(1)');
    } catch (error) {
      db?.close();
      throw storeError(error, path, dataDir);
    }
    return new SqliteStore(db, path, logger.child({ module: 'store' }));
  }

  /** The table of queue `name`, created on first use. */
  table(name: string): QueueTable {
    let table = this.tables.get(name);
    if (table) return table;
    const row = this.db.prepare('SELECT tbl FROM queues WHERE name = ?').get(name) as { tbl: string } | undefined;
    let tbl = row?.tbl;
    if (!tbl) {
      const count = (this.db.prepare('SELECT count(*) AS n FROM queues').get() as { n: number }).n;
      tbl = `q${count + 1}`;
      this.db.prepare('INSERT INTO queues (name, tbl) VALUES (?, ?)').run(name, tbl);
    }
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS ${tbl} (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL)`,
    );
    table = new QueueTable(this, this.db, tbl);
    this.tables.set(name, table);
    return table;
  }

  /** Inserts flush on the next turn of the event loop; deletes alone may wait a little. */
  scheduleFlush(lazy = false): void {
    if (this.closed || this.flushScheduled) return;
    if (lazy) {
      this.lazyTimer ??= setTimeout(() => {
        this.lazyTimer = undefined;
        this.flush();
      }, 20);
      return;
    }
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** One transaction for everything pending; each insert's callback runs in order. */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const done: Array<[InsertCallback, number]> = [];
    let writes = false;
    for (const table of this.tables.values()) {
      if (table.deletes.length > 0 || table.inserts.some((i) => !i.volatile)) writes = true;
    }
    if (!writes) {
      // only volatile messages: nothing to write, just keep their order
      for (const table of this.tables.values()) {
        for (const { done: cb } of table.inserts) done.push([cb, 0]);
        table.inserts.length = 0;
      }
      for (const [cb, id] of done) cb(undefined, id);
      return;
    }
    try {
      this.db.transaction(() => {
        for (const table of this.tables.values()) {
          for (const { message, volatile, done: cb } of table.inserts) {
            if (volatile) {
              done.push([cb, 0]);
              continue;
            }
            const info = table.insertStmt.run(message.topic, message.payload, message.qos, message.retain ? 1 : 0);
            done.push([cb, Number(info.lastInsertRowid)]);
          }
          table.runDeletes();
        }
      })();
    } catch (error) {
      const failure = storeError(error, this.path);
      this.logger.error(
        { code: failure.code, reason: failure.message },
        'store write failed; messages not acknowledged',
      );
      for (const table of this.tables.values()) {
        for (const { done: cb } of table.inserts) cb(failure, 0);
        table.inserts.length = 0;
      }
      return;
    }
    for (const table of this.tables.values()) table.inserts.length = 0;
    for (const [cb, id] of done) cb(undefined, id);
  }

  close(): void {
    if (this.closed) return;
    clearTimeout(this.lazyTimer);
    this.flush();
    this.closed = true;
    this.db.close();
  }
}

function storeError(error: unknown, path: string, dataDir?: string): TetherError {
  const code = (error as { code?: string }).code ?? '';
  const where = dataDir ?? path;
  let reason: string;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED')
    reason = `data dir ${where} is in use by another tether-agent (${path} is locked)`;
  else if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB')
    reason = `${path} is corrupt or not a Tether queue (${code}); move it aside to start empty`;
  else if (code === 'SQLITE_FULL') reason = `disk full writing ${path}`;
  else if (code === 'SQLITE_CANTOPEN' || code === 'EACCES' || code === 'SQLITE_READONLY' || code === 'EROFS')
    reason = `cannot write ${where} (${code})`;
  else reason = `store ${path} failed: ${(error as Error).message ?? String(error)}`;
  return new TetherError('TETHER_ERR_STORE', reason, { cause: error });
}
