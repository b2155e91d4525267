import type { Logger } from 'pino';
import type { MessageQueue, QueuedMessage } from '../queue/message-queue.js';
import type { BridgeMessage, MessageEndpoint, PublishOutcome } from '../transport/message-endpoint.js';

export interface DispatcherOptions {
  /** The target connection's id, for logs. */
  readonly name: string;
  readonly endpoint: MessageEndpoint;
  readonly queue: MessageQueue;
  readonly logger: Logger;
  /** Publishes awaiting the destination's ack at once. */
  readonly window: number;
  /** Called just before a message goes out (the echo guard remembers it). */
  readonly beforePublish?: (message: BridgeMessage) => void;
  /** Counters carried over from the dispatcher this one replaces (reload), so they never go back. */
  readonly stats?: DispatcherStats;
}

export interface DispatcherStats {
  forwarded: number;
  /** Payload bytes of the forwarded messages. */
  forwardedBytes: number;
  rejected: number;
  retried: number;
  inflight: number;
}

/**
 * Sends one destination's queue in order through a bounded in-flight window. The queue owns
 * durability; the dispatcher acks a message in the queue only when the destination acked it,
 * and gives it back (ahead of everything newer) when the send failed, so per-topic order
 * survives reconnects.
 */
export class Dispatcher {
  readonly stats: DispatcherStats;
  /** A QoS 0 drop of the current outage was logged (the first one is, at warn; the rest counted). */
  qos0DropLogged = false;
  private inflight = 0;
  private stopped = false;
  private readonly idleWaiters = new Set<() => void>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly options: DispatcherOptions) {
    this.stats = options.stats ?? { forwarded: 0, forwardedBytes: 0, rejected: 0, retried: 0, inflight: 0 };
  }

  get endpoint(): MessageEndpoint {
    return this.options.endpoint;
  }

  get window(): number {
    return this.options.window;
  }

  get queue(): MessageQueue {
    return this.options.queue;
  }

  start(): void {
    this.unsubscribe.push(
      this.options.endpoint.onEvent((event) => {
        if (event.type !== 'connected') return;
        this.qos0DropLogged = false;
        this.pump();
      }),
      this.options.queue.onAvailable(() => this.pump()),
    );
    this.pump();
  }

  /**
   * Lets go of the queue and endpoint for good (reload: a new dispatcher takes the same queue).
   * Publishes still in flight settle into the queue: a failed one is given back there in order.
   */
  detach(): void {
    this.stopped = true;
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /**
   * Stops sending new messages and waits up to `ms` for the in-flight ones (and, for an
   * in-memory queue, the backlog, which would otherwise be lost).
   */
  async drain(ms: number, backlogToo: boolean): Promise<void> {
    if (!backlogToo) this.stopped = true;
    const idle = () => this.inflight === 0 && (!backlogToo || this.options.queue.size === 0);
    if (idle()) return;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (!idle()) return;
        clearTimeout(timer);
        this.idleWaiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.idleWaiters.delete(check);
        resolve();
      }, ms);
      this.idleWaiters.add(check);
    });
    this.stopped = true;
  }

  private pump(): void {
    const { endpoint, window, queue } = this.options;
    while (!this.stopped && endpoint.connected && this.inflight < window) {
      const entry = queue.take();
      if (!entry) break;
      this.send(entry);
    }
    this.stats.inflight = this.inflight;
    for (const check of this.idleWaiters) check();
  }

  private send(entry: QueuedMessage): void {
    const { endpoint } = this.options;
    this.inflight++;
    this.options.beforePublish?.(entry.message);
    if (endpoint.send) {
      endpoint.send(entry.message, (outcome) => this.settled(entry, outcome));
      return;
    }
    endpoint.publish(entry.message).then(
      (outcome) => this.settled(entry, outcome),
      (error: unknown) => {
        // an endpoint never rejects; if one does, treat it as retryable rather than lose the message
        this.inflight--;
        this.options.logger.error({ target: this.options.name, err: error }, 'publish threw');
        this.options.queue.release(entry);
        this.pump();
      },
    );
  }

  private settled(entry: QueuedMessage, outcome: PublishOutcome): void {
    const { queue } = this.options;
    this.inflight--;
    if (outcome.status === 'acked') {
      this.stats.forwarded++;
      this.stats.forwardedBytes += entry.message.payload.length;
      queue.ack(entry);
    } else if (outcome.status === 'retryable') {
      this.stats.retried++;
      queue.release(entry);
    } else {
      this.stats.rejected++;
      queue.discard(entry);
      this.options.logger.error(
        {
          target: this.options.name,
          topic: entry.message.topic,
          code: outcome.error.code,
          reason: outcome.error.message,
        },
        'destination refused a message; it is dropped',
      );
    }
    this.pump();
  }
}
