import { mergeSubscriptions } from '../transport/endpoint-subscriptions.js';
import { limitProblem, type PublishLimits } from './publish-limits.js';

/**
 * AWS IoT Core message broker quotas (https://docs.aws.amazon.com/general/latest/gr/iot-core.html,
 * "Message broker and protocol limits"): a topic is at most 256 bytes of UTF-8 with at most
 * 7 slashes (8 levels; the `$aws/rules/<rule>/` prefix of Basic Ingest does not count); a
 * PUBLISH payload is at most 128 KB, larger ones are refused. These are hard limits.
 */
export const AWS_IOT_LIMITS = {
  cloud: 'AWS IoT Core',
  maxTopicBytes: 256,
  maxTopicLevels: 8,
  maxPayloadBytes: 128 * 1024,
} as const satisfies PublishLimits;

/**
 * Reserved topics a device may publish to (https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html).
 * "Topics that begin with a dollar sign ($) are reserved for use by AWS IoT. You can subscribe and
 * publish to these reserved topics as they allow; however, you can't create new topics that begin
 * with a dollar sign. Unsupported publish or subscribe operations to reserved topics can result in
 * a terminated connection." So a publish anywhere else under `$` is refused here, before it costs
 * the connection (and, retried, every reconnect after it).
 */
const PUBLISHABLE_RESERVED: readonly RegExp[] = [
  /^\$aws\/rules\/[^/]+\/.+$/, // Basic Ingest
  /^\$aws\/things\/[^/]+\/shadow(\/name\/[^/]+)?\/(get|update|delete)$/,
  /^\$aws\/things\/[^/]+\/jobs\/(get|start-next|[^/]+\/get|[^/]+\/update)$/,
  /^\$aws\/things\/[^/]+\/defender\/metrics\/(json|cbor)$/,
  /^\$aws\/certificates\/create(-from-csr)?\/(json|cbor)$/,
  /^\$aws\/provisioning-templates\/[^/]+\/provision\/(json|cbor)$/,
];

const BASIC_INGEST = /^\$aws\/rules\/[^/]+\//;

/** The first AWS IoT limit the message breaks, as a sentence; undefined when AWS IoT takes it. */
export function awsIotLimitProblem(topic: string, payload: Buffer): string | undefined {
  if (topic.startsWith('$')) {
    if (!topic.startsWith('$aws/')) {
      return 'topics beginning with $ are reserved by AWS IoT Core; only its own $aws/ topics can be used';
    }
    if (!PUBLISHABLE_RESERVED.some((pattern) => pattern.test(topic))) {
      return 'it is a reserved $aws/ topic that devices may not publish to (AWS IoT Core ends the connection of a client that does)';
    }
  }
  // Basic Ingest's `$aws/rules/<rule>/` adds 3 slashes that the 7-slash quota does not count
  return limitProblem(AWS_IOT_LIMITS, topic, payload, BASIC_INGEST.test(topic) ? 3 : 0);
}

/** AWS IoT Core quota: at most 8 subscriptions in one SUBSCRIBE. */
export const SUBSCRIPTIONS_PER_REQUEST = 8;

/**
 * The filters to subscribe (each once at the highest QoS asked, capped by `maxqos` and AWS IoT's
 * QoS 1: mergeSubscriptions) in SUBSCRIBE-sized batches.
 */
export function subscribeBatches(
  subs: readonly { readonly filter: string; readonly qos: number }[],
  maxqos: number,
): Array<Array<[string, 0 | 1]>> {
  const all = mergeSubscriptions(subs, Math.min(maxqos, 1)) as Array<[string, 0 | 1]>;
  const batches: Array<Array<[string, 0 | 1]>> = [];
  for (let i = 0; i < all.length; i += SUBSCRIPTIONS_PER_REQUEST)
    batches.push(all.slice(i, i + SUBSCRIPTIONS_PER_REQUEST));
  return batches;
}
