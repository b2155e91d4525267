import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { TetherError } from '@tether/shared';
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

/**
 * A message waiting for the next group commit. The queue's own entry object: no allocation per
 * write. `cancelled` is set when the write is no longer needed (the destination acknowledged the
 * message, or it was dropped, before the commit).
 */
export interface PendingWrite {
  readonly message: BridgeMessage;
  cancelled: boolean;
  /** After the commit: the row id, or the store's error. Not called for a cancelled write. */
  written(error: Error | undefined, rowid: number): void;
}

/**
 * Another part's writes in the store's group commit (the embedded hub's sessions and retained
 * messages): one transaction per commit for every part, so the hub and the bridge share a commit.
 */
export interface StoreParticipant {
  /** Something waits to be written. */
  hasWork(): boolean;
  /** Inside the transaction: writes what waits. */
  write(): void;
  /** After the commit, or with the store's error when the transaction rolled back. */
  settled(error: TetherError | undefined): void;
}

export interface StoreStats {
  /** Transactions committed. */
  commits: number;
  /** Messages written. */
  writes: number;
  /** Why the last commit failed; cleared by the next one that succeeds (/readyz: store writable). */
  lastError?: string | undefined;
}

/** One queue's table in the store. */
export class QueueTable {
  inserts: PendingWrite[] = [];
  deletes: number[] = [];
  private readonly insertStmt: StatementSync;
  private readonly deleteRangeStmt: StatementSync;
  private readonly loadStmt: StatementSync;
  private readonly statsStmt: StatementSync;

  constructor(
    private readonly store: SqliteStore,
    db: DatabaseSync,
    table: string,
  ) {
    this.insertStmt = db.prepare(`INSERT INTO ${table} (topic, payload, qos, retain) VALUES (?, ?, ?, ?)`);
    this.deleteRangeStmt = db.prepare(`DELETE FROM ${table} WHERE id BETWEEN ? AND ?`);
    this.loadStmt = db.prepare(`SELECT id, topic, payload, qos, retain FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`);
    this.statsStmt = db.prepare(`SELECT count(*) AS count, coalesce(sum(length(payload)), 0) AS bytes FROM ${table}`);
  }

  /** Writes a message with the next group commit; `write.written` runs after it, in order. */
  insert(write: PendingWrite): void {
    this.inserts.push(write);
    if (this.inserts.length >= COMMIT_BATCH) {
      // many delivered already: only the writes still needed count towards an early commit
      this.inserts = this.inserts.filter((w) => !w.cancelled);
    }
    this.store.scheduleCommit(this.inserts.length);
  }

  /** Forgets a message with a later commit (a crash before it means a redelivery, not a loss). */
  delete(id: number): void {
    this.deletes.push(id);
    this.store.scheduleDeletes(this.deletes.length);
  }

  loadAfter(id: number, limit: number): StoredRow[] {
    const rows = this.loadStmt.all(id, limit) as unknown as Array<{
      id: number;
      topic: string;
      payload: Uint8Array;
      qos: number;
      retain: number;
    }>;
    return rows.map((r) => ({
      id: r.id,
      message: { topic: r.topic, payload: asBuffer(r.payload), qos: r.qos as 0 | 1 | 2, retain: r.retain === 1 },
    }));
  }

  stats(): { count: number; bytes: number } {
    return this.statsStmt.get() as unknown as { count: number; bytes: number };
  }

  /** Inside the store's transaction: the writes not cancelled, each with its new row id. */
  runInserts(written: Array<PendingWrite | number>): void {
    for (const write of this.inserts) {
      if (write.cancelled) continue;
      const { topic, payload, qos, retain } = write.message;
      const info = this.insertStmt.run(topic, payload, qos, retain ? 1 : 0);
      written.push(write, Number(info.lastInsertRowid));
    }
  }

  /**
   * Inside the store's transaction. Row ids are handed out in order and acks mostly come in
   * order, so the deletes collapse into a few id ranges: one statement per range, not per row.
   */
  runDeletes(): void {
    if (this.deletes.length === 0) return;
    const ids = this.deletes.sort((a, b) => a - b);
    this.deletes = [];
    let from = ids[0] as number;
    let to = from;
    for (let i = 1; i < ids.length; i++) {
      const id = ids[i] as number;
      if (id === to + 1) {
        to = id;
        continue;
      }
      this.deleteRangeStmt.run(from, to);
      from = id;
      to = id;
    }
    this.deleteRangeStmt.run(from, to);
  }
}

