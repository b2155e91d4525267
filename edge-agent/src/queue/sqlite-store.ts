import { closeSync, existsSync, mkdirSync, openSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import { COMMIT_BATCH, LogQueueTable, type TableHost } from './log-queue-table.js';
import type { QueueTable } from './queue-table.js';
import { SegmentLog } from './segment-log.js';
import { errorCode, isCorruption, isDiskFull, startOver, storeError } from './store-errors.js';
import { checkManifest, DB_FILE, prepareDataDir, privateStoreFiles, QUEUES_DIR, writeManifest } from './store-files.js';

/**
 * How much a commit survives. `process`: WAL with synchronous=NORMAL — a commit is in the OS
 * page cache, so it survives the agent being killed (kill -9, crash) but not power loss.
 * `fsync`: synchronous=FULL — every group commit is fsynced, so it survives power loss.
 */
export type Durability = 'process' | 'fsync';

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
  /** Times the store ran out of room (each one an episode: writes waited until it had room again). */
  fullEpisodes: number;
  /** Why the last commit failed, or why the store waits (full, damaged); cleared once a commit succeeds (/readyz: store writable). */
  lastError?: string | undefined;
}

export interface StoreOptions {
  readonly durability: Durability;
  /**
   * How long a write may wait for its group commit. Longer means bigger transactions, and more
   * messages delivered (so never written) before their commit; the source's ack waits for
   * whichever comes first. 0 commits on the next turn of the event loop.
   */
  readonly commitDelayMs?: number;
  /**
   * Room kept free for the store's own bookkeeping (deletes, the WAL, its checkpoints, the hub's
   * sessions): new messages wait once less than this is left on the disk.
   */
  readonly reserveBytes?: number;
  /** A queue log's segment size (default: 4 MiB, or a 32nd of a small disk). */
  readonly segmentBytes?: number;
}

/** A room measurement is reused for this long while it leaves at least ROOM_SLACK_BYTES to write. */
const ROOM_RECHECK_MS = 1_000;
const ROOM_SLACK_BYTES = 64 * 1024 * 1024;
/** Deletes alone are not urgent (a crash before them is a redelivery, not a loss). */
const DELETE_DELAY_MS = 20;
/** While full: how often the store looks for room again (acks free room sooner: they commit at once). */
const FULL_RETRY_MS = 500;
export const DEFAULT_RESERVE_BYTES = 8 * 1024 * 1024;
/** Segments of a queue log: big enough that rotating is rare, small enough that acked room comes back soon. */
const SEGMENT_MAX = 4 * 1024 * 1024;
/**
 * A file of this size (at most; a sixteenth of a small file system) beside the database, given back
 * to the disk when SQLite itself finds it full (another program filled it, or the reserve was set
 * low): the room for the checkpoint and the deletes that heal the store. New messages are written
 * only while it is held; it is written again once there is room. The WAL is checkpointed at half
 * its size, so the checkpoint always fits in it.
 */
const RESERVE_FILE_MAX = 4 * 1024 * 1024;

/** Why writes wait: the disk is full (clears once there is room), or the file is damaged (for good). */
interface Outage {
  readonly kind: 'full' | 'damaged';
  readonly since: number;
  /** Commits that could not run during it. */
  deferred: number;
}

/**
 * The agent's durable store: one SQLite database (WAL, node:sqlite) in the data dir, one table per
 * queue. Writes wait up to `commitDelayMs` and go in one transaction (group commit), so the cost of
 * a commit is shared by every message that arrived meanwhile, and a message delivered within the
 * delay is never written at all. The database is opened in exclusive locking mode: a second agent
 * on the same data dir gets a clear error.
 *
 * A full disk is an outage, not an error per message: new writes wait (in memory, within the
 * queues' bounds; their sources are not acknowledged, which pauses them), acknowledged messages are
 * still deleted, each in a commit of its own, and once the free space plus the database's free pages
 * exceed the reserve again the waiting writes go. One log line when it starts, one with the count
 * when it ends. A damaged file found while running is an outage that does not end: nothing new is
 * taken, what can still be read is delivered, and the log says so.
 */
