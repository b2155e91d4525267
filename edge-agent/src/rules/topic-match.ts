/**
 * MQTT topic filter matching, exactly as the spec says:
 * - `+` matches one whole level, `#` the parent level and everything below [MQTT-4.7.1-2];
 * - a filter starting with a wildcard does not match topics starting with `$` [MQTT-4.7.2-1].
 * Pure; called on the hot path, so it walks the strings without allocating.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  if (
    topic.charCodeAt(0) === 36 /* $ */ &&
    (filter.charCodeAt(0) === 43 /* + */ || filter.charCodeAt(0) === 35) /* # */
  ) {
    return false;
  }
  let f = 0;
  let t = 0;
  const fl = filter.length;
  const tl = topic.length;
  while (f < fl) {
    const fc = filter.charCodeAt(f);
    if (fc === 35 /* # */) return true; // matches the parent level too: "a/#" matches "a"
    if (fc === 43 /* + */) {
      // skip one topic level
      while (t < tl && topic.charCodeAt(t) !== 47 /* / */) t++;
      f++;
    } else {
      // compare one literal level
      while (f < fl && t < tl) {
        const c = filter.charCodeAt(f);
        if (c === 47) break;
        if (c !== topic.charCodeAt(t)) return false;
        f++;
        t++;
      }
      if (f < fl && filter.charCodeAt(f) !== 47) return false;
      if (t < tl && topic.charCodeAt(t) !== 47) return false;
    }
    // both at a level separator or at the end
    if (f === fl) return t === tl;
    // filter has a '/', so the topic must too — except "a/#" against "a"
    if (t === tl) return filter.charCodeAt(f + 1) === 35 && f + 2 === fl;
    f++;
    t++;
    if (f === fl) return t === tl; // filter ended with '/' (empty last level)
  }
  return t === tl;
}
