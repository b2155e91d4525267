import type { TetherError } from '@tether/shared';
import type { SqliteStore, StoreParticipant } from './sqlite-store.js';

type Statement = () => void;

/**
 * Statements waiting for the store's next transaction, and callbacks that run once it is durable:
 * how a part that keeps tables of its own (the hub's state, the dead letters) joins the queues'
 * group commit. One per part; `run` and `afterCommit` schedule the commit.
 */
export class QueuedStatements implements StoreParticipant {
  private statements: Statement[] = [];
  private callbacks: Array<(error: TetherError | undefined) => void> = [];

  private readonly commitSoon: (pending: number) => void;

  constructor(store: SqliteStore) {
    this.commitSoon = store.join(this);
  }

  /** Runs `statement` inside the next transaction. */
  run(statement: Statement): void {
    this.statements.push(statement);
    this.commitSoon(this.statements.length);
  }

  /** Calls `cb` once everything queued so far is committed (or with the store's error). */
  afterCommit(cb: (error: TetherError | undefined) => void): void {
    this.callbacks.push(cb);
    this.commitSoon(this.statements.length);
  }

  hasWork(): boolean {
    return this.statements.length > 0 || this.callbacks.length > 0;
  }

  write(): void {
    const statements = this.statements;
    this.statements = [];
    for (const statement of statements) statement();
  }

  settled(error: TetherError | undefined): void {
    const callbacks = this.callbacks;
    this.callbacks = [];
    for (const cb of callbacks) cb(error);
  }
}
