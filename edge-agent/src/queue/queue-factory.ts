import type { QueueConfig } from '@tether/shared';
import type { Logger } from 'pino';
import { DeadLetterStore } from './dead-letter-store.js';
import { MessageQueue } from './message-queue.js';
import type { SqliteStore } from './sqlite-store.js';

/**
 * Opens the destinations' queues as `queue:` configures them: on the durable store, or in
 * memory with `durability: memory`. The bridge asks it for queues and never sees the store.
 */
export interface QueueFactory {
  /** True when queued messages are written to the store (they survive a restart). */
  readonly durable: boolean;
  /** Where set-aside messages go; absent with `durability: memory` (they are logged and dropped). */
  readonly deadLetters: DeadLetterStore | undefined;
  /** The queue of destination `name`, with what the store still holds for it. */
  open(name: string): MessageQueue;
}

export function queueFactory(config: QueueConfig, logger: Logger, store: SqliteStore | undefined): QueueFactory {
  return {
    durable: store !== undefined,
    deadLetters: store ? new DeadLetterStore(store) : undefined,
    open(name: string): MessageQueue {
      const queue = new MessageQueue({
        name,
        maxMessages: config.maxmessages,
        maxBytes: config.maxbytes,
        overflow: config.overflow,
        memoryWindow: config.memory,
        // qos0: drop — QoS 0 is at most once, so it is never written to disk
        volatileQos0: config.qos0 === 'drop',
        logger: logger.child({ module: 'queue', queue: name }),
        ...(store ? { table: store.table(name) } : {}),
      });
      queue.open();
      return queue;
    },
  };
}
