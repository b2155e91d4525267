import { TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgeMessage, MessageEndpoint } from '../transport/message-endpoint.js';

export type OverflowPolicy = 'drop-oldest' | 'reject-new';

export interface DispatcherOptions {
  /** The target connection's id, for logs. */
  readonly name: string;
  readonly endpoint: MessageEndpoint;
  readonly logger: Logger;
  /** Publishes awaiting the destination's ack at once. */
  readonly window: number;
  /** Messages held while the destination is slow or away. */
  readonly maxMessages: number;
  readonly overflow: OverflowPolicy;
  /** Called just before a message goes out (the echo guard remembers it). */
  readonly beforePublish?: (message: BridgeMessage) => void;
}

export interface DispatcherStats {
  queued: number;
  inflight: number;
  forwarded: number;
  dropped: number;
  rejected: number;
  retried: number;
}

interface Entry {
  readonly seq: number;
  readonly message: BridgeMessage;
}

/**
 * Delivers messages to one destination in order, with a bounded in-flight window and a
 * bounded backlog. A publish that fails `retryable` (connection lost) goes back ahead of
 * everything newer, so per-topic order survives reconnects.
 */
export class Dispatcher {
  private readonly queue: Entry[] = [];
  private queueHead = 0;
  /** Retries, kept sorted by sequence; always older than anything in `queue`. */
  private retry: Entry[] = [];
  private inflight = 0;
  private seq = 0;
  private stopped = false;
  private droppedInBurst = 0;
  private burstTimer: NodeJS.Timeout | undefined;
  private readonly idleWaiters = new Set<() => void>();
  readonly stats: DispatcherStats = { queued: 0, inflight: 0, forwarded: 0, dropped: 0, rejected: 0, retried: 0 };

  constructor(private readonly options: DispatcherOptions) {}

  start(): void {
    this.options.endpoint.onEvent((event) => {
      if (event.type === 'connected') this.pump();
    });
    this.pump();
  }

  /** Takes a message; false when the queue is full and the policy is `reject-new`. */
  enqueue(message: BridgeMessage): boolean {
    if (this.stopped) return false;
    if (this.backlog() >= this.options.maxMessages) {
      if (this.options.overflow === 'reject-new') return false;
      this.dropOldest();
    }
    this.queue.push({ seq: this.seq++, message });
    this.pump();
    return true;
  }

  backlog(): number {
    return this.queue.length - this.queueHead + this.retry.length;
  }

  /** Stops taking messages and waits up to `ms` for the backlog and in-flight to empty. */
  async drain(ms: number): Promise<void> {
    this.stopped = true;
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.idleWaiters.add(done);
    });
  }

  private pump(): void {
    const { endpoint, window } = this.options;
    while (endpoint.connected && this.inflight < window) {
      const entry = this.next();
      if (!entry) break;
      this.send(entry);
    }
    this.stats.queued = this.backlog();
    this.stats.inflight = this.inflight;
    if (this.isIdle()) for (const resolve of this.idleWaiters) resolve();
  }

  private next(): Entry | undefined {
    if (this.retry.length > 0) return this.retry.shift();
    if (this.queueHead >= this.queue.length) return undefined;
    const entry = this.queue[this.queueHead++];
    // compact now and then instead of shift() on every message (O(n) each)
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return entry;
  }

  private send(entry: Entry): void {
    this.inflight++;
    this.options.beforePublish?.(entry.message);
    this.options.endpoint.publish(entry.message).then(
      (outcome) => {
        this.inflight--;
        if (outcome.status === 'acked') this.stats.forwarded++;
        else if (outcome.status === 'retryable') this.requeue(entry);
        else this.reject(entry, outcome.error);
        this.pump();
      },
      (error: unknown) => {
        this.inflight--;
        this.reject(entry, new TetherError('TETHER_ERR_PUBLISH', String(error), { cause: error }));
        this.pump();
      },
    );
  }

  private requeue(entry: Entry): void {
    this.stats.retried++;
    const at = this.retry.findIndex((e) => e.seq > entry.seq);
    if (at === -1) this.retry.push(entry);
    else this.retry.splice(at, 0, entry);
  }

  private reject(entry: Entry, error: TetherError): void {
    this.stats.rejected++;
    this.options.logger.error(
      { target: this.options.name, topic: entry.message.topic, code: error.code, reason: error.message },
      'destination refused a message; it is dropped',
    );
  }

  private dropOldest(): void {
    const dropped = this.retry.length > 0 ? this.retry.shift() : this.next();
    if (!dropped) return;
    this.stats.dropped++;
    this.droppedInBurst++;
    // one log line per burst of drops, not one per message
    if (!this.burstTimer) {
      this.burstTimer = setTimeout(() => {
        this.options.logger.warn(
          { target: this.options.name, dropped: this.droppedInBurst, maxMessages: this.options.maxMessages },
          'queue full: oldest messages dropped',
        );
        this.droppedInBurst = 0;
        this.burstTimer = undefined;
      }, 1_000);
      this.burstTimer.unref?.();
    }
  }

  private isIdle(): boolean {
    return this.inflight === 0 && this.backlog() === 0;
  }
}
