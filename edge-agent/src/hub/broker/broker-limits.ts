import type { HubConfig } from '@tether/shared';
import type { LoginDelayConfig } from './login-throttle.js';
import type { QueueBounds } from './session.js';

/** The hub's bounds in the units the broker uses; from the hub config's `limits` (documented there). */
export interface BrokerLimits {
  readonly packetSize: number;
  readonly maxConnections: number;
  readonly connectTimeoutMs: number;
  readonly maxSubscriptions: number;
  readonly inflight: number;
  readonly queue: QueueBounds;
  readonly outBufferBytes: number;
  readonly writeTimeoutMs: number;
  readonly sessionExpiryMs: number;
  /** 5.0 Topic Alias Maximum the hub accepts from clients. */
  readonly topicAliasMaximum: number;
  /** `limits.keepalive`: 5.0 clients asking for more (or none) are told this (Server Keep Alive), 3.1.1 ones refused; 0 = take what the client asks. */
  readonly maxKeepAliveSec: number;
  readonly retainedMessages: number;
  readonly retainedBytes: number;
  readonly loginDelay: LoginDelayConfig;
}

/** Baetyl-Hub's `message.length.max` default: 32k. */
export const DEFAULT_MESSAGE_MAX = 32 * 1024;

export function brokerLimits(config: HubConfig): BrokerLimits {
  const l = config.limits;
  const messageMax = config.message?.length?.max ?? DEFAULT_MESSAGE_MAX;
  return {
    // room for the topic and properties beside the largest accepted payload
    packetSize: l.packetsize ?? Math.max(1024 * 1024, messageMax + 64 * 1024),
    maxConnections: l.connections,
    connectTimeoutMs: l.connecttimeout,
    maxSubscriptions: l.subscriptions,
    inflight: l.inflight,
    queue: { messages: l.queue.messages, bytes: l.queue.bytes, policy: l.queue.policy },
    outBufferBytes: l.outbuffer,
    writeTimeoutMs: l.writetimeout,
    sessionExpiryMs: l.sessionexpiry,
    topicAliasMaximum: 64,
    maxKeepAliveSec: Math.min(65_535, Math.floor(l.keepalive / 1000)),
    retainedMessages: l.retained.messages,
    retainedBytes: l.retained.bytes,
    loginDelay: { minMs: l.logindelay.min, maxMs: l.logindelay.max, forgetMs: l.logindelay.forget },
  };
}
