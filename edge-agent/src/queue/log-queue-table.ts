import type { TetherError } from '@tether/shared';
import type { PendingWrite, QueueTable, StoredRow } from './queue-table.js';
import type { SegmentLog } from './segment-log.js';

/** What a table needs of its store; the store's scheduling stays private to it. */
export interface TableHost {
  /** A write is pending (`pending` in this table): commit after the delay, or at once when many wait. */
  commitSoon(pending: number): void;
  /** A delete is pending: it rides the next commit, or one of its own a little later. */
  deleteSoon(pending: number): void;
  /** A read failed: a damaged file stops the store taking anything new. */
  failedRead(error: unknown): void;
  /** This table has no write waiting any more: the store may drop a commit it scheduled. */
  writesGone(): void;
  /** The store's error for a failure of this table (TETHER_ERR_STORE naming the path). */
  storeError(error: unknown): TetherError;
}

/** A commit this big goes at once rather than waiting for the delay. */
export const COMMIT_BATCH = 2_000;

/**
 * One queue's table in the store: the writes and acks waiting for the next group commit, kept
 * here, and the queue's log (SegmentLog) they go to. The store runs the commit: runInserts and
 * runDeletes encode into the log's batch, writeLog writes it, then committed() or failed() settles.
 */
export class LogQueueTable implements QueueTable {
  private inserts: PendingWrite[] = [];
  /** Of `inserts`, those not cancelled. */
  private live = 0;
  /** Row ids acknowledged and not yet in a written deletes record (kept until one is written). */
  private deletes: number[] = [];
  private compactAt = COMMIT_BATCH;
  /**
   * The last row id handed out (ids are never reused in a run: the queue reads back rows after
   * the last id it loaded; a write that failed burns its ids).
   */
  private lastId: number;
  /** How many of `inserts` the batch took (all, unless its budget ran out). */
  private ran = Number.POSITIVE_INFINITY;
  /** The batch: the writes it holds and their ids; the deletes it holds. */
  private batchWrites: PendingWrite[] = [];
  private batchIds: number[] = [];
  private batchDeletes = 0;

  constructor(
    private readonly store: TableHost,
    readonly log: SegmentLog,
  ) {
    this.lastId = log.lastId;
  }

  /** Writes a message with the next group commit; `write.written` runs after it, in order. */
  insert(write: PendingWrite): void {
    this.inserts.push(write);
    this.live++;
    if (this.inserts.length >= this.compactAt) {
      // many delivered already: only the writes still needed count towards an early commit (and
      // while the store is full they pile up: the threshold doubles, so this stays linear)
      this.inserts = this.inserts.filter((w) => !w.cancelled);
      this.compactAt = Math.max(COMMIT_BATCH, this.inserts.length * 2);
    }
    this.store.commitSoon(this.inserts.length);
  }

  cancel(write: PendingWrite): void {
    if (write.cancelled) return;
    write.cancelled = true;
    // at low rates most messages are delivered within the commit delay: then no commit (and no
    // wake-up for its timer) is needed at all, and the cancelled writes are let go now (kept to
    // the next commit they may live through a scavenge and be copied for nothing)
    if (--this.live === 0) {
      this.inserts = [];
      this.compactAt = COMMIT_BATCH;
      this.store.writesGone();
    }
  }

  /** Forgets a message: skipped at once, its segment freed once all of it is acked, the record written later. */
  delete(id: number): void {
    this.log.markDeleted(id);
    this.deletes.push(id);
    this.store.deleteSoon(this.deletes.length);
  }

  /** Stored messages after `id`; none once the store found its file damaged (what memory holds still goes). */
  loadAfter(id: number, limit: number): StoredRow[] {
    try {
      return this.log.loadAfter(id, limit, this.onDamaged);
    } catch (error) {
      this.store.failedRead(error);
      return [];
    }
  }

  private readonly onDamaged = (error: unknown): void => this.store.failedRead(error);