export interface StoreOptions {
  readonly durability: Durability;
  /**
   * How long a write may wait for its group commit. Longer means bigger transactions, and more
   * messages delivered (so never written) before their commit; the source's ack waits for
   * whichever comes first. 0 commits on the next turn of the event loop.
   */
  readonly commitDelayMs?: number;
}

/** A commit this big goes at once rather than waiting for the delay. */
const COMMIT_BATCH = 2_000;
/** Deletes alone are not urgent (a crash before them is a redelivery, not a loss). */
const DELETE_DELAY_MS = 20;

/**
 * The agent's durable store: one SQLite database (WAL) in the data dir, one table per queue.
 * Writes wait up to `commitDelayMs` and go in one transaction (group commit), so the cost of
 * a commit is shared by every message that arrived meanwhile, and a message delivered within
 * the delay is never written at all. The database is opened in
 * exclusive locking mode: a second agent on the same data dir gets a clear error.
 */
export class SqliteStore {
  readonly path: string;
  readonly stats: StoreStats = { commits: 0, writes: 0 };
  private readonly tables = new Map<string, QueueTable>();
  private readonly participants: StoreParticipant[] = [];
  private readonly commitDelayMs: number;
  private commitTimer: NodeJS.Timeout | undefined;
  private deleteTimer: NodeJS.Timeout | undefined;
  private commitImmediate: NodeJS.Immediate | undefined;
  private closed = false;

  private constructor(
    private readonly db: DatabaseSync,
    path: string,
    private readonly logger: Logger,
    commitDelayMs: number,
  ) {
    this.path = path;
    this.commitDelayMs = commitDelayMs;
  }

  static open(dataDir: string, options: StoreOptions, logger: Logger): SqliteStore {
    const { durability, commitDelayMs = 0 } = options;
    const path = join(dataDir, 'queue.db');
    let db: DatabaseSync | undefined;
    try {
      mkdirSync(dataDir, { recursive: true });
      const { DatabaseSync } = loadSqlite();
      db = new DatabaseSync(path);
      // (a pragma, not the `timeout` option: that one came in Node 22.16)
      db.exec('PRAGMA busy_timeout = 200');
      db.exec('PRAGMA locking_mode = EXCLUSIVE');
      db.exec('PRAGMA journal_mode = WAL');
      db.exec(`PRAGMA synchronous = ${durability === 'fsync' ? 'FULL' : 'NORMAL'}`);
      // take the exclusive lock now, not at the first message
      db.exec('BEGIN EXCLUSIVE; COMMIT');
      db.exec('CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, tbl TEXT NOT NULL UNIQUE)');
      db.exec('PRAGMA quick_check(1)');
    } catch (error) {
      db?.close();
      throw storeError(error, path, dataDir);
    }
    return new SqliteStore(db, path, logger.child({ module: 'store' }), commitDelayMs);
  }

