/**
 * Topic Name and Topic Filter rules (section 4.7; 5.0 section 4.8.2 for shared subscriptions) on
 * JS strings: the decoders use them after the wire checks, the router can use them on names it
 * builds. Each returns why the text is refused, or undefined when it is fine.
 */

const SHARE_PREFIX = '$share/';
const MAX_STRING_BYTES = 65_535; // UTF-8 Encoded String: two-byte length (section 1.5.4)
/** In a `u` regex a surrogate pair is one code point, so this matches only a lone surrogate. */
const LONE_SURROGATE = /\p{Cs}/u;
const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;

export interface SharedSubscription {
  shareName: string;
  /** The filter after `$share/{ShareName}/`. */
  filter: string;
}

/** Problems every MQTT string shares [MQTT-1.5.4-1], [MQTT-1.5.4-2]. */
export function stringProblem(text: string): string | undefined {
  if (text.includes('\0')) return 'contains U+0000 [MQTT-1.5.4-2]';
  if (LONE_SURROGATE.test(text)) return 'contains a lone surrogate, not encodable as UTF-8 [MQTT-1.5.4-1]';
  if (text.length > MAX_STRING_BYTES / 3 && Buffer.byteLength(text) > MAX_STRING_BYTES) {
    return 'longer than 65535 bytes of UTF-8';
  }
  return undefined;
}

/** A Topic Name, as in PUBLISH or a Will: not empty [MQTT-4.7.3-1], no wildcard [MQTT-3.3.2-2], [MQTT-4.7.0-1]. */
export function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty Topic Name [MQTT-4.7.3-1]';
  if (name.includes('+') || name.includes('#')) return 'wildcard in a Topic Name [MQTT-3.3.2-2]';
  return stringProblem(name);
}

/**
 * A Topic Filter, as in SUBSCRIBE or UNSUBSCRIBE. Clause ids are 5.0's, 3.1.1's in brackets
 * after: not empty [MQTT-4.7.3-1]; `#` alone in the last level [MQTT-4.7.1-1] (3.1.1
 * [MQTT-4.7.1-2]); `+` alone in its level [MQTT-4.7.1-2] (3.1.1 [MQTT-4.7.1-3]); and a
 * `$share/` filter well-formed [MQTT-4.8.2-1], [MQTT-4.8.2-2]. `$share/` is checked on 3.1.1 too:
 * brokers commonly offer shared subscriptions there, and `$` topics are the server's (4.7.2).
 */
export function topicFilterProblem(filter: string, checkString = true): string | undefined {
  if (filter.startsWith(SHARE_PREFIX)) {
    const shared = sharedProblem(filter);
    if (shared !== undefined) return shared;
  } else {
    const levels = levelsProblem(filter);
    if (levels !== undefined) return levels;
  }
  // the decoders pass false: readUtf8 already checked the bytes
  return checkString ? stringProblem(filter) : undefined;
}

/** `$share/{ShareName}/{filter}` split in two, or undefined when `filter` is not a valid shared subscription. */
export function parseSharedSubscription(filter: string): SharedSubscription | undefined {
  if (!filter.startsWith(SHARE_PREFIX) || sharedProblem(filter) !== undefined) return undefined;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  return { shareName: filter.slice(SHARE_PREFIX.length, slash), filter: filter.slice(slash + 1) };
}

/** Whether `filter` starts like a shared subscription (it may still be invalid). */
export function isSharedFilter(filter: string): boolean {
  return filter.startsWith(SHARE_PREFIX);
}

function sharedProblem(filter: string): string | undefined {
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  const shareName = filter.slice(SHARE_PREFIX.length, slash < 0 ? filter.length : slash);
  if (shareName.length === 0) return 'shared subscription with an empty ShareName [MQTT-4.8.2-1]';
  if (shareName.includes('+') || shareName.includes('#')) {
    return 'ShareName contains a wildcard [MQTT-4.8.2-2]';
  }
  if (slash < 0) return 'ShareName not followed by "/" and a Topic Filter [MQTT-4.8.2-2]';
  const rest = filter.slice(slash + 1);
  if (rest.length === 0) return 'shared subscription without a Topic Filter [MQTT-4.8.2-2]';
  return levelsProblem(rest);
}

/** One pass over the characters; a wildcard must be a whole level, `#` also the last one. */
function levelsProblem(filter: string): string | undefined {
  const n = filter.length;
  if (n === 0) return 'empty Topic Filter [MQTT-4.7.3-1]';
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c !== PLUS && c !== HASH) continue;
    const atLevelStart = i === 0 || filter.charCodeAt(i - 1) === SLASH;
    if (c === HASH) {
      if (!atLevelStart || i !== n - 1) return '"#" not alone in the last level [MQTT-4.7.1-1]';
    } else if (!atLevelStart || (i + 1 < n && filter.charCodeAt(i + 1) !== SLASH)) {
      return '"+" not alone in its level [MQTT-4.7.1-2]';
    }
  }
  return undefined;
}
