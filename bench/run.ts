import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { type BacklogRow, measureBacklog } from './backlog.js';
import { type MeasureOptions, measure, type Row } from './measure.js';
import {
  BACKLOG_HEADER,
  directPathFlags,
  durableTable,
  fixedRateTable,
  formatBacklog,
  fullSpeedTable,
  rssTable,
} from './report.js';
import type { RigKind } from './rigs.js';

/**
 * `npm run bench`: Tether against Mosquitto's own bridge, same load tools (bench/tools/mqtt-load.c,
 * C on plain sockets), in one run. For QoS 0 and 1 and payloads of 64 B and 1 KiB, per setup: CPU
 * per message (the bridge process and the whole edge site) and p50/p99 latency at a steady 1,000
 * and 5,000 msg/s (the headline: what a site pays at the rates it runs); then delivered msg/s at
 * full speed (median of 3 after one uncounted run) with the direct path (a) as the check that the
 * load tools are not the limit; RSS; the durable queue on and off; then the cloud offline: a
 * backlog of 1 KiB QoS 1 messages at the edge and its drain (bench/backlog.ts). Writes
 * bench/results.md. Options: TETHER_BENCH_QUICK=1 (fewer messages), TETHER_BENCH_ONLY=tether-hub,
 * mosquitto-bridge (some rigs), TETHER_BENCH_QOS=0, TETHER_BENCH_SIZES=64, TETHER_BENCH_CONNS
 * (publisher connections, default 4), TETHER_BENCH_PROF=DIR (agent CPU profiles),
 * TETHER_BENCH_NODE_ARGS (the agent's node flags; default --max-semi-space-size=4),
 * TETHER_BENCH_BACKLOG=0 (skip the cloud-offline backlog) or =only (just it),
 * TETHER_BENCH_COMMITDELAY (the Tether rigs' queue.commitdelay, e.g. 10ms; default Tether's own),
 * TETHER_BENCH_READPAUSE (both agent connections' readpause, e.g. 0ms = no read pacing),
 * TETHER_BENCH_WARMUP (messages at 5,000 msg/s before the fixed rates; default 25,000),
 * TETHER_LOAD_LATENCIES=FILE (the sink writes every latency, in arrival order, to FILE.PID).
 * Rig node-floor-bridge (not in the default set) is the Node floor bridge, bench/node-floor-bridge.mjs.
 */
const QUICK = process.env.TETHER_BENCH_QUICK === '1';
const QOS_LIST = (process.env.TETHER_BENCH_QOS?.split(',').map(Number) ?? [0, 1]) as Array<0 | 1>;
const SIZES = process.env.TETHER_BENCH_SIZES?.split(',').map(Number) ?? [64, 1024];
const CONNS = Number(process.env.TETHER_BENCH_CONNS ?? 4);
const FIXED_RATES = [
  { rate: 1_000, count: QUICK ? 3_000 : 10_000 },
  { rate: 5_000, count: QUICK ? 10_000 : 25_000 },
];
const FULL_COUNT = { 0: QUICK ? 50_000 : 300_000, 1: QUICK ? 30_000 : 150_000 } as const;
const RUNS = QUICK ? 1 : 3;
const BACKLOG = process.env.TETHER_BENCH_BACKLOG ?? '1';
const BACKLOG_COUNT = QUICK ? 30_000 : 200_000;
const KINDS = (process.env.TETHER_BENCH_ONLY?.split(',') ?? [
  'direct',
  'mosquitto-bridge',
  'tether-bridge',
  'tether-hub',
]) as RigKind[];

const options = (qos: 0 | 1, durability: 'process' | 'memory' = 'process'): MeasureOptions => ({
  fixedRates: FIXED_RATES,
  fullCount: FULL_COUNT[qos],
  fullRuns: RUNS,
  conns: CONNS,
  durability,
});

const progress = (row: Row) =>
  console.log(
    `${row.kind} QoS ${row.qos} ${row.size} B: ${row.fixed.map((p) => `${p.cpu?.toFixed(1) ?? '–'} µs/msg ${p.p50us.toFixed(0)}/${p.p99us.toFixed(0)} µs`).join(', ')}; full ${Math.round(row.full.rate)} msg/s, ${row.full.cpu?.toFixed(1) ?? '–'} µs/msg; lost ${row.lost}, dup ${row.duplicates}`,
  );