  /** The table of queue `name`, created on first use. */
  table(name: string): QueueTable {
    let table = this.tables.get(name);
    if (table) return table;
    const row = this.db.prepare('SELECT tbl FROM queues WHERE name = ?').get(name) as { tbl: string } | undefined;
    let tbl = row?.tbl;
    if (!tbl) {
      const count = (this.db.prepare('SELECT count(*) AS n FROM queues').get() as unknown as { n: number }).n;
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

  /** Adds a part whose writes ride the store's commits; `prepare` gives it statements on the database. */
  join(participant: StoreParticipant): void {
    this.participants.push(participant);
  }

  /** Runs DDL (a participant's tables) on the store's database. */
  exec(sql: string): void {
    this.db.exec(sql);
  }

  prepare(sql: string): StatementSync {
    return this.db.prepare(sql);
  }

  /** A write is pending (`pending` in its table): commit after the delay, or at once when many wait. */
  scheduleCommit(pending: number): void {
    if (this.closed || this.commitImmediate) return;
    if (pending < COMMIT_BATCH && this.commitDelayMs > 0) {
      this.commitTimer ??= setTimeout(this.commitNow, this.commitDelayMs);
      return;
    }
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    this.commitImmediate = setImmediate(this.commitNow);
  }

  /** A delete is pending: it rides the next commit, or one of its own a little later. */
  scheduleDeletes(pending: number): void {
    if (this.closed || this.commitImmediate || this.commitTimer) return;
    if (pending >= COMMIT_BATCH) {
      this.scheduleCommit(COMMIT_BATCH);
      return;
    }
    this.deleteTimer ??= setTimeout(this.commitNow, DELETE_DELAY_MS);
  }

  /** One transaction for everything pending; each write's callback runs after it, in order. */
  flush(): void {
    clearTimeout(this.commitTimer);
    clearTimeout(this.deleteTimer);
    clearImmediate(this.commitImmediate);
    this.commitTimer = undefined;
    this.deleteTimer = undefined;
    this.commitImmediate = undefined;
    if (this.closed) return;
    let work = false;
    for (const table of this.tables.values()) {
      if (table.deletes.length > 0 || table.inserts.some((w) => !w.cancelled)) work = true;
    }
    const joined = this.participants.filter((p) => p.hasWork());
    if (joined.length > 0) work = true;
    if (!work) {
      // every pending write was delivered before its commit: nothing to write
      for (const table of this.tables.values()) table.inserts = [];
      return;
    }
    const written: Array<PendingWrite | number> = [];
    try {
      this.transaction(() => {
        for (const table of this.tables.values()) {
          table.runInserts(written);
          table.runDeletes();
        }
        for (const p of joined) p.write();
      });
      // counted once it is durable: a rolled-back transaction wrote nothing
      this.stats.commits++;
      this.stats.writes += written.length / 2;
      this.stats.lastError = undefined;
    } catch (error) {
      const failure = storeError(error, this.path);
      this.stats.lastError = failure.message;
      this.logger.error(
        { code: failure.code, reason: failure.message },
        'store write failed; messages not acknowledged',
      );
      // the transaction rolled back: none of its writes happened
      for (const table of this.tables.values()) {
        const failed = table.inserts;
        table.inserts = [];
        for (const write of failed) if (!write.cancelled) write.written(failure, 0);
      }
      for (const p of joined) p.settled(failure);
      return;
    }
    for (const p of joined) p.settled(undefined);
    for (const table of this.tables.values()) table.inserts = [];
    for (let i = 0; i < written.length; i += 2) {
      (written[i] as PendingWrite).written(undefined, written[i + 1] as number);
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }

  private readonly commitNow = (): void => this.flush();

  /** BEGIN … COMMIT, or ROLLBACK and rethrow (node:sqlite has no transaction helper). */
  private transaction(body: () => void): void {
    this.db.exec('BEGIN');
    try {
      body();
      this.db.exec('COMMIT');
    } catch (error) {
      // SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR): then there is nothing to undo
      try {
        this.db.exec('ROLLBACK');
      } catch {}
      throw error;
    }
  }
}

/** A BLOB column as a Buffer: node:sqlite returns a plain Uint8Array; this is a view, not a copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * node:sqlite, loaded on first use. Node 22 prints "ExperimentalWarning: SQLite is an experimental
 * feature" once, on the module's load, to every agent's stderr; the module is what the store is built
 * on, so that one warning is dropped here, while it loads, and every other warning goes through.
 * (Not --no-warnings in the bin shim: that would hide every warning, and miss `node dist/cli/main.js`,
 * the bundle and the tests.) Node 24 does not print it.
 */
function loadSqlite(): typeof import('node:sqlite') {
  const emitWarning = process.emitWarning;
  process.emitWarning = function filtered(this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    const text = typeof warning === 'string' ? warning : warning.message;
    if (type === 'ExperimentalWarning' && text.startsWith('SQLite is an experimental feature')) return;
    return (emitWarning as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return process.getBuiltinModule('node:sqlite');
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** SQLite's primary result codes (node:sqlite reports the extended code as a number in `errcode`). */
const SQLITE_CODES: Record<number, string> = {
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  26: 'SQLITE_NOTADB',
};

/** `SQLITE_FULL`, `EACCES`, …: the SQLite result or the system error code of a failure. */
function errorCode(error: unknown): string {
  const e = error as { code?: string; errcode?: number };
  if (e.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number')
    return SQLITE_CODES[e.errcode & 0xff] ?? `SQLITE_ERROR(${e.errcode})`;
  return e.code ?? '';
}

function storeError(error: unknown, path: string, dataDir?: string): TetherError {
  const code = errorCode(error);
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
