import { TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgeMessage } from '../transport/message-endpoint.js';
import type { QueueTable } from './sqlite-store.js';

export type OverflowPolicy = 'drop-oldest' | 'reject-new';

export interface QueuedMessage {
  /** Position in the queue: increasing in the order messages are handed out. */
  readonly id: number;
  /** Row in the durable table; absent for a message kept in memory only. */
  readonly rowid?: number;
  readonly message: BridgeMessage;
}

export interface MessageQueueOptions {
  /** The destination connection's id, for logs. */
  readonly name: string;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly overflow: OverflowPolicy;
  /** Durable table; without one the queue lives in memory only. */
  readonly table?: QueueTable;
  /** Messages kept in memory; a durable queue's older backlog beyond this stays on disk. */
  readonly memoryWindow?: number;
  /** reject-new: appends that may wait for room at once (the rest are refused). */
  readonly maxWaiting?: number;
  /**
   * Keep QoS 0 messages in memory only (MQTT promises them nothing across a crash). They keep
   * their place in the order; one that arrives while older messages wait on disk is dropped.
   */
  readonly volatileQos0?: boolean;
  readonly logger: Logger;
}

export interface QueueStats {
  appended: number;
  acked: number;
  dropped: number;
  /** Messages handed out again after a failed send or a restart: possible duplicates downstream. */
  redelivered: number;
  /** Volatile (QoS 0) messages dropped because the backlog was on disk. */
  volatileDropped: number;
}

const LOAD_BATCH = 1_000;

/**
 * The backlog of one destination: FIFO, bounded in messages and bytes, with a named overflow
 * policy. A durable queue stores every message (group-committed) before `append` resolves —
 * the caller acks its source only then — and forgets it when `ack` says the destination has
 * it. Only the oldest `memoryWindow` messages are held in memory; the rest are read back from
 * disk in batches, so a day offline costs disk, not RAM.
 */
