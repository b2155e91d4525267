import { createRequire } from 'node:module';
import { RetainedIndex } from '../edge-agent/src/hub/routing/retained-index.js';
import {
  type Delivery,
  mergeDeliveries,
  type Subscription,
  type SubscriptionOptions,
} from '../edge-agent/src/hub/routing/subscription.js';
import { SubscriptionIndex } from '../edge-agent/src/hub/routing/subscription-index.js';
import { TopicTrie } from '../edge-agent/src/hub/routing/topic-trie.js';

/**
 * `npx tsx bench/hub-routing.ts`: the embedded hub's routing indexes, ns per operation.
 * Subscriptions: our SubscriptionIndex (trie + per-topic cache, and with the cache off), our
 * TopicTrie alone (the matching engine), and qlobber 8 (what aedes uses) as the engine: Qlobber
 * with one value per filter (a drop-in for TopicTrie), QlobberDedup with one value per
 * subscription plus the per-client merge the index does (full work, as an index on qlobber
 * would), and aedes' own QlobberSub. Scenarios: (a) 1 subscriber on bench/#, (b) 50 on one
 * filter, (c) 10,000 clients on devices/<id>/cmd plus wildcard ones, one topic or all 10,000
 * in turn, (d) add + remove of one subscription in (c)'s index. Then RetainedIndex.matching with
 * 10,000 retained topics. Median of 5 runs after a warm-up; writes bench/hub-routing-results.md.
 * Option: TETHER_BENCH_QUICK=1 (fewer iterations).
 */
const QUICK = process.env.TETHER_BENCH_QUICK === '1';
const RUNS = 5;

interface QlobberLike<V> {
  add(topic: string, value: V): unknown;
  remove(topic: string, value?: V): unknown;
  match(topic: string): Iterable<V>;
}
type QlobberCtor = new (options: object) => QlobberLike<unknown>;
const require = createRequire(import.meta.url);
const qlobber = require('qlobber') as { Qlobber: QlobberCtor; QlobberDedup: QlobberCtor };
const QlobberSub = require('qlobber/aedes/qlobber-sub') as QlobberCtor;
const QOPTS = { separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true };

const opts = (over: Partial<SubscriptionOptions> = {}): SubscriptionOptions => ({
  qos: 1,
  noLocal: false,
  retainAsPublished: false,
  retainHandling: 0,
  ...over,
});

let sink = 0;
/**
 * ns per call of each row's `fn` over `n` calls: the median of RUNS runs after one uncounted
 * run, the rows taking turns within each run so that load from elsewhere on the machine falls
 * on all of them alike.
 */
function compare(n: number, rows: ReadonlyArray<readonly [string, (i: number) => void]>): Map<string, number> {
  const runs = new Map<string, number[]>(rows.map(([name]) => [name, []]));
  for (let r = 0; r <= RUNS; r++) {
    for (const [name, fn] of rows) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn(i);
      const ns = Number(process.hrtime.bigint() - start) / n;
      if (r > 0) runs.get(name)?.push(ns);
    }
  }
  const out = new Map<string, number>();
  for (const [name, list] of runs) out.set(name, list.sort((x, y) => x - y)[Math.floor(list.length / 2)] as number);
  return out;
}

type Sub = readonly [clientId: string, filter: string];

/** The contenders, each built from the same subscriptions and asked the same topics. */
function contenders(subs: readonly Sub[]): Record<string, (topic: string) => number> {
  const cached = new SubscriptionIndex();
  const uncached = new SubscriptionIndex({ cacheTopics: 0 });
  const trie = new TopicTrie<Map<string, Sub>>();
  const perFilter = new qlobber.Qlobber(QOPTS) as QlobberLike<Map<string, Sub>>;
  const dedup = new qlobber.QlobberDedup(QOPTS) as QlobberLike<Subscription>;
  const aedes = new QlobberSub(QOPTS) as QlobberLike<{ clientId: string; topic?: string; qos: number }>;
  const entries = new Map<string, Map<string, Sub>>();
  for (const s of subs) {
    const [clientId, filter] = s;
    cached.add(clientId, filter, opts());
    uncached.add(clientId, filter, opts());
    const entry = entries.get(filter) ?? new Map<string, Sub>();
    if (!entries.has(filter)) {
      entries.set(filter, entry);
      trie.set(filter, entry);
      perFilter.add(filter, entry);
    }
    entry.set(clientId, s);
    dedup.add(filter, { clientId, filter, topicFilter: filter, group: undefined, options: opts() });
    aedes.add(filter, { clientId, topic: filter, qos: 1 });
  }
  const out: Map<string, Sub>[] = [];
  return {
    'SubscriptionIndex (cached)': (t) => cached.match(t).length,
    'SubscriptionIndex (no cache)': (t) => uncached.match(t).length,
    'TopicTrie alone': (t) => {
      out.length = 0;
      trie.collect(t, out);
      return out.length;
    },
    'Qlobber, a value per filter': (t) => (perFilter.match(t) as unknown[]).length,
    'QlobberDedup + merge per client': (t) => mergeByClient(dedup.match(t)).length,
    'QlobberSub (aedes)': (t) => (aedes.match(t) as unknown[]).length,
  };
}

