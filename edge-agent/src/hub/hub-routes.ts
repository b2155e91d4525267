import type { HubRoute, QoS } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgeMessage } from '../core/bridge-message.js';
import { topicMatches } from '../rules/topic-match.js';

/**
 * Baetyl-Hub's `subscriptions`: a message published on a topic matching `source.topic`
 * is also published on `target.topic`.
 *
 * QoS as Baetyl's rule sink: the copy only ever downgrades, min(message, source, target)
 * (for Baetyl's QoS 0/1 range this is exactly what it did). The retain flag is kept: the
 * copy is "the same message also published there".
 *
 * Loops: the caller publishes copies as the broker itself and never routes those again,
 * so `a -> b` with `b -> a` yields one copy each way, not a storm.
 */
export class HubRoutes {
  constructor(
    private readonly routes: readonly HubRoute[],
    private readonly publish: (copy: BridgeMessage) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.routes.length;
  }

  /** Publishes the copies for one original message; returns how many routes matched. */
  route(message: BridgeMessage): number {
    let matched = 0;
    for (const { source, target } of this.routes) {
      if (!topicMatches(source.topic, message.topic)) continue;
      matched++;
      const copy: BridgeMessage = {
        topic: target.topic,
        payload: message.payload,
        qos: Math.min(message.qos, source.qos, target.qos) as QoS,
        retain: message.retain,
      };
      this.publish(copy).catch((err: unknown) => {
        this.logger.warn({ err, source: message.topic, target: target.topic }, 'hub route could not publish its copy');
      });
    }
    return matched;
  }
}