export class SqliteStore {
  readonly path: string;
  readonly stats: StoreStats = { commits: 0, writes: 0, fullEpisodes: 0 };
  private readonly tables = new Map<string, LogQueueTable>();
  private readonly participants: StoreParticipant[] = [];
  private readonly commitDelayMs: number;
  private readonly reserveBytes: number;
  private readonly freePagesStmt: StatementSync;
  private readonly pageSize: number;
  private commitTimer: NodeJS.Timeout | undefined;
  private deleteTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private commitImmediate: NodeJS.Immediate | undefined;
  private outage: Outage | undefined;
  private readonly reserveFile: string;
  private reserveHeld = false;
  private readonly reserveFileBytes: number;
  private readonly durability: Durability;
  /** A queue log's segment size: SEGMENT_MAX, or a 32nd of a small disk (acked segments go whole). */
  private readonly segmentBytes: number;
  private closed = false;

  private constructor(
    private readonly db: DatabaseSync,
    readonly dataDir: string,
    private readonly logger: Logger,
    options: StoreOptions,
  ) {
    this.path = join(dataDir, DB_FILE);
    this.commitDelayMs = options.commitDelayMs ?? 0;
    this.reserveBytes = options.reserveBytes ?? DEFAULT_RESERVE_BYTES;
    this.freePagesStmt = db.prepare('PRAGMA freelist_count');
    this.pageSize = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
    this.reserveFile = join(dataDir, 'queue.reserve');
    const disk = statfsSync(dataDir);
    this.reserveFileBytes = Math.min(RESERVE_FILE_MAX, Math.floor((disk.blocks * disk.bsize) / 16 / 65_536) * 65_536);
    this.durability = options.durability;
    this.segmentBytes =
      options.segmentBytes ?? Math.min(SEGMENT_MAX, Math.max(64 * 1024, Math.floor((disk.blocks * disk.bsize) / 32)));
    db.exec(`PRAGMA wal_autocheckpoint = ${Math.max(64, Math.floor(this.reserveFileBytes / 2 / this.pageSize))}`);
    this.reserveHeld = fileSize(this.reserveFile) === this.reserveFileBytes;
    this.holdReserve();
  }

  /** Opens (or creates) the store in `dataDir`; every failure is a TETHER_ERR_STORE naming the path and the cause. */
  static open(dataDir: string, options: StoreOptions, logger: Logger): SqliteStore {
    const path = join(dataDir, DB_FILE);
    prepareDataDir(dataDir);
    const isNew = checkManifest(dataDir);
    privateStoreFiles(dataDir);
    let db: DatabaseSync | undefined;
    try {
      const { DatabaseSync } = loadSqlite();
      db = new DatabaseSync(path);
      // (a pragma, not the `timeout` option: that one came in Node 22.16)
      db.exec('PRAGMA busy_timeout = 200');
      db.exec('PRAGMA locking_mode = EXCLUSIVE');
      db.exec('PRAGMA journal_mode = WAL');
      db.exec(`PRAGMA synchronous = ${options.durability === 'fsync' ? 'FULL' : 'NORMAL'}`);
      // take the exclusive lock now, not at the first message
      db.exec('BEGIN EXCLUSIVE; COMMIT');
      db.exec('CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, tbl TEXT NOT NULL UNIQUE)');
      const check = (db.prepare('PRAGMA quick_check(1)').get() as { quick_check: string }).quick_check;
      // damaged pages: reported as SQLITE_CORRUPT, like a failed read
      if (check !== 'ok')
        throw Object.assign(new Error(`quick_check: ${check.replace(/\s+/g, ' ')}`), {
          code: 'ERR_SQLITE_ERROR',
          errcode: 11,
        });
      if (isNew) writeManifest(dataDir);
    } catch (error) {
      db?.close();
      throw storeError(error, path, dataDir);
    }
    return new SqliteStore(db, dataDir, logger.child({ module: 'store' }), options);
  }

