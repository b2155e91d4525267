import { TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgeMessage } from '../core/bridge-message.js';
import type { MessageHold } from '../core/message-hold.js';
import type { PendingWrite, QueueTable } from './queue-table.js';

export type OverflowPolicy = 'drop-oldest' | 'reject-new';

export interface QueuedMessage {
  /** Position in the queue: increasing in the order messages are handed out. */
  readonly id: number;
  /** Row in the durable table; absent while not (or never) written. */
  readonly rowid?: number | undefined;
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
  /**
   * QoS 0 messages dropped (`queue.qos0: drop`): the destination was offline, or the backlog was
   * on disk and a message never written cannot keep its place. The one count of QoS 0 drops.
   */
  qos0Dropped: number;
  /** Durable messages the destination acknowledged before their commit: never written to disk. */
  unwritten: number;
}

const LOAD_BATCH = 1_000;
/** Messages waiting in memory from which on a new one is a backlog (see detached()). */
const BACKLOG = 1_000;

/**
 * One queued message. For a durable queue it is also the pending write of the next group
 * commit: a message the destination acknowledges before that commit is never written (it is
 * safe already), and the source's ack waits for whichever comes first.
 */
class Entry implements QueuedMessage, PendingWrite {
  rowid: number | undefined = undefined;
  /** The write is no longer needed (delivered or dropped before the commit). */
  cancelled = false;
  /** In memory (takeable) now, or placed only once written (the backlog is on disk). */
  readonly inMemory: boolean;
  /** The source's hold, released once (see settle()). */
  private hold: MessageHold | undefined;

  constructor(
    readonly id: number,
    readonly message: BridgeMessage,
    private readonly queue: MessageQueue,
    hold: MessageHold | undefined,
    inMemory: boolean,
  ) {
    this.hold = hold;
    this.inMemory = inMemory;
  }

  /** Called by the store after the commit (not when cancelled). */
  written(error: Error | undefined, rowid: number): void {
    if (error) {
      this.settle(error);
      this.queue.writeFailed(this);
      return;
    }
    this.rowid = rowid;
    this.queue.written(this);
    this.settle(undefined);
  }

  /**
   * Releases the source's hold: the first of written, delivered or dropped decides, so this is
   * the one place where a queued message's outcome is reported at most once.
   */
  settle(error: Error | undefined): void {
    const hold = this.hold;
    if (!hold) return;
    this.hold = undefined;
    hold.release(error);
  }
}

/**
 * The backlog of one destination: FIFO, bounded in messages and bytes, with a named overflow
 * policy. A durable queue writes every message (group-committed, write-behind) and reports it
 * safe once committed — the caller acks its source only then — or once the destination has
 * acked it, whichever comes first; `ack` forgets it. Only the oldest `memoryWindow` messages
 * are held in memory; the rest are read back from disk in batches, so a day offline costs
 * disk, not RAM.
 */