/** What SubscriptionIndex does after its trie, done on qlobber's answer. */
function mergeByClient(matched: Iterable<Subscription>): Delivery[] {
  const byClient = new Map<string, Subscription[]>();
  for (const s of matched) {
    const list = byClient.get(s.clientId);
    if (list) list.push(s);
    else byClient.set(s.clientId, [s]);
  }
  const out: Delivery[] = [];
  for (const list of byClient.values()) out.push(mergeDeliveries(list));
  return out;
}

const DEVICES = 10_000;
const deviceSubs: Sub[] = Array.from({ length: DEVICES }, (_, i) => [`dev-${i}`, `devices/${i}/cmd`] as const);
const wildcards: Sub[] = [
  ['monitor-1', 'devices/+/cmd'],
  ['monitor-2', 'devices/+/cmd'],
  ['logger', 'devices/#'],
  ['ops', 'devices/+/status'],
  ['sys', '$SYS/#'],
];
const SCENARIOS: Array<{ name: string; subs: readonly Sub[]; topics: readonly string[]; n: number }> = [
  { name: '(a) 1 subscriber on bench/#', subs: [['c', 'bench/#']], topics: ['bench/x/y'], n: 1_000_000 },
  {
    name: '(b) 50 subscribers on bench/fan/+',
    subs: Array.from({ length: 50 }, (_, i) => [`c${i}`, 'bench/fan/+'] as const),
    topics: ['bench/fan/x'],
    n: 200_000,
  },
  {
    name: '(c) 10,000 devices + 5 wildcard, one topic',
    subs: [...deviceSubs, ...wildcards],
    topics: ['devices/1234/cmd'],
    n: 500_000,
  },
  {
    name: '(c) same, the 10,000 device topics in turn',
    subs: [...deviceSubs, ...wildcards],
    topics: deviceSubs.map(([, f]) => f),
    n: 200_000,
  },
];

const lines: string[] = [];
const say = (line: string) => {
  console.log(line);
  lines.push(line);
};
say(`node ${process.version}; ns per match, median of ${RUNS} runs; matched = copies (or values) returned`);
for (const s of SCENARIOS) {
  say(`\n### ${s.name}\n\n| contender | ns/match | matched |\n|---|---:|---:|`);
  const n = QUICK ? Math.ceil(s.n / 10) : s.n;
  const len = s.topics.length;
  const rows = Object.entries(contenders(s.subs));
  const ns = compare(
    n,
    rows.map(([name, match]) => [name, (i: number) => (sink += match(s.topics[i % len] as string))] as const),
  );
  for (const [name, match] of rows) say(`| ${name} | ${ns.get(name)?.toFixed(0)} | ${match(s.topics[0] as string)} |`);
}

