import type { TetherError } from '@tether/shared';
import type { BridgeMessage } from '../core/bridge-message.js';
import { QueuedStatements } from './queued-statements.js';
import type { SqliteStore } from './sqlite-store.js';

/** A message a destination would not take, set aside so the rest of its queue moves on. */
export interface DeadLetter {
  readonly id: number;
  /** The destination connection's queue it came from. */
  readonly queue: string;
  readonly message: BridgeMessage;
  /** Why: the destination's last error, or the spec rule the topic breaks. */
  readonly reason: string;
  /** Failed sends before it was set aside (0: refused before sending). */
  readonly attempts: number;
  /** Date.now() when it was set aside. */
  readonly deadAt: number;
}

/**
 * Failed sends of one stored message, kept across restarts (a message that makes the remote drop
 * the connection must not start from zero after every restart). Keyed by the queue's row id;
 * `topic` guards against a row id reused by a later message once the queue emptied.
 */
export interface StoredFailure {
  readonly failures: number;
  readonly kind: string;
  readonly topic: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL, dead_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS delivery_failures (queue TEXT NOT NULL, row_id INTEGER NOT NULL, failures INTEGER NOT NULL, kind TEXT NOT NULL, topic TEXT NOT NULL, PRIMARY KEY (queue, row_id)) WITHOUT ROWID;
`;

interface DeadLetterRow {
  id: number;
  queue: string;
  topic: string;
  payload: Uint8Array;
  qos: number;
  retain: number;
  reason: string;
  attempts: number;
  dead_at: number;
}

/**
 * The dead-letter table and the failure counts, in the agent's store (same database and group
 * commit as the queues). Writes are queued and run in the store's next transaction; `add` tells
 * its caller once the dead letter is durable, so a message leaves its queue only then.
 *
 * Statements use only run/get/all with positional parameters (better-sqlite3 and node:sqlite).
 */
export class DeadLetterStore {
  private readonly pending: QueuedStatements;
  private readonly st: ReturnType<typeof statements>;

  constructor(store: SqliteStore) {
    store.exec(SCHEMA);
    this.st = statements(store);
    this.pending = new QueuedStatements(store);
  }

  /** Sets `message` aside; `done` runs once that is committed, or with the store's error. */
  add(
    queue: string,
    message: BridgeMessage,
    reason: string,
    attempts: number,
    done: (error: TetherError | undefined) => void,
  ): void {
    const { topic, payload, qos, retain } = message;
    const deadAt = Date.now();
    this.queue(() => this.st.insert.run(queue, topic, payload, qos, retain ? 1 : 0, reason, attempts, deadAt));
    this.pending.afterCommit(done);
  }

  /** The failure counts of `queue`'s stored messages, by row id (read once at start). */
  failures(queue: string): Map<number, StoredFailure> {
    const rows = this.st.failuresOf.all(queue) as Array<{
      row_id: number;
      failures: number;
      kind: string;
      topic: string;
    }>;
    return new Map(rows.map((r) => [r.row_id, { failures: r.failures, kind: r.kind, topic: r.topic }]));
  }

  /** Writes a failure count with the next commit; `done` runs after it. */
  saveFailure(
    queue: string,
    rowId: number,
    failure: StoredFailure,
    done?: (error: TetherError | undefined) => void,
  ): void {
    this.queue(() => this.st.putFailure.run(queue, rowId, failure.failures, failure.kind, failure.topic));
    if (done) this.pending.afterCommit(done);
  }

  clearFailure(queue: string, rowId: number): void {
    this.queue(() => this.st.deleteFailure.run(queue, rowId));
  }

  /** Every dead letter, oldest first (the CLI: the agent is stopped). */
  list(): DeadLetter[] {
    return (this.st.all.all() as unknown as DeadLetterRow[]).map(toDeadLetter);
  }

  get(id: number): DeadLetter | undefined {
    const row = this.st.one.get(id) as unknown as DeadLetterRow | undefined;
    return row ? toDeadLetter(row) : undefined;
  }

  /** Forgets a dead letter with the next commit. */
  remove(id: number): void {
    this.queue(() => this.st.delete.run(id));
  }

  private queue(op: () => void): void {
    this.pending.run(op);
  }
}

function toDeadLetter(r: DeadLetterRow): DeadLetter {
  return {
    id: r.id,
    queue: r.queue,
    // node:sqlite reads a BLOB as a Uint8Array, better-sqlite3 as a Buffer
    message: { topic: r.topic, payload: Buffer.from(r.payload), qos: r.qos as 0 | 1 | 2, retain: r.retain === 1 },
    reason: r.reason,
    attempts: r.attempts,
    deadAt: r.dead_at,
  };
}

function statements(store: SqliteStore) {
  const p = (sql: string) => store.prepare(sql);
  return {
    insert: p(
      'INSERT INTO dead_letters (queue, topic, payload, qos, retain, reason, attempts, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    all: p('SELECT id, queue, topic, payload, qos, retain, reason, attempts, dead_at FROM dead_letters ORDER BY id'),
    one: p('SELECT id, queue, topic, payload, qos, retain, reason, attempts, dead_at FROM dead_letters WHERE id = ?'),
    delete: p('DELETE FROM dead_letters WHERE id = ?'),
    failuresOf: p('SELECT row_id, failures, kind, topic FROM delivery_failures WHERE queue = ?'),
    putFailure: p(
      'INSERT OR REPLACE INTO delivery_failures (queue, row_id, failures, kind, topic) VALUES (?, ?, ?, ?, ?)',
    ),
    deleteFailure: p('DELETE FROM delivery_failures WHERE queue = ? AND row_id = ?'),
  };
}
