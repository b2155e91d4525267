import { topicFilterProblem } from '@tether/shared';
import type { SubscriptionOptions } from './subscription.js';

const SHARE_PREFIX = '$share/';

export interface ParsedFilter {
  /** The share name, or undefined for a non-shared subscription. */
  readonly group: string | undefined;
  /** The filter matched against topics. */
  readonly topicFilter: string;
}

/** Splits `$share/{group}/{filter}` (MQTT 5 section 4.8.2); anything else is a non-shared filter. */
export function parseSubscriptionFilter(filter: string): ParsedFilter {
  if (!filter.startsWith(SHARE_PREFIX)) return { group: undefined, topicFilter: filter };
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  if (slash < 0) return { group: filter.slice(SHARE_PREFIX.length), topicFilter: '' };
  return { group: filter.slice(SHARE_PREFIX.length, slash), topicFilter: filter.slice(slash + 1) };
}

/**
 * Why a SUBSCRIBE entry cannot be held, or undefined. The hub answers these in the SUBACK
 * (0x8F Topic Filter invalid, or a protocol error for No Local on a shared subscription);
 * SubscriptionIndex.add throws on them, since holding one would break matching.
 */
export function subscriptionProblem(filter: string, options: SubscriptionOptions): string | undefined {
  const { group, topicFilter } = parseSubscriptionFilter(filter);
  if (group !== undefined) {
    // [MQTT-4.8.2-1] a share name at least one character long
    if (group.length === 0) return `empty share name in "${filter}"`;
    // [MQTT-4.8.2-2] no '/', '+' or '#' in the share name, and a topic filter after it (an
    // empty one is refused by topicFilterProblem below)
    if (group.includes('+') || group.includes('#')) return `'+' or '#' in the share name of "${filter}"`;
    // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error
    if (options.noLocal) return `No Local on the shared subscription "${filter}"`;
  }
  return topicFilterProblem(topicFilter);
}
