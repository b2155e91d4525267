import { RetainedIndex } from '../routing/retained-index.js';
import type { BrokerStats } from './broker-stats.js';
import { type HubMessage, retainPayload } from './hub-message.js';
import type { HubStateStore } from './hub-state-store.js';

/**
 * Retained messages: the bounded index (hub/routing) plus its copy in the store. An empty
 * payload clears a topic [MQTT-3.3.1-10]; at the bound a new topic is refused and counted.
 */
export class RetainedMessages {
  private readonly index: RetainedIndex<HubMessage>;

  constructor(
    maxCount: number,
    maxBytes: number,
    private readonly stats: BrokerStats,
  ) {
    this.index = new RetainedIndex<HubMessage>({ maxCount, maxBytes });
  }

  get size(): number {
    return this.index.size;
  }

  /** A message published with RETAIN set [MQTT-3.3.1-5]. True when it changed what the store keeps. */
  publish(message: HubMessage, store: HubStateStore | undefined): boolean {
    if (message.payload.length > 0) retainPayload(message);
    const outcome = this.index.set(message.topic, message);
    if (outcome === 'refused-count' || outcome === 'refused-bytes') {
      this.stats.dropped('retained-full');
      return false;
    }
    // the hub's own $SYS values are made anew every interval: never written to disk
    if (!store || message.topic.startsWith('$SYS/')) return false;
    if (outcome === 'stored' || outcome === 'replaced') store.setRetained(message);
    else if (outcome === 'cleared') store.deleteRetained(message.topic);
    else return false;
    return true;
  }

  restore(message: HubMessage): void {
    this.index.set(message.topic, message);
  }

  /** What a new subscription to `filter` is sent, expired ones left out [MQTT-3.3.2-5]. */
  matching(filter: string): HubMessage[] {
    const now = Date.now();
    const out: HubMessage[] = [];
    for (const e of this.index.matching(filter)) {
      if (e.message.expiresAt === 0 || e.message.expiresAt > now) out.push(e.message);
    }
    return out;
  }
}
