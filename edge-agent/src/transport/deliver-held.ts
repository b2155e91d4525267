import type { QoS } from '@tether/shared';
import { topicMatches } from '../rules/topic-match.js';
import type { BridgeMessage, InboundHandler } from './message-endpoint.js';

/**
 * Hands a received message to every subscription whose filter matches it (QoS lowered to the
 * subscription's) and calls `ack` once all of their handlers' promises resolved — the durable
 * queue committed it — or at once when none returned a promise. If one rejects, `failed` runs
 * instead and the message stays unacknowledged, so the broker sends it again.
 */
export function deliverToSubscriptions(
  subs: readonly { readonly filter: string; readonly qos: QoS; readonly handler: InboundHandler }[],
  message: BridgeMessage,
  ack: () => void,
  failed: (error: unknown) => void,
): void {
  let pending: Promise<void>[] | undefined;
  for (const sub of subs) {
    if (!topicMatches(sub.filter, message.topic)) continue;
    const result = sub.handler({ ...message, qos: Math.min(message.qos, sub.qos) as QoS });
    if (result instanceof Promise) {
      pending ??= [];
      pending.push(result);
    }
  }
  if (!pending) {
    ack();
    return;
  }
  const stored = pending.length === 1 ? (pending[0] as Promise<void>) : Promise.all(pending);
  stored.then(() => ack(), failed);
}
