import type { QoS, QueueConfig } from '@tether/shared';
import type { Logger } from 'pino';
import { DeadLetterStore } from '../queue/dead-letter-store.js';
import { MessageQueue } from '../queue/message-queue.js';
import type { SqliteStore } from '../queue/sqlite-store.js';
import type { BridgePlan, RoutePlan } from '../rules/bridge-plan.js';
import { EchoGuard } from '../rules/echo-guard.js';
import { type BridgeMessage, HELD, type MessageEndpoint, type MessageHold } from '../transport/message-endpoint.js';
import { Dispatcher } from './dispatcher.js';

export interface BridgeOptions {
  readonly plan: BridgePlan;
  /** One endpoint per plan connection id. */
  readonly endpoints: ReadonlyMap<string, MessageEndpoint>;
  readonly queue: QueueConfig;
  /** The durable store; absent with `durability: memory`. */
  readonly store?: SqliteStore;
  readonly logger: Logger;
}

export interface BridgeStats {
  /** QoS 0 messages dropped because their destination was offline (`qos0: drop`). */
  qos0Dropped: number;
}

/**
 * Wires the rules: every connection subscribes what its routes read, and every received
 * message is appended to the queue of each matching route's destination — topic mapped, QoS
 * capped, retain kept or cleared. The source connection acknowledges a message only once every
 * queue reports it safe (committed to disk, or already delivered).
 */
export class Bridge {
  readonly dispatchers = new Map<string, Dispatcher>();
  readonly stats: BridgeStats = { qos0Dropped: 0 };
  private readonly guards = new Map<string, EchoGuard>();
  private accepting = true;

  constructor(private readonly options: BridgeOptions) {}

  async start(): Promise<void> {
    const { plan, logger, queue: config, store } = this.options;
    const deadLetters = store ? new DeadLetterStore(store) : undefined;
    for (const connection of plan.connections) {
      const endpoint = this.endpoint(connection.id);
      // an endpoint that cannot suppress its own echoes gets a guard where a loop is possible
      const guard = connection.echoPossible && !endpoint.suppressesEchoes ? new EchoGuard() : undefined;
      if (guard) this.guards.set(connection.id, guard);
      const queue = new MessageQueue({
        name: connection.id,
        maxMessages: config.maxmessages,
        maxBytes: config.maxbytes,
        overflow: config.overflow,
        memoryWindow: config.memory,
        // qos0: drop — QoS 0 is at most once, so it is never written to disk
        volatileQos0: config.qos0 === 'drop',
        logger: logger.child({ module: 'queue', queue: connection.id }),
        ...(store ? { table: store.table(connection.id) } : {}),
      });
      queue.open();
      const dispatcher = new Dispatcher({
        name: connection.id,
        endpoint,
        queue,
        logger: logger.child({ module: 'dispatcher', target: connection.id }),
        window: config.inflight,
        deadLetterAfter: config.deadletter.after,
        ...(deadLetters ? { deadLetters } : {}),
        ...(guard ? { beforePublish: (m: BridgeMessage) => guard.remember(m.topic, m.payload) } : {}),
      });
      this.dispatchers.set(connection.id, dispatcher);
    }
    // stored backlogs go out first, before new traffic is subscribed
    for (const dispatcher of this.dispatchers.values()) dispatcher.start();
    for (const connection of plan.connections) {
      const endpoint = this.endpoint(connection.id);
      const guard = this.guards.get(connection.id);
      for (const { filter, qos } of connection.subscriptions) {
        const routes = plan.routes.filter((r) => r.from === connection.id && r.filter === filter);
        await endpoint.subscribe(filter, qos, (message, hold) => {
          if (guard?.isEcho(message.topic, message.payload)) return;
          return this.forward(message, routes, hold);
        });
      }
    }
  }

  /**
   * Stops taking messages (new ones are not acknowledged to their source) and waits up to
   * `ms` for in-flight publishes; an in-memory backlog is given the same time to empty.
   */
  async drain(ms: number): Promise<void> {
    this.accepting = false;
    const backlogToo = this.options.store === undefined;
    await Promise.all([...this.dispatchers.values()].map((d) => d.drain(ms, backlogToo)));
  }

  /**
   * Queues `message` for every route. Returns undefined when it is safe at once (nothing to
   * store, or memory queues), else HELD, and `hold` is released once every queue has it safe, with the
   * first error if one could not store it. A callback, not a promise: this runs per message.
   */
  private forward(message: BridgeMessage, routes: readonly RoutePlan[], hold: MessageHold): typeof HELD | undefined {
    if (!this.accepting) {
      hold.release(new Error('the bridge is stopping'));
      return HELD;
    }
    // one count for the loop itself, so a queue reporting "safe" early cannot settle it midway
    let pending = 1;
    let failure: Error | undefined;
    const onSafe = (error?: Error): void => {
      if (error) failure ??= error;
      if (--pending === 0) hold.release(failure);
    };
    for (const route of routes) {
      const dispatcher = this.dispatchers.get(route.to);
      if (!dispatcher) continue;
      const qos = Math.min(message.qos, route.qos) as QoS;
      if (qos === 0 && this.options.queue.qos0 === 'drop' && !this.endpoint(route.to).connected) {
        this.stats.qos0Dropped++;
        continue;
      }
      pending++;
      const mapped = {
        topic: route.mapTopic(message.topic),
        payload: message.payload,
        qos,
        retain: route.keepRetain && message.retain,
      };
      if (dispatcher.queue.offer(mapped, onSafe)) pending--;
    }
    if (--pending === 0) {
      // every queue had it safe at once (a failure is only ever reported later, but honour one)
      if (!failure) return undefined;
      hold.release(failure);
    }
    return HELD;
  }

  private endpoint(id: string): MessageEndpoint {
    const endpoint = this.options.endpoints.get(id);
    if (!endpoint) throw new Error(`no endpoint for connection ${id}`);
    return endpoint;
  }
}
