import type { PublishProperties, QoS } from '../codec/types.js';

/**
 * A message inside the hub: one object however many sessions it goes to. `id` is its row in the
 * hub's message log once some persistent session holds it (0 before, and for messages no
 * persistent session needs); `refs` counts the stored deliveries that still need it, so its row
 * is deleted with the last one.
 */
export interface HubMessage {
  id: number;
  readonly topic: string;
  /** A view of the publisher's read chunk until the message is held beyond the current turn (see retainPayload). */
  payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  /** MQTT 5 properties carried through (topic alias and subscription identifiers removed). */
  readonly properties: PublishProperties | undefined;
  /** Absolute time (Date.now() ms) after which it is not delivered [MQTT-3.3.2-5]; 0 = never. */
  readonly expiresAt: number;
  /** The client id of the publisher (No Local), or '' for the hub's own publishes. */
  readonly origin: string;
  refs: number;
  /** Its row is in the store's message log (HubStateStore's business; absent = not written). */
  rowWritten?: boolean;
}

/** Copies the payload out of its read chunk once, so a waiting message does not pin a 64 KiB chunk. */
export function retainPayload(message: HubMessage): void {
  const payload = message.payload;
  if (payload.byteOffset !== 0 || payload.buffer.byteLength !== payload.length) {
    message.payload = Buffer.from(payload);
  }
}

/** One message on its way to one session: its own QoS, retain flag, state and packet id. */
export interface Delivery {
  readonly message: HubMessage;
  /** min(message QoS, subscription QoS) [MQTT-3.8.4-8]. */
  readonly qos: QoS;
  readonly retain: boolean;
  readonly subscriptionIds: number[] | undefined;
  /** Held in the hub's store (a persistent session's QoS 1/2 delivery). */
  stored: boolean;
  /** Sent at least once: a resend carries DUP [MQTT-3.3.1-1]. */
  sent: boolean;
  /** QoS 2: PUBREC received, PUBREL sent; the message itself is done with. */
  released: boolean;
  packetId: number;
}

export function payloadBytes(d: Delivery): number {
  return d.message.payload.length + d.message.topic.length;
}
