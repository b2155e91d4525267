import type { QoS, TetherError } from '@tether/shared';
import type { BridgeMessage } from './bridge-message.js';
import type { InboundHandler } from './message-hold.js';

/**
 * What a destination said about a publish. The dispatcher owns retries and durability;
 * endpoints only report.
 */
export type PublishOutcome =
  | { readonly status: 'acked' }
  | { readonly status: 'retryable'; readonly error: TetherError }
  | { readonly status: 'rejected'; readonly error: TetherError };

/** The outcome of every successful publish: one shared object, no allocation per message. */
export const ACKED: PublishOutcome = Object.freeze({ status: 'acked' as const });

export type EndpointEvent =
  | { readonly type: 'connected'; readonly sessionPresent: boolean }
  | { readonly type: 'disconnected'; readonly reason: string }
  | { readonly type: 'error'; readonly error: TetherError }
  /** Every failed connect attempt (`error` is reported once per reason; this one each time). */
  | { readonly type: 'retrying'; readonly error: TetherError; readonly delayMs: number };

/**
 * One side of the bridge: the local hub (over a socket or in process) or a remote.
 * Every long-lived part: constructor assigns, start() connects, stop() is idempotent.
 */
export interface MessageEndpoint {
  /** Name used in logs and metric labels (`hub` or the remote's config name). */
  readonly name: string;
  /** True when the endpoint never delivers back what it published itself (MQTT 5 No Local). */
  readonly suppressesEchoes?: boolean;
  /** Publishes the destination refused for now (quota, rate, busy) and that went back to the queue. */
  readonly refusedTransient?: number;
  /** Connects (and keeps reconnecting with backoff) until stop(); resolves once started, not once connected. */
  start(signal: AbortSignal): Promise<void>;
  readonly connected: boolean;
  /** Publishes; resolves with the outcome once the destination acknowledged (QoS>0) or the write was flushed (QoS 0). */
  publish(message: BridgeMessage): Promise<PublishOutcome>;
  /**
   * publish() with a callback, for endpoints that can report without a promise per message (the
   * dispatcher prefers it). `done` runs once, never synchronously.
   */
  send?(message: BridgeMessage, done: (outcome: PublishOutcome) => void): void;
  /** Adds a subscription, kept across reconnects. */
  subscribe(filter: string, qos: QoS, onMessage: InboundHandler): Promise<void>;
  /** Drops a subscription (reload), where the endpoint can; otherwise its messages match no route. */
  unsubscribe?(filter: string): void;
  /** Listener for connection events; returns an unsubscribe function. */
  onEvent(listener: (event: EndpointEvent) => void): () => void;
  /** Stops taking messages, waits up to `drainMs` for in-flight publishes, disconnects. Never throws. */
  stop(drainMs?: number): Promise<void>;
}
