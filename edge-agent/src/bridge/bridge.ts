import type { QoS, QueueConfig } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgeMessage } from '../core/bridge-message.js';
import type { MessageEndpoint } from '../core/message-endpoint.js';
import { HELD, type MessageHold, MessageHolds } from '../core/message-hold.js';
import type { MessageQueue } from '../queue/message-queue.js';
import type { QueueFactory } from '../queue/queue-factory.js';
import type { BridgePlan, RoutePlan } from '../rules/bridge-plan.js';
import { EchoGuard } from '../rules/echo-guard.js';
import { Dispatcher } from './dispatcher.js';

export interface BridgeOptions {
  readonly plan: BridgePlan;
  /** One endpoint per plan connection id. */
  readonly endpoints: ReadonlyMap<string, MessageEndpoint>;
  readonly queue: QueueConfig;
  /** Opens each destination's queue (durable, or in memory with `durability: memory`). */
  readonly queues: QueueFactory;
  readonly logger: Logger;
}

const NO_ROUTES: readonly RoutePlan[] = [];

/**
 * Wires the rules: every connection subscribes what its routes read, and every received
 * message is appended to the queue of each matching route's destination — topic mapped, QoS
 * capped, retain kept or cleared. The source connection acknowledges a message only once every
 * queue reports it safe (committed to disk, or already delivered).
 *
 * The wiring can be replaced while it runs (reload): a handler looks its routes up when a
 * message comes, and each destination's queue, with its order and in-flight messages, outlives
 * its dispatcher and its connection.
 */
export class Bridge {
  readonly dispatchers = new Map<string, Dispatcher>();
  private readonly guards = new Map<string, EchoGuard>();
  /** Routes by source connection and filter, for the handlers. */
  private routes = new Map<string, Map<string, RoutePlan[]>>();
  /** Queues of connections a reload removed: kept, with their messages, in case one comes back. */
  private readonly parked = new Map<string, MessageQueue>();
  /** What each endpoint has been subscribed to, at which QoS. */
  private readonly subscribed = new WeakMap<MessageEndpoint, Map<string, QoS>>();
  private accepting = true;

  constructor(private readonly options: BridgeOptions) {}

  start(): Promise<void> {
    return this.apply(this.options.plan, this.options.endpoints);
  }

