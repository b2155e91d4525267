import type { QoS } from '@tether/shared';

/** A SUBSCRIBE entry's options (MQTT 5 section 3.8.3.1); MQTT 3.1.1 clients get the defaults. */
export interface SubscriptionOptions {
  readonly qos: QoS;
  /** [MQTT-3.8.3-3] not forwarded to the connection with the publisher's client id. */
  readonly noLocal: boolean;
  /** [MQTT-3.3.1-12/13] keep the RETAIN flag when forwarding (else it goes out as 0). */
  readonly retainAsPublished: boolean;
  /** [MQTT-3.3.1-9..11] used by the caller at subscribe time, with add()'s `added`/`replaced`. */
  readonly retainHandling: 0 | 1 | 2;
  /** 1..268,435,455 [MQTT-3.8.2.1.2]; absent when the SUBSCRIBE had none. */
  readonly subscriptionId?: number;
}

/** One subscription of one client, as the index holds it. */
export interface Subscription {
  readonly clientId: string;
  /** As subscribed, `$share/{group}/` included: the key of the subscription within its client. */
  readonly filter: string;
  /** What is matched against topics: `filter` without its `$share/{group}/` prefix. */
  readonly topicFilter: string;
  /** The share name of a shared subscription (MQTT 5 section 4.8.2), else undefined. */
  readonly group: string | undefined;
  readonly options: SubscriptionOptions;
}

/** One copy of a published message to send to one client. */
export interface Delivery {
  readonly clientId: string;
  /** The maximum of the matching subscriptions' QoS [MQTT-3.3.4-2]; send min(this, message QoS) [MQTT-3.8.4-8]. */
  readonly qos: QoS;
  /** Every matching subscription's identifier, in no significant order [MQTT-3.3.4-3], [MQTT-3.3.4-4]. */
  readonly subscriptionIds: readonly number[];
  /** True when any matching subscription has Retain As Published (see SubscriptionIndex). */
  readonly retainAsPublished: boolean;
  /** The subscriptions merged into this copy, for a caller that decides otherwise. */
  readonly subscriptions: readonly Subscription[];
  /** Set on a shared subscription's copy, which is never merged with the client's other copies. */
  readonly share?: SharedPick;
}

export interface SharedPick {
  readonly group: string;
  readonly topicFilter: string;
  /** False when no member passed the caller's `isAvailable` and round robin picked one anyway. */
  readonly memberAvailable: boolean;
}

/** Whether a member of a shared group can take a message now (connected, receive window open…). */
export type MemberAvailable = (clientId: string) => boolean;

/** A subscription as a store gives it back at start (SubscriptionIndex.load). */
export interface StoredSubscription {
  readonly clientId: string;
  readonly filter: string;
  readonly options: SubscriptionOptions;
}

/** One client's matching subscriptions as one copy [MQTT-3.3.4-2..4]. */
export function mergeDeliveries(subscriptions: readonly Subscription[]): Delivery {
  const first = subscriptions[0] as Subscription;
  let qos: QoS = 0;
  let retainAsPublished = false;
  const subscriptionIds: number[] = [];
  for (const s of subscriptions) {
    if (s.options.qos > qos) qos = s.options.qos;
    if (s.options.retainAsPublished) retainAsPublished = true;
    if (s.options.subscriptionId !== undefined) subscriptionIds.push(s.options.subscriptionId);
  }
  return { clientId: first.clientId, qos, subscriptionIds, retainAsPublished, subscriptions };
}
