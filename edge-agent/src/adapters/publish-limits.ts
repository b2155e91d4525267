import { TetherError } from '@tether/shared';
import type { PublishOutcome } from '../core/message-endpoint.js';

/** What a cloud accepts in one PUBLISH; checked before sending so an over-limit message fails clearly. */
export interface PublishLimits {
  /** The cloud's name as people know it, for messages ("Baidu IoT Hub"). */
  readonly cloud: string;
  /** Topic name length in UTF-8 bytes. */
  readonly maxTopicBytes: number;
  /** Topic levels (slashes + 1). */
  readonly maxTopicLevels: number;
  /** Length of one level in UTF-8 bytes, when the cloud limits it. */
  readonly maxLevelBytes?: number;
  /** Payload size in bytes. */
  readonly maxPayloadBytes: number;
  /** Config field that raises the payload limit, named in the message when there is one. */
  readonly payloadField?: string;
}

/** The first limit the message breaks, as a sentence naming the limit; undefined when it fits. */
export function limitProblem(
  limits: PublishLimits,
  topic: string,
  payload: Buffer,
  levelsExempt = 0,
): string | undefined {
  const { cloud } = limits;
  const topicBytes = Buffer.byteLength(topic);
  if (topicBytes > limits.maxTopicBytes) {
    return `the topic is ${topicBytes} bytes long; ${cloud} allows at most ${limits.maxTopicBytes}`;
  }
  const levels = topic.split('/');
  if (levels.length - levelsExempt > limits.maxTopicLevels) {
    return `the topic has ${levels.length - levelsExempt} levels; ${cloud} allows at most ${limits.maxTopicLevels}`;
  }
  if (limits.maxLevelBytes !== undefined) {
    const long = levels.find((level) => Buffer.byteLength(level) > (limits.maxLevelBytes as number));
    if (long !== undefined) {
      return `the topic level "${long.slice(0, 60)}" is ${Buffer.byteLength(long)} bytes long; ${cloud} allows at most ${limits.maxLevelBytes} per level`;
    }
  }
  if (payload.length > limits.maxPayloadBytes) {
    const raise = limits.payloadField ? ` (${limits.payloadField})` : '';
    return `the payload is ${payload.length} bytes; ${cloud} accepts at most ${limits.maxPayloadBytes}${raise}`;
  }
  return undefined;
}

/**
 * A final refusal for a message the cloud would not take: the dispatcher drops it (counted in
 * `tether_rejected_total`, logged with this message) instead of retrying it forever.
 */
export function overLimit(remote: string, topic: string, problem: string): PublishOutcome {
  return {
    status: 'rejected',
    error: new TetherError('TETHER_ERR_PUBLISH', `${remote}: not sent to ${topic}: ${problem}`),
  };
}