  /**
   * Rewires to `plan` (reload). A connection with the same endpoint keeps its dispatcher; one with
   * a new endpoint gets a new dispatcher on the same queue; a removed one's dispatcher stops and
   * its queue is parked. New subscriptions are made; a filter no longer in any route forwards
   * nothing from now on, and is unsubscribed where the endpoint can (the in-process hub link; on
   * a broker connection the subscription stays until the endpoint is replaced).
   */
  async apply(plan: BridgePlan, endpoints: ReadonlyMap<string, MessageEndpoint>): Promise<void> {
    const { logger, queue: config, queues } = this.options;
    const routes = new Map<string, Map<string, RoutePlan[]>>();
    for (const route of plan.routes) {
      let byFilter = routes.get(route.from);
      if (!byFilter) {
        byFilter = new Map();
        routes.set(route.from, byFilter);
      }
      const list = byFilter.get(route.filter) ?? [];
      list.push(route);
      byFilter.set(route.filter, list);
    }
    const wanted = new Set(plan.connections.map((c) => c.id));
    for (const [id, dispatcher] of this.dispatchers) {
      if (wanted.has(id)) continue;
      dispatcher.detach();
      this.dispatchers.delete(id);
      this.guards.delete(id);
      this.parked.set(id, dispatcher.queue);
      if (dispatcher.queue.size > 0) {
        logger.warn(
          { connection: id, messages: dispatcher.queue.size },
          'connection removed by reload; its queued messages are kept and go out if it comes back',
        );
      }
    }
    const fresh: Dispatcher[] = [];
    for (const connection of plan.connections) {
      const endpoint = endpoints.get(connection.id);
      if (!endpoint) throw new Error(`no endpoint for connection ${connection.id}`);
      // an endpoint that cannot suppress its own echoes gets a guard where a loop is possible
      const needsGuard = connection.echoPossible && !endpoint.suppressesEchoes;
      if (!needsGuard) this.guards.delete(connection.id);
      else if (!this.guards.has(connection.id)) this.guards.set(connection.id, new EchoGuard());
      const before = this.dispatchers.get(connection.id);
      if (before && before.endpoint === endpoint && before.window === config.inflight) continue;
      before?.detach();
      const queue = before?.queue ?? this.parked.get(connection.id) ?? queues.open(connection.id);
      this.parked.delete(connection.id);
      const guard = (m: BridgeMessage) => this.guards.get(connection.id)?.remember(m.topic, m.payload);
      const dispatcher = new Dispatcher({
        name: connection.id,
        endpoint,
        queue,
        logger: logger.child({ module: 'dispatcher', target: connection.id }),
        window: config.inflight,
        ...(before ? { stats: before.stats } : {}),
        beforePublish: guard,
        deadLetterAfter: config.deadletter.after,
        ...(queues.deadLetters ? { deadLetters: queues.deadLetters } : {}),
      });
      this.dispatchers.set(connection.id, dispatcher);
      fresh.push(dispatcher);
    }
    this.routes = routes;
    // stored backlogs go out first, before new traffic is subscribed
    for (const dispatcher of fresh) dispatcher.start();
    for (const connection of plan.connections) {
      const endpoint = endpoints.get(connection.id) as MessageEndpoint;
      let done = this.subscribed.get(endpoint);
      if (!done) {
        done = new Map();
        this.subscribed.set(endpoint, done);
      }
      const wantedFilters = new Set(connection.subscriptions.map((sub) => sub.filter));
      for (const filter of [...done.keys()]) {
        if (wantedFilters.has(filter) || !endpoint.unsubscribe) continue;
        endpoint.unsubscribe(filter);
        done.delete(filter);
      }
      for (const { filter, qos } of connection.subscriptions) {
        if ((done.get(filter) ?? -1) >= qos) continue;
        done.set(filter, qos);
        const id = connection.id;
        await endpoint.subscribe(filter, qos, (message, hold) => {
          if (this.guards.get(id)?.isEcho(message.topic, message.payload)) return;
          return this.forward(message, this.routes.get(id)?.get(filter) ?? NO_ROUTES, hold);
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
    // an in-memory backlog is lost at exit: it gets the drain time too
    const what = this.options.queues.durable ? 'inflight' : 'backlog';
    await Promise.all([...this.dispatchers.values()].map((d) => d.drain(ms, what)));
  }

  /**
   * Queues `message` for every route. Returns undefined when it is safe at once (nothing to
   * store, or memory queues), else HELD, and `hold` is released once every queue has it safe, with
   * the first error if one could not store it. No promise: this runs per message.
   */
  private forward(message: BridgeMessage, routes: readonly RoutePlan[], hold: MessageHold): typeof HELD | undefined {
    if (!this.accepting) {
      hold.release(new Error('the bridge is stopping'));
      return HELD;
    }
    let holds: MessageHolds | undefined;
    let held = false;
    for (const route of routes) {
      const dispatcher = this.dispatchers.get(route.to);
      if (!dispatcher) continue;
      const qos = Math.min(message.qos, route.qos) as QoS;
      if (qos === 0 && this.options.queue.qos0 === 'drop' && !dispatcher.endpoint.connected) {
        dispatcher.queue.droppedOffline();
        if (!dispatcher.qos0DropLogged) {
          dispatcher.qos0DropLogged = true;
          this.options.logger.warn(
            { rule: `rules[${route.rule}]`, topic: message.topic, target: route.to },
            'destination offline: QoS 0 messages of this rule are dropped until it is back (queue.qos0: drop); counted in tether_qos0_dropped_total',
          );
        }
        continue;
      }
      const mapped = {
        topic: route.mapTopic(message.topic),
        payload: message.payload,
        qos,
        retain: route.keepRetain && message.retain,
      };
      holds ??= new MessageHolds(hold);
      holds.add();
      if (dispatcher.queue.offer(mapped, holds)) holds.release();
      else held = true;
    }
    // every queue had it safe at once: the caller acks, and the counter is dropped unreleased
    if (!held) return undefined;
    (holds as MessageHolds).release();
    return HELD;
  }
}
