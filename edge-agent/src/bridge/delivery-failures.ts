import type { TetherError } from '@tether/shared';
import type { DeadLetterStore, StoredFailure } from '../queue/dead-letter-store.js';
import type { QueuedMessage } from '../queue/message-queue.js';

/**
 * How a send failed, for "failed the same way N times in a row": the Tether code, the transport's
 * code (ECONNCLOSED: the connection went away before the ack) and an MQTT 5 reason code.
 */
export function failureKind(error: TetherError): string {
  const cause = error.cause as { code?: string | number; reasonCode?: number } | undefined;
  return `${error.code}/${cause?.code ?? ''}/${cause?.reasonCode ?? ''}`;
}

/** The send never reached the destination (it was offline): says nothing about the message. */
export function neverSent(error: TetherError): boolean {
  return error.code === 'TETHER_ERR_CONNECT';
}

/**
 * The connection went away while the message waited for its ack: the message may be the reason
 * (a broker drops a client for a PUBLISH it will not take) or not (network, remote restart).
 */
export function connectionLost(error: TetherError): boolean {
  return (error.cause as { code?: unknown } | undefined)?.code === 'ECONNCLOSED';
}

/**
 * Consecutive failed sends per message of one queue. A count with a stored row id is written to
 * the store, so a message that makes the remote drop the connection keeps its count across
 * restarts; a message not written yet counts in memory until it is. Counts are few (only
 * messages that failed), so the maps stay small.
 */
export class DeliveryFailures {
  private readonly live = new Map<QueuedMessage, StoredFailure>();
  private readonly stored: Map<number, StoredFailure>;

  constructor(
    private readonly queue: string,
    private readonly store: DeadLetterStore | undefined,
  ) {
    this.stored = store?.failures(queue) ?? new Map();
  }

  /**
   * One more failure of `entry`; returns its count (1 when it failed another way before).
   * `stored` runs once the count is durable (true), or at once when it is kept in memory only.
   */
  record(entry: QueuedMessage, kind: string, stored?: (durable: boolean, failures: number) => void): number {
    const previous = this.live.get(entry) ?? this.restored(entry);
    const failures = previous?.kind === kind ? previous.failures + 1 : 1;
    const failure = { failures, kind, topic: entry.message.topic };
    this.live.set(entry, failure);
    if (entry.rowid !== undefined && this.store) {
      this.store.saveFailure(this.queue, entry.rowid, failure, (error) => stored?.(error === undefined, failures));
    } else {
      stored?.(false, failures);
    }
    return failures;
  }

  /** `entry` was delivered or set aside: its count goes. */
  clear(entry: QueuedMessage): void {
    // the per-message path: nothing to do unless something failed
    if (this.live.size === 0 && this.stored.size === 0) return;
    const counted = this.live.delete(entry);
    const rowid = entry.rowid;
    if (rowid === undefined) return;
    if (this.stored.delete(rowid) || counted) this.store?.clearFailure(this.queue, rowid);
  }

  /** A count a previous run stored for this row, if it is the same message. */
  private restored(entry: QueuedMessage): StoredFailure | undefined {
    if (entry.rowid === undefined) return undefined;
    const failure = this.stored.get(entry.rowid);
    if (!failure) return undefined;
    this.stored.delete(entry.rowid);
    return failure.topic === entry.message.topic ? failure : undefined;
  }
}
