import type { QoS } from '@tether/shared';
import { topicMatches } from '../rules/topic-match.js';
import { type BridgeMessage, HELD, type InboundHandler, type MessageHold } from './message-endpoint.js';
import { subscribedFilter } from './shared-filter.js';

/**
 * The handlers still holding one received message. `ack` runs once every one of them is done
 * (the durable queue committed it, or it was delivered), `failed` instead if any reported an
 * error — so a failure is reported once the others are done too, and the message is then left
 * unacknowledged as a whole. One count belongs to the caller's loop, so a handler that is done at
 * once cannot ack the message before the others were even called. Each handler releases once;
 * `ack` or `failed` runs at most once whatever happens.
 */
export class MessageHolds implements MessageHold {
  private count = 1;
  private failure: { error: unknown } | undefined;
  private settled = false;

  constructor(
    private readonly ack: () => void,
    private readonly failed: (error: unknown) => void,
  ) {}

  /** Hands `message` to `handler` and counts it until the handler is done. */
  handTo(handler: InboundHandler, message: BridgeMessage): void {
    this.count++;
    let result: ReturnType<InboundHandler>;
    try {
      result = handler(message, this);
    } catch (error) {
      this.release(error ?? new Error('message handler threw'));
      return;
    }
    if (result === HELD) return;
    if (result instanceof Promise) {
      result.then(
        () => this.release(),
        (error: unknown) => this.release(error ?? new Error('message handler rejected')),
      );
    } else {
      this.release();
    }
  }

  /** One handler is done (`error` null or absent: safe); the caller's loop calls it once more after its last handTo(). */
  release(error?: unknown): void {
    if (error !== undefined && error !== null) this.failure ??= { error };
    if (--this.count > 0 || this.settled) return;
    this.settled = true;
    try {
      if (this.failure) this.failed(this.failure.error);
      else this.ack();
    } catch (thrown) {
      // this may run inside the store's commit loop, whose other messages must still be reported:
      // the failure surfaces as an uncaught exception (as the promise contract's did) after it
      queueMicrotask(() => {
        throw thrown;
      });
    }
  }
}

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
  const holds = new MessageHolds(ack, failed);
  for (const sub of subs) {
    // a shared subscription delivers what its filter after `$share/GROUP/` matches [MQTT-4.8.2]
    if (!topicMatches(subscribedFilter(sub.filter), message.topic)) continue;
    // the parsed message goes on as is; a copy only where this subscription lowers its QoS
    holds.handTo(sub.handler, sub.qos < message.qos ? { ...message, qos: sub.qos } : message);
  }
  holds.release();
}
