import type { BridgeMessage } from '../core/bridge-message.js';

/**
 * The seam between a MessageQueue and its durable table, owned by the queue: what it needs of
 * the store, and what the store calls back. The store (SqliteStore.table) implements it and
 * keeps its commit scheduling to itself.
 */
export interface QueueTable {
  /** Writes a message with the next group commit; `write.written` runs after it, in order. */
  insert(write: PendingWrite): void;
  /**
   * A waiting write is no longer needed: its message was delivered (or dropped) before its
   * commit. It is never written, and a commit left with nothing to do does not run.
   */
  cancel(write: PendingWrite): void;
  /** Forgets a row with a later commit (a crash before it means a redelivery, not a loss). */
  delete(id: number): void;
  /** Committed rows after `id`, oldest first, at most `limit`. */
  loadAfter(id: number, limit: number): StoredRow[];
  /** Rows and payload bytes in the table (at open). */
  stats(): { count: number; bytes: number };
}

export interface StoredRow {
  readonly id: number;
  readonly message: BridgeMessage;
}

/**
 * A message waiting for the next group commit. The queue's own entry object: no allocation per
 * write. `cancelled` is set (by QueueTable.cancel) when the write is no longer needed (the
 * destination acknowledged the message, or it was dropped, before the commit).
 */
export interface PendingWrite {
  readonly message: BridgeMessage;
  cancelled: boolean;
  /** After the commit: the row id, or the store's error. Not called for a cancelled write. */
  written(error: Error | undefined, rowid: number): void;
}