export class MessageQueue {
  readonly stats: QueueStats = {
    appended: 0,
    acked: 0,
    dropped: 0,
    redelivered: 0,
    qos0Dropped: 0,
    unwritten: 0,
  };
  private readonly memory: Array<Entry | undefined> = [];
  private memoryHead = 0;
  /** Handed out and given back (failed send), sorted by id: older than anything in memory. */
  private readonly retry: Entry[] = [];
  private count = 0;
  private byteCount = 0;
  private seq = 0;
  /** Durable: messages exist on disk (or on their way there) beyond what memory holds. */
  private spilled = false;
  /** Spilled messages whose commit has not run yet: not loadable from disk yet. */
  private spilledPending = 0;
  private loadedUpTo = 0;
  private readonly window: number;
  private readonly waiting: Array<() => void> = [];
  private readonly listeners = new Set<() => void>();
  private droppedInBurst = 0;
  private burstTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MessageQueueOptions) {
    this.window = options.table ? (options.memoryWindow ?? 10_000) : Number.POSITIVE_INFINITY;
  }

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

  /** Called whenever messages become available to take; returns a function that removes the listener. */
  onAvailable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Queues a message. Returns true when it is safe at once (memory queue, volatile QoS 0, or
   * dropped as a volatile message behind a disk backlog); otherwise `hold` is released later,
   * never synchronously: once committed or delivered, or with the error (store failure,
   * reject-new overflow) that kept it from being stored.
   */
  offer(incoming: BridgeMessage, hold: MessageHold): boolean {
    const message = this.detached(incoming);
    const size = message.payload.length;
    if (this.isFull(size)) {
      if (this.options.overflow === 'drop-oldest') {
        while (this.isFull(size) && this.dropOldest()) {}
      } else {
        this.waitForRoom(size).then(
          () => {
            if (this.offer(message, hold)) hold.release();
          },
          (error: Error) => hold.release(error),
        );
        return false;
      }
    }
    const table = this.options.table;
    const volatile = table === undefined || (message.qos === 0 && this.options.volatileQos0 === true);
    if (volatile) {
      if (this.spilled) {
        // older messages wait on disk and this one is never written: it cannot keep its place
        this.stats.qos0Dropped++;
        return true;
      }
      this.account(size);
      const entry = new Entry(++this.seq, message, this, undefined, true);
      entry.cancelled = true; // nothing to write
      this.push(entry);
      return true;
    }
    this.account(size);
    const inMemory = !this.spilled && this.memory.length - this.memoryHead < this.window;
    const entry = new Entry(++this.seq, message, this, hold, inMemory);
    if (inMemory) {
      this.push(entry);
    } else {
      this.spilled = true;
      this.spilledPending++;
    }
    (table as QueueTable).insert(entry);
    return false;
  }

  /** The oldest message not handed out yet. */
  take(): QueuedMessage | undefined {
    const retried = this.retry.shift();
    if (retried) return retried;
    if (this.memoryHead >= this.memory.length && this.spilled) this.loadFromDisk();
    if (this.memoryHead >= this.memory.length) return undefined;
    const entry = this.memory[this.memoryHead] as Entry;
    this.memory[this.memoryHead++] = undefined;
    if (this.memoryHead > 1024 && this.memoryHead * 2 > this.memory.length) {
      // compact now and then instead of shift() on every message (O(n) each)
      this.memory.splice(0, this.memoryHead);
      this.memoryHead = 0;
    }
    return entry;
  }

  /** The destination has it: forget it (and report it safe if its commit has not run yet). */
  ack(entry: QueuedMessage): void {
    this.forget(entry as Entry);
    this.stats.acked++;
  }

  /** A send failed: hand it out again before anything newer. */
  requeue(entry: QueuedMessage): void {
    this.stats.redelivered++;
    let at = this.retry.length;
    while (at > 0 && (this.retry[at - 1] as Entry).id > entry.id) at--;
    this.retry.splice(at, 0, entry as Entry);
    this.notify();
  }

  /** A QoS 0 message dropped before it reached the queue: its destination was offline (`queue.qos0: drop`). */
  droppedOffline(): void {
    this.stats.qos0Dropped++;
  }

  /** Drops a message the destination refused for good. */
  discard(entry: QueuedMessage): void {
    this.forget(entry as Entry);
  }

  /** From the store: `entry` is on disk now. */
  written(entry: Entry): void {
    if (entry.inMemory) {
      this.loadedUpTo = entry.rowid as number;
      return;
    }
    // a spilled message is taken from disk later (loadFromDisk), never from this object
    this.spilledPending--;
    this.notify();
  }

  /** From the store: `entry` could not be written (its source was told, and will send it again). */
  writeFailed(entry: Entry): void {
    entry.cancelled = true;
    if (!entry.inMemory) {
      this.spilledPending--;
      this.unaccount(entry.message.payload.length);
    }
    // an entry already in memory stays: it may be delivered, and the resend is a duplicate at worst
  }

  /**
   * A received payload is a view of the socket chunk it came in, which is cheap while it passes
   * through but keeps the whole chunk (up to 64 KB) alive. Once a backlog forms, a message may stay
   * for long: it gets its own copy, so memory is bounded by the payloads, not by their chunks.
   */
  private detached(message: BridgeMessage): BridgeMessage {
    const payload = message.payload;
    if (this.memory.length - this.memoryHead < BACKLOG || payload.byteLength * 2 >= payload.buffer.byteLength) {
      return message;
    }
    return { ...message, payload: Buffer.from(payload) };
  }

  private push(entry: Entry): void {
    this.memory.push(entry);
    this.notify();
  }

  private account(size: number): void {
    this.count++;
    this.byteCount += size;
    this.stats.appended++;
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
      const entry = new Entry(++this.seq, row.message, this, undefined, true);
      entry.rowid = row.id;
      this.memory.push(entry);
      this.loadedUpTo = row.id;
    }
    // everything committed is in memory now; spilled messages not yet committed come later
    if (rows.length < LOAD_BATCH && this.spilledPending === 0) this.spilled = false;
  }

  private forget(entry: Entry): void {
    this.count--;
    this.byteCount -= entry.message.payload.length;
    if (entry.rowid !== undefined) {
      this.options.table?.delete(entry.rowid);
    } else if (this.options.table && !entry.cancelled) {
      // delivered (or dropped) before its commit: the write is skipped, and it is safe now
      this.options.table.cancel(entry);
      this.stats.unwritten++;
      entry.settle(undefined);
    }
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
    this.forget(victim as Entry);
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
