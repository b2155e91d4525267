import type { RemoteConfig } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgeMessage } from '../core/bridge-message.js';
import type { MessageEndpoint, PublishOutcome } from '../core/message-endpoint.js';

/**
 * The seam between Tether and a cloud. A remote's `provider:` picks one implementation from
 * ./registry.ts; changing cloud is changing that field and the connection fields, never the rules.
 *
 * | provider        | file                     | built on                                                   |
 * | --------------- | ------------------------ | ---------------------------------------------------------- |
 * | `mqtt`          | mqtt-adapter.ts          | MqttEndpoint (tcp, ssl, ws, wss; MQTT 3.1.1 and 5)         |
 * | `baidu-iotcore` | baidu-iotcore-adapter.ts | MqttEndpoint + IoT Core's address, signed login, limits    |
 * | `baidu-iothub`  | baidu-iothub-adapter.ts  | the same with IoT Hub's address and username (deprecated) |
 * | `aws-iot`       | aws-iot-adapter.ts       | aws-iot-device-sdk-v2 MQTT 5, loaded on first use          |
 *
 * The dispatcher needs nothing more than a MessageEndpoint, and every adapter honours it the
 * same way: `send` reports (and `publish` resolves) `acked` only on the broker's PUBACK (QoS 1/2)
 * or once written (QoS 0), `retryable` when the connection is not there or drops, or the broker
 * refuses for now (a transient PUBACK reason code, reported after a backoff:
 * transport/publish-refusals.ts), `rejected` on a final refusal (0x87 not authorized…, or a
 * message over the cloud's limits); a subscription handler holds the inbound PUBACK (its
 * promise, or HELD and a later release) until the durable queue committed the message; events
 * are `connected`, `disconnected` (with a reason) and `error`; `connected` is true once
 * subscribed. The endpoint's `name` is the remote's config name.
 */
export interface CloudAdapter extends MessageEndpoint {
  /** Every cloud endpoint reports by callback: the dispatcher sends without a promise per message. */
  send(message: BridgeMessage, done: (outcome: PublishOutcome) => void): void;
}

export interface AdapterContext {
  readonly logger: Logger;
  /** Folder that relative paths in the config resolve against (then the working directory). */
  readonly configDir: string;
}

export interface AdapterRequest extends AdapterContext {
  /** The MQTT client id of this connection (rules that share a remote and client id share one). */
  readonly clientId: string;
  /** Config path of the remote (`remotes[1]`) for error messages. */
  readonly field: string;
  /** The remote-side connection state topic (`notifications.remote`), resolved; absent when off. */
  readonly stateTopic?: string;
}

export type CloudAdapterFactory<C extends RemoteConfig = RemoteConfig> = (
  config: C,
  request: AdapterRequest,
) => CloudAdapter;