  /** The table of queue `name`, created on first use: its log, with what an older store kept in SQLite moved in. */
  table(name: string): QueueTable {
    let table = this.tables.get(name);
    if (table) return table;
    let tbl: string;
    let dir: string;
    try {
      const row = this.db.prepare('SELECT tbl FROM queues WHERE name = ?').get(name) as { tbl: string } | undefined;
      if (row) {
        tbl = row.tbl;
        dir = join(this.dataDir, QUEUES_DIR, tbl);
        this.checkLogThere(name, tbl, dir);
      } else {
        const count = (this.db.prepare('SELECT count(*) AS n FROM queues').get() as unknown as { n: number }).n;
        tbl = `q${count + 1}`;
        dir = join(this.dataDir, QUEUES_DIR, tbl);
        // the folder before the row: a row without its folder means a lost log (checkLogThere)
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        this.db.prepare('INSERT INTO queues (name, tbl) VALUES (?, ?)').run(name, tbl);
      }
    } catch (error) {
      throw storeError(error, this.path, this.dataDir);
    }
    let log: SegmentLog;
    try {
      log = SegmentLog.open({ dir, segmentBytes: this.segmentBytes, fsync: this.durability === 'fsync' }, (torn) =>
        this.logger.warn(
          { path: torn.path, offset: torn.offset, bytes: torn.bytes },
          'queue log ended in a write that never completed (the agent stopped mid-write); cut off there: none of it was acknowledged',
        ),
      );
    } catch (error) {
      throw storeError(error, (error as { path?: string }).path ?? dir, this.dataDir);
    }
    try {
      this.migrateTable(tbl, log);
    } catch (error) {
      log.close();
      throw storeError(error, this.path, this.dataDir);
    }
    table = new LogQueueTable(this.tableHost, log);
    this.tables.set(name, table);
    return table;
  }

  /**
   * A queue the store knows whose log folder is gone (deleted, a restore that missed it): its
   * messages were acknowledged to their sources, so starting it empty would lose them unsaid.
   * (A store from an older agent has the queue's SQLite table instead: that one is moved in.)
   */
  private checkLogThere(name: string, tbl: string, dir: string): void {
    if (existsSync(dir)) return;
    if (this.hasOldTable(tbl)) return;
    throw new TetherError(
      'TETHER_ERR_STORE',
      `${dir} is missing, but ${this.path} says queue ${JSON.stringify(name)} has its log there: its messages are lost ` +
        `(a restore from backup goes there); refusing to start with an empty queue; ${startOver(this.dataDir)}`,
    );
  }

  /** The queue's SQLite table, as an older agent kept it, is still in the database. */
  private hasOldTable(tbl: string): boolean {
    return (
      this.db.prepare("SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = ?").get(tbl) !== undefined
    );
  }

  /**
   * A store written by an older agent kept each queue in a SQLite table: its rows go to the log
   * (synced, whatever the durability) before the table is dropped, so a crash in between moves
   * them again rather than losing them (rows at or below the log's last id are there already).
   */
  private migrateTable(tbl: string, log: SegmentLog): void {
    if (!this.hasOldTable(tbl)) return;
    const select = this.db.prepare(
      `SELECT id, topic, payload, qos, retain FROM ${tbl} WHERE id > ? ORDER BY id LIMIT 1000`,
    );
    let after = log.lastId;
    let moved = 0;
    for (;;) {
      const rows = select.all(after) as Array<{
        id: number;
        topic: string;
        payload: Uint8Array;
        qos: number;
        retain: number;
      }>;
      if (rows.length === 0) break;
      for (const r of rows) {
        const payload = asBuffer(r.payload);
        log.appendMessage(r.id, { topic: r.topic, payload, qos: r.qos as 0 | 1 | 2, retain: r.retain === 1 });
        log.openCount++;
        log.openBytes += payload.length;
      }
      log.writeBatch(true);
      moved += rows.length;
      after = (rows.at(-1) as { id: number }).id;
    }
    this.db.exec(`DROP TABLE ${tbl}`);
    if (moved > 0) this.logger.info({ table: tbl, messages: moved }, 'queue moved from the SQLite table to its log');
  }

  /**
   * Adds a part whose writes ride the store's commits (`prepare` gives it statements on the
   * database). It calls the function returned with its count of waiting writes to have them committed.
   */
  join(participant: StoreParticipant): (pending: number) => void {
    this.participants.push(participant);
    return this.scheduleCommit;
  }

