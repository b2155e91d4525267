import type { Duplex } from 'node:stream';
import type { QoS } from '@tether/shared';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';

export type { QoS };
export type PublishProperties = NonNullable<IPublishPacket['properties']>;
export type ServerProperties = NonNullable<IConnackPacket['properties']>;

/** An incoming PUBLISH as handed to `onMessage`; the payload is a view of the bytes read (no copy). */
export interface LeanMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  /** The broker's packet id (QoS 1/2); 0 or absent for QoS 0. */
  readonly messageId?: number;
  readonly properties?: PublishProperties;
}

/**
 * Receives every PUBLISH. For QoS 1/2 the broker is acknowledged only when `ack()` is called, so a
 * caller that stores first and acks after never loses a message it was handed. `ack` is idempotent
 * and a no-op once the connection is gone (the broker re-sends on the next session).
 */
export type MessageHandler = (message: LeanMessage, ack: () => void) => void;

export interface LeanConnectOptions {
  /** Builds the connected (or connecting) transport: net.Socket, TLSSocket or a WebSocket stream. */
  readonly stream: () => Duplex;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string | Buffer;
  readonly clean: boolean;
  /** 0 turns keepalive off. A v5 server's Server Keep Alive overrides it [MQTT-3.2.2-21]. */
  readonly keepaliveSec: number;
  readonly protocolVersion: 4 | 5;
  /** MQTT 5 Session Expiry Interval in seconds (CONNECT property). */
  readonly sessionExpirySec?: number;
  /** Bound for transport connect + CONNECT/CONNACK. */
  readonly connectTimeoutMs: number;
  /** Given up front: messages may follow CONNACK in the same TCP segment (queued session messages). */
  readonly onMessage: MessageHandler;
  /**
   * Inbound QoS 1/2 messages not yet acknowledged before the socket is paused. Default 1000. Also sent
   * as MQTT 5 Receive Maximum so a v5 broker stops on its own. The bound is soft by one read chunk:
   * the parser finishes the chunk it is in.
   */
  readonly maxPendingAcks?: number;
  /** Read pacing (see ReadPacer): the pause between close small reads, in ms. Default 0 (off). */
  readonly readPauseMs?: number;
  /** MQTT 5 Topic Alias Maximum we accept from the server. Default 0 (none). */
  readonly topicAliasMaximum?: number;
  /** Last Will: published by the broker when the connection ends without DISCONNECT [MQTT-3.1.2-8]. */
  readonly will?: { readonly topic: string; readonly payload: Buffer; readonly qos: QoS; readonly retain: boolean };
}

export interface LeanSubscription {
  readonly topic: string;
  readonly qos: QoS;
  /** MQTT 5 No Local: our own publishes are not sent back [MQTT-3.8.3-3]. */
  readonly nl?: boolean;
  /** MQTT 5 Retain As Published: live messages keep their RETAIN flag (section 3.8.3.1). */
  readonly rap?: boolean;
}

export interface LeanPublishOptions {
  readonly qos: QoS;
  readonly retain: boolean;
}

export type LeanClientEvents = {
  /** Once, when the connection is gone; `error` is why, absent after a clean close. */
  close: (error?: Error) => void;
  /** The fatal error, just before `close`; never thrown. */
  error: (error: Error) => void;
};

/** An Error with the fields callers branch on: Node's `code`, a CONNACK code, or an MQTT 5 reason code. */
export interface MqttError extends Error {
  code?: string | number;
  reasonCode?: number;
}

export function mqttError(message: string, fields: { code?: string | number; reasonCode?: number; cause?: unknown }) {
  const error: MqttError = new Error(message, fields.cause === undefined ? undefined : { cause: fields.cause });
  if (fields.code !== undefined) error.code = fields.code;
  if (fields.reasonCode !== undefined) error.reasonCode = fields.reasonCode;
  return error;
}

/** What every pending operation rejects with when the connection goes away; the caller re-sends. */
export function connectionClosedError(cause: Error | undefined): MqttError {
  const reason = cause ? `: ${cause.message}` : '';
  return mqttError(`connection closed before the broker acknowledged${reason}`, { code: 'ECONNCLOSED', cause });
}