// (d) add + remove of one subscription in (c)'s index (SubscriptionIndex: validation and cache clear included)
say('\n### (d) add + remove one subscription, 10,005 held\n\n| contender | ns/(add+remove) |\n|---|---:|');
{
  const n = QUICK ? 20_000 : 200_000;
  const idx = new SubscriptionIndex();
  const trie = new TopicTrie<object>();
  const q = new qlobber.Qlobber(QOPTS) as QlobberLike<object>;
  const dedup = new qlobber.QlobberDedup(QOPTS) as QlobberLike<object>;
  const aedes = new QlobberSub(QOPTS) as QlobberLike<{ clientId: string; topic: string; qos: number }>;
  for (const [clientId, filter] of [...deviceSubs, ...wildcards]) {
    idx.add(clientId, filter, opts());
    trie.set(filter, {});
    q.add(filter, {});
    dedup.add(filter, { clientId });
    aedes.add(filter, { clientId, topic: filter, qos: 1 });
  }
  const filters = Array.from({ length: 1000 }, (_, i) => `devices/new-${i}/cmd`);
  const value = {};
  const rows: Array<[string, (f: string) => void]> = [
    [
      'SubscriptionIndex',
      (f) => {
        idx.add('newcomer', f, opts());
        idx.remove('newcomer', f);
      },
    ],
    [
      'TopicTrie alone',
      (f) => {
        trie.set(f, value);
        trie.delete(f);
      },
    ],
    [
      'Qlobber',
      (f) => {
        q.add(f, value);
        q.remove(f, value);
      },
    ],
    [
      'QlobberDedup',
      (f) => {
        dedup.add(f, value);
        dedup.remove(f, value);
      },
    ],
    [
      'QlobberSub (aedes)',
      (f) => {
        const v = { clientId: 'newcomer', topic: f, qos: 1 };
        aedes.add(f, v);
        aedes.remove(f, v);
      },
    ],
  ];
  const ns = compare(
    n,
    rows.map(([name, fn]) => [name, (i: number) => fn(filters[i % 1000] as string)] as const),
  );
  for (const [name] of rows) say(`| ${name} | ${ns.get(name)?.toFixed(0)} |`);
  // the one cost the cache adds: a subscription change empties it, so the next publishes miss
  const cached = new SubscriptionIndex();
  for (const [clientId, filter] of [...deviceSubs, ...wildcards]) cached.add(clientId, filter, opts());
  const uncached = new SubscriptionIndex({ cacheTopics: 0 });
  for (const [clientId, filter] of [...deviceSubs, ...wildcards]) uncached.add(clientId, filter, opts());
  const churn = (idx: SubscriptionIndex) => (i: number) => {
    idx.add('newcomer', 'x', opts());
    for (let k = 0; k < 100; k++) sink += idx.match(`devices/${k}/cmd`).length;
    idx.remove('newcomer', 'x');
    if (i < 0) sink++;
  };
  const after = compare(QUICK ? 500 : 5_000, [
    ['cached', churn(cached)],
    ['no cache', churn(uncached)],
  ]);
  say(`| add + remove + 100 matches of 100 topics, cached (all miss) | ${after.get('cached')?.toFixed(0)} |`);
  say(`| add + remove + 100 matches of 100 topics, no cache | ${after.get('no cache')?.toFixed(0)} |`);
}

say('\n### RetainedIndex.matching with 10,000 retained topics\n\n| filter | ns/lookup | matched |\n|---|---:|---:|');
{
  const retained = new RetainedIndex<{ payload: Uint8Array }>({ maxCount: 20_000, maxBytes: 64 << 20 });
  const payload = new Uint8Array(16);
  for (let i = 0; i < 100; i++) retained.set(`a/${i}/c`, { payload });
  for (let i = 0; i < 100; i++) retained.set(`$SYS/broker/${i}`, { payload });
  for (let i = 0; retained.size < DEVICES; i++) retained.set(`s/${i % 98}/${i}/t`, { payload });
  const cases: Array<[string, number]> = [
    ['#', QUICK ? 50 : 500],
    ['a/+/c', QUICK ? 5_000 : 50_000],
    ['a/7/c', QUICK ? 100_000 : 2_000_000],
    ['s/7/+/t', QUICK ? 5_000 : 50_000],
  ];
  for (const [filter, n] of cases) {
    const ns = compare(n, [[filter, () => (sink += retained.matching(filter).length)]]).get(filter) ?? 0;
    say(`| \`${filter}\` | ${ns.toFixed(0)} | ${retained.matching(filter).length} |`);
  }
  say(`\n(${retained.size} retained: a/<0..99>/c, 100 under $SYS/broker/, the rest s/<i%98>/<i>/t)`);
}

if (sink === -1) console.log('unreachable');
const { writeFile } = await import('node:fs/promises');
await writeFile(
  new URL('./hub-routing-results.md', import.meta.url),
  `<!-- written by bench/hub-routing.ts -->\n${lines.join('\n')}\n`,
);
console.log('\nwritten to bench/hub-routing-results.md');