  /** Runs DDL (a participant's tables) on the store's database. */
  exec(sql: string): void {
    try {
      this.db.exec(sql);
    } catch (error) {
      throw storeError(error, this.path, this.dataDir);
    }
  }

  prepare(sql: string): StatementSync {
    return this.db.prepare(sql);
  }

  /** True while writes wait: the disk is full, or the file was found damaged. */
  get writesWait(): boolean {
    return this.outage !== undefined;
  }

  private readonly tableHost: TableHost = {
    commitSoon: (pending) => this.scheduleCommit(pending),
    deleteSoon: (pending) => this.scheduleDeletes(pending),
    failedRead: (error) => this.failedRead(error),
    writesGone: () => this.dropIdleCommit(),
    storeError: (error) => storeError(error, this.path, this.dataDir),
  };

  /** A write is pending (`pending` in its table): commit after the delay, or at once when many wait. */
  private readonly scheduleCommit = (pending: number): void => {
    if (this.closed || this.commitImmediate) return;
    if (this.outage) return; // the retry timer (or the next delete) runs the commit
    if (pending < COMMIT_BATCH && this.commitDelayMs > 0) {
      this.commitTimer ??= setTimeout(this.commitNow, this.commitDelayMs);
      return;
    }
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    this.commitImmediate = setImmediate(this.commitNow);
  };

  /**
   * Every table's waiting writes were delivered before their commit: a scheduled commit with
   * nothing else to do is dropped (deletes wait on their own timer instead).
   */
  private dropIdleCommit(): void {
    if (this.commitTimer === undefined) return;
    for (const table of this.tables.values()) if (table.hasInserts()) return;
    for (const p of this.participants) if (p.hasWork()) return;
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const deletesWait = [...this.tables.values()].some((t) => t.hasDeletes());
    if (deletesWait) this.deleteTimer ??= setTimeout(this.commitNow, DELETE_DELAY_MS);
  }

  /** A delete is pending: it rides the next commit, or one of its own a little later. */
  private scheduleDeletes(pending: number): void {
    if (this.closed || this.commitImmediate || this.commitTimer) return;
    if (pending >= COMMIT_BATCH) {
      this.commitImmediate = setImmediate(this.commitNow);
      return;
    }
    this.deleteTimer ??= setTimeout(this.commitNow, DELETE_DELAY_MS);
  }

  /** One transaction for everything pending; each write's callback runs after it, in order. */
  flush(): void {
    clearTimeout(this.commitTimer);
    clearTimeout(this.deleteTimer);
    clearTimeout(this.retryTimer);
    clearImmediate(this.commitImmediate);
    this.commitTimer = undefined;
    this.deleteTimer = undefined;
    this.retryTimer = undefined;
    this.commitImmediate = undefined;
    if (this.closed || this.outage?.kind === 'damaged') return;
    const tables = [...this.tables.values()];
    const deletes = tables.some((t) => t.hasDeletes());
    const joined = this.participants.filter((p) => p.hasWork());
    const writes = joined.length > 0 || tables.some((t) => t.hasInserts());
    if (this.outage && deletes) {
      // the deletes alone first, in a commit of their own: they make the room the writes need
      if (!this.commit(tables, [], false)) return;
      this.checkpoint();
    }
    if (!writes) {
      if (!this.outage) {
        if (deletes) this.commit(tables, [], false);
      } else if (this.outage.kind === 'full' && this.room() >= this.reserveBytes) this.endOutage();
      else this.retryWhenRoom();
      return;
    }
    // measuring the room costs a statfs, a stat and a query per commit, about a tenth of the
    // store's CPU at 5,000 msg/s: with plenty of room a budget measured lately is reused, less
    // what was written since (SQLITE_FULL and the reserve file still catch a disk filled by others)
    const now = Date.now();
    const recent = this.measured;
    let budget: number;
    let room = Number.NaN;
    if (!this.outage && recent && now - recent.at < ROOM_RECHECK_MS && recent.bytes > ROOM_SLACK_BYTES) {
      budget = recent.bytes;
    } else {
      // what a commit may write: the room above the reserve, halved (the WAL, then the database)
      // without its reserve file (given back), the store keeps that much room aside as well
      this.holdReserve();
      room = this.room();
      // and one commit fits in the WAL as it is (checkpointed, it is written again from its start)
      // plus the free disk: the database's free pages take the checkpoint, not the WAL's growth
      const wal = Math.max(0, (fileSize(`${this.path}-wal`) ?? 0) - this.reserveFileBytes / 2) + this.diskFree();
      budget = Math.min(room - this.reserveBytes - (this.reserveHeld ? 0 : this.reserveFileBytes), wal) / 2;
      this.measured = { at: now, bytes: budget };
    }
    // the smallest write that must fit (0 when only participants write: the hub's state)
    const sizes = tables.flatMap((t) => t.nextWriteSize() ?? []);
    const next = sizes.length > 0 ? Math.min(...sizes) : 0;
    if (budget < next || budget <= 0) {
      this.measured = undefined;
      this.startOutage('full', `disk full: ${room} bytes left for ${this.path}, the store keeps ${this.reserveBytes}`);
      this.retryWhenRoom();
      return;
    }
    const spend = { bytes: budget };
    const committed = this.commit(tables, joined, true, spend);
    if (this.measured) this.measured.bytes = committed ? spend.bytes : 0;
    if (!committed) return;
    if (this.outage) this.checkpoint();
    // the budget ran out before the last waiting write: the rest goes in the next commit
    if (tables.some((t) => t.hasInserts())) this.commitImmediate = setImmediate(this.commitNow);
    else if (this.outage) this.endOutage();
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearTimeout(this.retryTimer);
    for (const table of this.tables.values()) table.log.close();
    this.db.close();
  }

