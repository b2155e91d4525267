import type { QoS } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgePlan, RoutePlan } from '../rules/bridge-plan.js';
import { EchoGuard } from '../rules/echo-guard.js';
import type { BridgeMessage, MessageEndpoint } from '../transport/message-endpoint.js';
import { Dispatcher, type OverflowPolicy } from './dispatcher.js';

export interface BridgeOptions {
  readonly plan: BridgePlan;
  /** One endpoint per plan connection id. */
  readonly endpoints: ReadonlyMap<string, MessageEndpoint>;
  readonly logger: Logger;
  readonly window?: number;
  readonly maxMessages?: number;
  readonly overflow?: OverflowPolicy;
}

/**
 * Wires the rules: every connection subscribes what its routes read, and every received
 * message goes to the dispatcher of each matching route's target, topic mapped, QoS
 * capped, retain kept or cleared.
 */
export class Bridge {
  readonly dispatchers = new Map<string, Dispatcher>();
  private readonly guards = new Map<string, EchoGuard>();

  constructor(private readonly options: BridgeOptions) {}

  async start(): Promise<void> {
    const { plan, endpoints, logger } = this.options;
    for (const connection of plan.connections) {
      const endpoint = this.endpoint(connection.id);
      // an endpoint that cannot suppress its own echoes gets a guard where a loop is possible
      const guard = connection.echoPossible && !endpoint.suppressesEchoes ? new EchoGuard() : undefined;
      if (guard) this.guards.set(connection.id, guard);
      const dispatcher = new Dispatcher({
        name: connection.id,
        endpoint,
        logger: logger.child({ module: 'dispatcher', target: connection.id }),
        window: this.options.window ?? 100,
        maxMessages: this.options.maxMessages ?? 100_000,
        overflow: this.options.overflow ?? 'drop-oldest',
        ...(guard ? { beforePublish: (m: BridgeMessage) => guard.remember(m.topic, m.payload) } : {}),
      });
      this.dispatchers.set(connection.id, dispatcher);
    }
    for (const dispatcher of this.dispatchers.values()) dispatcher.start();
    for (const connection of plan.connections) {
      const endpoint = this.endpoint(connection.id);
      const guard = this.guards.get(connection.id);
      for (const { filter, qos } of connection.subscriptions) {
        const routes = plan.routes.filter((r) => r.from === connection.id && r.filter === filter);
        await endpoint.subscribe(filter, qos, (message) => {
          if (guard?.isEcho(message.topic, message.payload)) return;
          this.forward(message, routes);
        });
      }
    }
  }

  /** Stops taking messages and waits up to `ms` for what is queued and in flight. */
  async drain(ms: number): Promise<void> {
    await Promise.all([...this.dispatchers.values()].map((d) => d.drain(ms)));
  }

  private forward(message: BridgeMessage, routes: readonly RoutePlan[]): void {
    for (const route of routes) {
      const dispatcher = this.dispatchers.get(route.to);
      if (!dispatcher) continue;
      dispatcher.enqueue({
        topic: route.mapTopic(message.topic),
        payload: message.payload,
        qos: Math.min(message.qos, route.qos) as QoS,
        retain: route.keepRetain && message.retain,
      });
    }
  }

  private endpoint(id: string): MessageEndpoint {
    const endpoint = this.options.endpoints.get(id);
    if (!endpoint) throw new Error(`no endpoint for connection ${id}`);
    return endpoint;
  }
}
