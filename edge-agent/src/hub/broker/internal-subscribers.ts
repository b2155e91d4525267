import type { QoS } from '@tether/shared';
import type { BridgeMessage } from '../../core/bridge-message.js';
import { type InboundHandler, type MessageHold, MessageHolds } from '../../core/message-hold.js';
import { topicMatches } from '../../rules/topic-match.js';
import type { HubMessage } from './hub-message.js';

interface InternalSubscription {
  readonly filter: string;
  readonly qos: QoS;
  readonly handler: InboundHandler;
}

const NOOP = (): void => {};

/**
 * Subscribers inside this process (the bridge's in-process hub link): a destination like a
 * session, except that it holds the message itself (its durable queue) and says when it is safe.
 * A client's message waits for them before its PUBACK; a message no publisher waits for (the
 * hub's own, QoS 0) is handed over with nobody to tell, and a handler's failure is only logged.
 */
export class InternalSubscribers {
  private readonly subs = new Map<string, InternalSubscription>();
  private onFailure: (topic: string, error: unknown) => void = NOOP;

  get size(): number {
    return this.subs.size;
  }

  /** Adds or replaces (same filter) a subscription [MQTT-3.8.4-3]. */
  add(filter: string, qos: QoS, handler: InboundHandler): void {
    this.subs.set(filter, { filter, qos, handler });
  }

  remove(filter: string): void {
    this.subs.delete(filter);
  }

  failures(report: (topic: string, error: unknown) => void): void {
    this.onFailure = report;
  }

  /** For a message nobody waits for: a handler's failure is only reported. */
  private failureReport(topic: string): MessageHold {
    return { release: (error) => error !== undefined && this.onFailure(topic, error) };
  }

  deliver(message: HubMessage, holds: MessageHolds | undefined): void {
    if (this.subs.size === 0) return;
    let own: MessageHolds | undefined;
    for (const sub of this.subs.values()) {
      // [MQTT-4.7.2-1] is in topicMatches: `#` does not see `$SYS/...`
      if (!topicMatches(sub.filter, message.topic)) continue;
      const copy: BridgeMessage = {
        topic: message.topic,
        payload: message.payload,
        qos: Math.min(message.qos, sub.qos) as QoS,
        retain: message.retain,
      };
      if (holds) {
        holds.handTo(sub.handler, copy);
        continue;
      }
      own ??= new MessageHolds(this.failureReport(message.topic));
      own.handTo(sub.handler, copy);
    }
    own?.release();
  }

  /** One subscription's share of a message it gets alone (retained on subscribe). */
  deliverTo(filter: string, message: BridgeMessage): void {
    const sub = this.subs.get(filter);
    if (!sub) return;
    const holds = new MessageHolds(this.failureReport(message.topic));
    holds.handTo(sub.handler, { ...message, qos: Math.min(message.qos, sub.qos) as QoS });
    holds.release();
  }
}