  /** From a table: a read failed. A damaged file stops the store taking anything new. */
  private failedRead(error: unknown): void {
    const failure = storeError(error, this.path, this.dataDir);
    if (isCorruption(errorCode(error))) this.startOutage('damaged', failure.message);
    else this.logger.error({ code: failure.code, reason: failure.message }, 'store read failed');
  }

  /** The last room measurement (flush): when, and the bytes a commit may still write by it. */
  private measured: { at: number; bytes: number } | undefined;

  private readonly commitNow = (): void => this.flush();

  /** Free bytes on the data dir's file system plus the database's free pages (deleted rows). */
  private room(): number {
    try {
      const free = (this.freePagesStmt.get() as { freelist_count: number }).freelist_count;
      return this.diskFree() + free * this.pageSize;
    } catch {
      return Number.POSITIVE_INFINITY; // cannot tell: let SQLite say
    }
  }

  private diskFree(): number {
    try {
      const fs = statfsSync(this.dataDir);
      return fs.bavail * fs.bsize;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  /**
   * Runs one commit: every table's batch (its writes and acks) to its log, one write each, then
   * the other parts' statements (hub state, dead letters) in one SQLite transaction. Logs first:
   * a message re-queued from the dead letters is in its queue before it leaves them (a crash in
   * between is a duplicate, not a loss); a message set aside is deleted from its queue only after
   * the dead letters have it (the dispatcher waits for that commit). False when any part failed.
   */
  private commit(
    tables: LogQueueTable[],
    joined: StoreParticipant[],
    withWrites: boolean,
    budget = { bytes: Number.POSITIVE_INFINITY },
  ): boolean {
    const settled: Array<() => void> = [];
    const failedTables: LogQueueTable[] = [];
    let failure: unknown;
    let writes = 0;
    for (const table of tables) {
      try {
        table.runDeletes();
        if (withWrites) table.runInserts(budget);
        table.writeLog();
      } catch (error) {
        failure ??= error;
        table.failed();
        failedTables.push(table);
        continue;
      }
      writes += table.batchSize;
      settled.push(table.committed());
    }
    let joinedFailed = false;
    if (withWrites && joined.length > 0) {
      try {
        this.transaction(() => {
          for (const p of joined) p.write();
        });
      } catch (error) {
        failure ??= error;
        joinedFailed = true;
      }
    }
    // counted once it is durable: a failed write wrote nothing
    if (settled.length > 0 || (joined.length > 0 && !joinedFailed)) this.stats.commits++;
    this.stats.writes += writes;
    if (failure === undefined && !this.outage) this.stats.lastError = undefined;
    if (withWrites && !joinedFailed) for (const p of joined) p.settled(undefined);
    for (const run of settled) run();
    if (failure === undefined) return true;
    this.failedCommit(failure, failedTables, joinedFailed ? joined : [], withWrites);
    return false;
  }

  /** Part of a commit failed: those tables' writes and deletes (and nothing else) did not happen. */
  private failedCommit(error: unknown, tables: LogQueueTable[], joined: StoreParticipant[], withWrites: boolean): void {
    const failure = storeError(error, this.path, this.dataDir);
    this.stats.lastError = failure.message;
    const code = errorCode(error);
    // a participant's queued statements ran and are gone: it hears of the failure (the hub fails
    // the publishes that waited on it); the queues' writes and every delete stay and go again
    for (const p of joined) p.settled(failure);
    if (isDiskFull(code)) {
      this.startOutage('full', failure.message);
      if (this.releaseReserve()) this.commitImmediate = setImmediate(this.commitNow);
      else this.retryWhenRoom();
      return;
    }
    if (isCorruption(code)) {
      this.startOutage('damaged', failure.message);
      return;
    }
    this.logger.error({ code: failure.code, reason: failure.message }, 'store write failed; messages not acknowledged');
    if (!withWrites) return;
    for (const table of tables) table.failInserts(failure);
  }

  private startOutage(kind: Outage['kind'], reason: string): void {
    this.stats.lastError = reason;
    if (this.outage) {
      if (kind !== 'damaged' || this.outage.kind === 'damaged') return;
      this.outage = { ...this.outage, kind };
    } else {
      this.outage = { kind, since: Date.now(), deferred: 1 };
      if (kind === 'full') this.stats.fullEpisodes++;
    }
    if (kind === 'full') {
      this.logger.error(
        { code: 'TETHER_ERR_STORE', path: this.path, reserveBytes: this.reserveBytes },
        `${reason}; new messages wait and their sources are not acknowledged until there is room; acknowledged messages are still deleted`,
      );
    } else {
      this.logger.error(
        { code: 'TETHER_ERR_STORE', path: this.path },
        `${reason}; the store takes no new messages (their sources are not acknowledged); what is in memory is still delivered; stop the agent and ${startOver(this.dataDir)}`,
      );
    }
  }

  private endOutage(): void {
    const outage = this.outage as Outage;
    this.outage = undefined;
    this.stats.lastError = undefined;
    this.holdReserve();
    this.logger.warn(
      { path: this.path, waitedMs: Date.now() - outage.since, deferredCommits: outage.deferred },
      'store has room again: the waiting messages are written',
    );
  }

  /** Folds the WAL into the database so its space is reused from the start. */
  private checkpoint(): void {
    try {
      this.db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    } catch {}
  }

  /** Writes the reserve file (real blocks, not a sparse file) if it is not there and the disk has room. */
  private holdReserve(): void {
    if (this.reserveHeld) return;
    if (this.reserveFileBytes === 0 || this.diskFree() < this.reserveBytes + 2 * this.reserveFileBytes) return;
    try {
      const fd = openSync(this.reserveFile, 'w', 0o600);
      try {
        const chunk = Buffer.alloc(64 * 1024);
        for (let at = 0; at < this.reserveFileBytes; at += chunk.length) writeSync(fd, chunk);
      } finally {
        closeSync(fd);
      }
      this.reserveHeld = true;
    } catch {
      this.releaseReserve();
    }
  }

  private releaseReserve(): boolean {
    try {
      unlinkSync(this.reserveFile);
      const released = this.reserveHeld;
      this.reserveHeld = false;
      return released;
    } catch {
      this.reserveHeld = false;
      return false;
    }
  }

  private retryWhenRoom(): void {
    if (this.closed || this.retryTimer || this.outage?.kind === 'damaged') return;
    if (this.outage) this.outage.deferred++;
    this.retryTimer = setTimeout(this.commitNow, FULL_RETRY_MS);
    this.retryTimer.unref();
  }

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

function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
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