  /** What the log held at open (the queue asks once, when it opens). */
  stats(): { count: number; bytes: number } {
    return { count: this.log.openCount, bytes: this.log.openBytes };
  }

  /** Bytes a write needs on disk (an estimate: payload, topic and record overhead). */
  static sizeOf(write: PendingWrite): number {
    return write.message.payload.length + write.message.topic.length + 32;
  }

  hasInserts(): boolean {
    return this.live > 0;
  }

  hasDeletes(): boolean {
    return this.deletes.length > 0;
  }

  /** Bytes the oldest waiting write needs, if one waits (the smallest a commit must fit). */
  nextWriteSize(): number | undefined {
    const next = this.inserts.find((w) => !w.cancelled);
    return next ? LogQueueTable.sizeOf(next) : undefined;
  }

  /** The write failed for good: every waiting write hears of `failure` (its source sends it again). */
  failInserts(failure: Error): void {
    const failed = this.inserts;
    this.inserts = [];
    this.live = 0;
    for (const write of failed) if (!write.cancelled) write.written(failure, 0);
  }

  /**
   * Into the log's batch: the writes not cancelled, in order, with new ids, up to `budget.bytes`
   * (always at least one); the rest wait for the next commit.
   */
  runInserts(budget: { bytes: number }): void {
    let at = 0;
    for (; at < this.inserts.length; at++) {
      const write = this.inserts[at] as PendingWrite;
      if (write.cancelled) continue;
      const size = LogQueueTable.sizeOf(write);
      if (size > budget.bytes && this.batchWrites.length > 0) break;
      budget.bytes -= size;
      const id = ++this.lastId;
      this.log.appendMessage(id, write.message);
      this.batchWrites.push(write);
      this.batchIds.push(id);
    }
    this.ran = at;
  }

  /**
   * Into the log's batch: one deletes record of the acks so far. Ids are handed out in order and
   * acks mostly come in order, so the record is a few id ranges, not one entry per message.
   */
  runDeletes(): void {
    if (this.deletes.length === 0) return;
    this.deletes.sort((a, b) => a - b);
    this.log.appendDeletes(this.deletes);
    this.batchDeletes = this.deletes.length;
  }

  /** Writes the batch (throws what the write threw: nothing of it happened, see failed()). */
  writeLog(): void {
    this.log.writeBatch();
  }

  /** The messages this batch wrote (for the store's count). */
  get batchSize(): number {
    return this.batchWrites.length;
  }

  /**
   * After the batch was written: its inserts and deletes are done, the rest still wait. Returns
   * the callbacks to run once the whole commit is settled (writes and their ids, in order).
   */
  committed(): () => void {
    this.deletes = this.deletes.slice(this.batchDeletes);
    this.batchDeletes = 0;
    if (this.ran !== Number.POSITIVE_INFINITY) {
      this.inserts = this.ran >= this.inserts.length ? [] : this.inserts.slice(this.ran);
      this.live = 0;
      for (const w of this.inserts) if (!w.cancelled) this.live++;
      if (this.live === 0) this.inserts = [];
      this.compactAt = Math.max(COMMIT_BATCH, this.inserts.length * 2);
    }
    this.ran = Number.POSITIVE_INFINITY;
    const writes = this.batchWrites;
    const ids = this.batchIds;
    this.batchWrites = [];
    this.batchIds = [];
    // acked segments go as soon as the acks are known (dropping one never loses a message)
    this.log.dropDead();
    return () => {
      for (let i = 0; i < writes.length; i++) (writes[i] as PendingWrite).written(undefined, ids[i] as number);
    };
  }

  /** The batch was not written: its writes and deletes wait for the next commit (their ids are burned). */
  failed(): void {
    this.log.discardBatch();
    this.batchWrites = [];
    this.batchIds = [];
    this.batchDeletes = 0;
    this.ran = Number.POSITIVE_INFINITY;
    this.log.dropDead();
  }
}
