import type { QoS } from '@tether/shared';
import type { BridgeMessage } from '../core/bridge-message.js';
import { type InboundHandler, MessageHolds } from '../core/message-hold.js';
import { topicMatches } from '../rules/topic-match.js';
import { subscribedFilter } from './shared-filter.js';

/**
 * Hands a received message to every subscription whose filter matches it (QoS lowered to the
 * subscription's) and calls `ack` once all of their handlers are done — the durable queue
 * committed it, or it was already delivered — or at once when none holds it. If one fails,
 * `failed` runs instead and the message stays unacknowledged, so the broker sends it again.
 */
export function deliverToSubscriptions(
  subs: readonly { readonly filter: string; readonly qos: QoS; readonly handler: InboundHandler }[],
  message: BridgeMessage,
  ack: () => void,
  failed: (error: unknown) => void,
): void {
  const holds = new MessageHolds({ release: (error) => (error === undefined ? ack() : failed(error)) });
  for (const sub of subs) {
    // a shared subscription delivers what its filter after `$share/GROUP/` matches [MQTT-4.8.2]
    if (!topicMatches(subscribedFilter(sub.filter), message.topic)) continue;
    // the parsed message goes on as is; a copy only where this subscription lowers its QoS
    holds.handTo(sub.handler, sub.qos < message.qos ? { ...message, qos: sub.qos } : message);
  }
  holds.release();
}
