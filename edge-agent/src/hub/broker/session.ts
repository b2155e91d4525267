import type { ProtocolVersion, Subscription, Will } from '../codec/types.js';
import { Fifo } from './fifo.js';
import { type Delivery, payloadBytes } from './hub-message.js';

/** A subscription as the session keeps it: the SUBSCRIBE's options and identifier. */
export interface SessionSubscription extends Subscription {
  readonly subscriptionId: number | undefined;
}

export interface QueueBounds {
  readonly messages: number;
  readonly bytes: number;
  readonly policy: 'drop-oldest' | 'drop-new';
}

/**
 * What the hub keeps of one client id across its connections (MQTT 3.1.1 section 4.1, 5.0
 * section 4.1): subscriptions, messages waiting for it, those in flight, and the QoS 2 packet
 * ids it has sent us and not yet released. No I/O here: the connection sends, the store keeps.
 */
export class Session {
  readonly subscriptions = new Map<string, SessionSubscription>();
  /** Waiting to be sent, in order. */
  readonly queue = new Fifo<Delivery>();
  queuedBytes = 0;
  /** Sent and not yet acknowledged, by packet id. */
  readonly inflight = new Map<number, Delivery>();
  /** QoS 2 packet ids received and not yet released (PUBREL) [MQTT-4.3.3-2]. */
  readonly inboundQos2 = new Set<number>();
  /** Seconds the session outlives its connection; 0 = it ends with it. */
  expirySec: number;
  version: ProtocolVersion;
  will: Will | undefined;
  private nextId = 1;

  constructor(
    readonly clientId: string,
    expirySec: number,
    version: ProtocolVersion,
  ) {
    this.expirySec = expirySec;
    this.version = version;
  }

  /** Outlives its connection, so its state is kept in the store. */
  get persistent(): boolean {
    return this.expirySec > 0;
  }

  /**
   * Queues a delivery. Returns what the bound made it drop (the new one under `drop-new`, the
   * oldest under `drop-oldest`), or undefined.
   */
  enqueue(d: Delivery, bounds: QueueBounds): Delivery | undefined {
    const bytes = payloadBytes(d);
    if (this.queue.length >= bounds.messages || this.queuedBytes + bytes > bounds.bytes) {
      if (bounds.policy === 'drop-new' || this.queue.length === 0) return d;
      const oldest = this.queue.shift() as Delivery;
      this.queuedBytes -= payloadBytes(oldest);
      this.queue.push(d);
      this.queuedBytes += bytes;
      return oldest;
    }
    this.queue.push(d);
    this.queuedBytes += bytes;
    return undefined;
  }

  dequeue(): Delivery | undefined {
    const d = this.queue.shift();
    if (d) this.queuedBytes -= payloadBytes(d);
    return d;
  }

  /** Puts deliveries back at the head, in order (a connection lost with them in flight). */
  requeueFront(deliveries: Delivery[]): void {
    this.queue.unshiftAll(deliveries);
    for (const d of deliveries) this.queuedBytes += payloadBytes(d);
  }

  /** A packet id not in use by an in-flight delivery [MQTT-2.3.1-2]; never 0 [MQTT-2.3.1-1]. */
  allocatePacketId(): number {
    for (let tries = 0; tries < 65_535; tries++) {
      const id = this.nextId;
      this.nextId = id === 65_535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
    throw new Error(`session ${this.clientId}: no free packet id`);
  }
}
