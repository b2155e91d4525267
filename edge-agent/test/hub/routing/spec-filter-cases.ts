/** MQTT 5 section 4.7's examples (and a few edges of them): [filter, topic, matches]. */
export const SPEC_FILTER_CASES: ReadonlyArray<readonly [string, string, boolean]> = [
  // 4.7.1.2 multi-level wildcard
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/tennis/player1/#', 'sport/tennis/player2', false],
  ['sport/tennis/player1/#', 'sport/tennis', false],
  ['sport/#', 'sport', true],
  ['#', 'sport/tennis/player1', true],
  ['#', '/', true],
  // 4.7.1.3 single-level wildcard
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+', 'sport', true],
  ['+/tennis/#', 'sport/tennis/player1/ranking', true],
  ['+/tennis/#', 'sport/tennis', true],
  ['sport/+/player1', 'sport/tennis/player1', true],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['+/+/+', '//', true],
  // 4.7.2 topics beginning with $
  ['#', '$SYS/monitor/Clients', false],
  ['+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['+', '$SYS', false],
  ['$SYS/#', '$SYS/monitor/Clients', true],
  ['$SYS/#', '$SYS', true],
  ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
  ['$SYS/monitor/Clients', '$SYS/monitor/Clients', true],
  ['a/$SYS/+', 'a/$SYS/b', true],
  ['+/$x', 'a/$x', true],
  // literal levels are case sensitive and exact
  ['ACCOUNTS', 'Accounts', false],
  ['a/b', 'a/b/c', false],
  ['a/b/c', 'a/b', false],
];

/** A random valid filter and a random topic over a small alphabet, so they often match. */
export function randomFilter(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 4);
  const levels: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (i === n - 1 && r < 0.15) levels.push('#');
    else if (r < 0.4) levels.push('+');
    else levels.push(pick(rand, ['a', 'b', '', '$s']));
  }
  return nonEmpty(levels.join('/'));
}

export function randomTopic(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 4);
  const levels: string[] = [];
  for (let i = 0; i < n; i++) levels.push(pick(rand, ['a', 'b', '', '$s']));
  return nonEmpty(levels.join('/'));
}

/** A seeded PRNG (mulberry32) so a failing case can be replayed. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

// the empty string is neither a valid filter nor a valid topic
function nonEmpty(s: string): string {
  return s === '' ? 'a' : s;
}
