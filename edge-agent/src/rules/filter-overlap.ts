import { subscribedFilter } from '../transport/shared-filter.js';

/**
 * Whether some topic could match both filters. Used to decide, once at start, whether a
 * connection can receive back what it publishes (and so needs the echo guard).
 */
export function filtersOverlap(a: string, b: string): boolean {
  // `$share/GROUP/FILTER` receives what FILTER matches [MQTT-4.8.2]: a bridge publishing into its own
  // shared subscription still gets its echo guard
  const al = subscribedFilter(a).split('/');
  const bl = subscribedFilter(b).split('/');
  // [MQTT-4.7.2-1] a leading wildcard never matches a $-topic
  const aDollar = al[0]?.startsWith('$') ?? false;
  const bDollar = bl[0]?.startsWith('$') ?? false;
  if ((aDollar && isWildcard(bl[0])) || (bDollar && isWildcard(al[0]))) return false;
  const n = Math.max(al.length, bl.length);
  for (let i = 0; i < n; i++) {
    const x = al[i];
    const y = bl[i];
    if (x === '#' || y === '#') return true;
    if (x === undefined || y === undefined) {
      // "a/#" also matches "a": the shorter one may end right before a trailing '#'
      return (x === undefined && y === undefined) || al[i] === '#' || bl[i] === '#';
    }
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
  return true;
}

function isWildcard(level: string | undefined): boolean {
  return level === '+' || level === '#';
}