const rows: Row[] = [];
for (const qos of BACKLOG === 'only' ? [] : QOS_LIST) {
  for (const size of SIZES) {
    for (const kind of KINDS) {
      const row = await measure(kind, qos, size, options(qos));
      progress(row);
      rows.push(row);
    }
  }
}

// QoS 1 through the agent with the durable queue on (process) and off (memory)
const durableRows: Array<[string, Row]> = [];
if (BACKLOG !== 'only' && QOS_LIST.includes(1) && KINDS.includes('tether-bridge')) {
  for (const size of SIZES) {
    const on = rows.find((r) => r.kind === 'tether-bridge' && r.qos === 1 && r.size === size);
    const off = await measure('tether-bridge', 1, size, options(1, 'memory'));
    progress(off);
    if (on) durableRows.push(['on (durability: process)', on]);
    durableRows.push(['off (durability: memory)', off]);
  }
}

// the cloud offline: a backlog of 1 KiB QoS 1 messages at the edge, then its drain
const backlogRows: BacklogRow[] = [];
if (BACKLOG !== '0') {
  const runs: Array<[RigKind, number | undefined]> = [
    ['mosquitto-bridge', undefined],
    ['tether-bridge', undefined],
    ['tether-bridge', 1_000],
    ['tether-hub', undefined],
  ];
  for (const [kind, queueMemory] of runs) {
    if (!KINDS.includes(kind)) continue;
    const row = await measureBacklog(kind, 1024, BACKLOG_COUNT, CONNS, queueMemory);
    console.log(formatBacklog(row));
    backlogRows.push(row);
  }
}

const mosquittoVersion = (() => {
  try {
    return execFileSync('mosquitto', ['-h'], { encoding: 'utf8' }).split('\n')[0];
  } catch (error) {
    return ((error as { stdout?: string }).stdout ?? '').split('\n')[0] ?? 'mosquitto';
  }
})();
const facts = [
  `- date: ${new Date().toISOString()}`,
  `- machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB; Node ${process.version}; ${mosquittoVersion}`,
  `- load tools: bench/tools/mqtt-load.c; ${CONNS} publisher connections, QoS 1 window 1,000 in all; one sink connection`,
  `- fixed rates: ${FIXED_RATES.map((f) => `${f.count.toLocaleString('en-US')} messages at ${f.rate.toLocaleString('en-US')} msg/s`).join(', ')}; full speed: ${FULL_COUNT[0].toLocaleString('en-US')} (QoS 0) / ${FULL_COUNT[1].toLocaleString('en-US')} (QoS 1) messages, one uncounted run then the median of ${RUNS}`,
  '- brokers: `max_inflight_messages 1000`, `max_queued_messages 1000000`, `set_tcp_nodelay true`; Tether: `queue.durability: process` (durable queue on), `queue.inflight: 1000`',
];
const sections: string[] = [facts.join('\n')];
if (rows.length > 0) {
  sections.push(
    '## At the rates a site runs',
    ...FIXED_RATES.map((f, i) => fixedRateTable(rows, i, f.rate)),
    '## Full speed',
    fullSpeedTable(rows),
    directPathFlags(rows)
      .map((f) => `- ${f}`)
      .join('\n'),
    '## Memory',
    rssTable(rows),
  );
}
if (durableRows.length > 0) sections.push('## Durable queue on and off, (c) QoS 1', durableTable(durableRows));
if (backlogRows.length > 0) {
  sections.push(
    '## The cloud offline',
    `${BACKLOG_COUNT.toLocaleString('en-US')} QoS 1 messages of 1 KiB arrive at full speed while the bridge's link to B is cut, then the link is restored:`,
    `${BACKLOG_HEADER}\n${backlogRows.map(formatBacklog).join('\n')}`,
  );
}
const text = sections.join('\n\n');
console.log(`\n${text}`);
await writeFile(new URL('./results.md', import.meta.url), `<!-- written by npm run bench -->\n${text}\n`);
console.log('\nwritten to bench/results.md (copy into BENCHMARKS.md with the notes)');