export class MessageQueue {
  readonly stats: QueueStats = { appended: 0, acked: 0, dropped: 0, redelivered: 0, volatileDropped: 0 };
  private readonly memory: QueuedMessage[] = [];
  private memoryHead = 0;
  /** Handed out and given back (failed send), sorted by id: older than anything in memory. */
  private readonly retry: QueuedMessage[] = [];
  private count = 0;
  private byteCount = 0;
  private seq = 0;
  /** Durable: committed messages exist on disk beyond what memory holds. */
  private spilled = false;
  private loadedUpTo = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly listeners = new Set<() => void>();
  private droppedInBurst = 0;
  private burstTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MessageQueueOptions) {}

  /** Reads what a previous run left; those messages go out before anything new. */
  open(): void {
    const table = this.options.table;
    if (!table) return;
    const { count, bytes } = table.stats();
    this.count = count;
    this.byteCount = bytes;
    this.spilled = count > 0;
    if (count > 0) {
      this.options.logger.info({ queue: this.options.name, messages: count, bytes }, 'resuming stored backlog');
    }
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** Called whenever messages become available to take. */
  onAvailable(listener: () => void): void {
    this.listeners.add(listener);
  }

  /**
   * Stores a message. Resolves once it is stored (on disk for a durable queue); rejects when
   * the store fails or, under `reject-new`, when too many appends already wait for room.
   */
  append(message: BridgeMessage): Promise<void> | undefined {
    const size = message.payload.length;
    // fast path, no promise: in memory at once when nothing is ahead of it in the commit pipeline
    if (!this.isFull(size) && (this.options.table === undefined || this.isVolatile(message))) {
      const table = this.options.table;
      if (!table || (table.inserts.length === 0 && !this.spilled)) {
        this.count++;
        this.byteCount += size;
        this.stats.appended++;
        this.place(undefined, message);
        return undefined;
      }
    }
    return this.appendSlow(message, size);
  }

  private isVolatile(message: BridgeMessage): boolean {
    return message.qos === 0 && this.options.volatileQos0 === true;
  }

  private async appendSlow(message: BridgeMessage, size: number): Promise<void> {
    if (this.isFull(size)) {
      if (this.options.overflow === 'drop-oldest') {
        while (this.isFull(size) && this.dropOldest()) {}
      } else {
        await this.waitForRoom(size);
      }
    }
    this.count++;
    this.byteCount += size;
    this.stats.appended++;
    const table = this.options.table;
    if (!table) {
      this.place(undefined, message);
      return;
    }
    const volatile = this.isVolatile(message);
    await new Promise<void>((resolve, reject) => {
      // a volatile message rides the same commit pipeline (unwritten) so it keeps its place in order
      table.insert(message, volatile, (error, rowid) => {
        if (error) {
          this.unaccount(size);
          reject(error);
          return;
        }
        if (volatile && this.spilled) {
          this.unaccount(size);
          this.stats.volatileDropped++;
        } else {
          this.place(volatile ? undefined : rowid, message);
        }
        resolve();
      });
    });
  }

  /** The oldest message not handed out yet. */
  take(): QueuedMessage | undefined {
    const retried = this.retry.shift();
    if (retried) return retried;
    if (this.memoryHead >= this.memory.length && this.spilled) this.loadFromDisk();
    if (this.memoryHead >= this.memory.length) return undefined;
    const entry = this.memory[this.memoryHead++] as QueuedMessage;
    if (this.memoryHead > 1024 && this.memoryHead * 2 > this.memory.length) {
      // compact now and then instead of shift() on every message (O(n) each)
      this.memory.splice(0, this.memoryHead);
      this.memoryHead = 0;
    }
    return entry;
  }

  /** The destination has it: forget it. */
  ack(entry: QueuedMessage): void {
    this.forget(entry);
    this.stats.acked++;
  }

  /** A send failed: hand it out again before anything newer. */
  release(entry: QueuedMessage): void {
    this.stats.redelivered++;
    let at = this.retry.length;
    while (at > 0 && (this.retry[at - 1] as QueuedMessage).id > entry.id) at--;
    this.retry.splice(at, 0, entry);
    this.notify();
  }

  /** Drops a message the destination refused for good. */
  discard(entry: QueuedMessage): void {
    this.forget(entry);
  }

  private place(rowid: number | undefined, message: BridgeMessage): void {
    const window = this.options.table ? (this.options.memoryWindow ?? 10_000) : Number.POSITIVE_INFINITY;
    // volatile messages are never spilled: they only exist in memory
    if (rowid === undefined || (!this.spilled && this.memory.length - this.memoryHead < window)) {
      this.memory.push(rowid === undefined ? { id: ++this.seq, message } : { id: ++this.seq, rowid, message });
      if (rowid !== undefined) this.loadedUpTo = rowid;
    } else {
      this.spilled = true;
    }
    this.notify();
  }

  private unaccount(size: number): void {
    this.count--;
    this.byteCount -= size;
    this.stats.appended--;
  }

  private loadFromDisk(): void {
    const table = this.options.table as QueueTable;
    const rows = table.loadAfter(this.loadedUpTo, LOAD_BATCH);
    for (const row of rows) {
      this.memory.push({ id: ++this.seq, rowid: row.id, message: row.message });
      this.loadedUpTo = row.id;
    }
    // everything committed is now in memory: commits run synchronously, so none can be missed
    if (rows.length < LOAD_BATCH) this.spilled = false;
  }

  private forget(entry: QueuedMessage): void {
    this.count--;
    this.byteCount -= entry.message.payload.length;
    if (entry.rowid !== undefined) this.options.table?.delete(entry.rowid);
    const wake = this.waiting.shift();
    wake?.();
  }

  private isFull(incoming: number): boolean {
    return this.count >= this.options.maxMessages || this.byteCount + incoming > this.options.maxBytes;
  }

  /** drop-oldest: the oldest message not in flight goes. False when nothing can go. */
  private dropOldest(): boolean {
    const victim = this.take();
    if (!victim) return false;
    this.forget(victim);
    this.stats.dropped++;
    this.droppedInBurst++;
    // one log line per burst of drops, not one per message
    if (!this.burstTimer) {
      this.burstTimer = setTimeout(() => {
        this.options.logger.warn(
          {
            queue: this.options.name,
            dropped: this.droppedInBurst,
            maxMessages: this.options.maxMessages,
            maxBytes: this.options.maxBytes,
          },
          'queue full: oldest messages dropped',
        );
        this.droppedInBurst = 0;
        this.burstTimer = undefined;
      }, 1_000);
      this.burstTimer.unref?.();
    }
    return true;
  }

  /** reject-new: hold the append (and so the source's ack) until a message leaves. */
  private async waitForRoom(size: number): Promise<void> {
    while (this.isFull(size)) {
      if (this.waiting.length >= (this.options.maxWaiting ?? 10_000)) {
        throw new TetherError('TETHER_ERR_QUEUE_FULL', `queue ${this.options.name} is full (${this.count} messages)`);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }
}
