import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { readMetric } from '../test/helpers/sequence.js';
import { BACKLOG_HEADER, type BacklogRow, formatBacklog, measureBacklog } from './backlog.js';
import type { GenResult } from './load-generator.js';
import { cpuMicros, peakRssMb, rssSplitMb, runScript, startSink } from './processes.js';
import { RIG_LABELS, type Rig, type RigKind, startRig } from './rigs.js';

/**
 * `npm run bench`: Tether against Mosquitto's own bridge, same generator and sink, in one run.
 * For QoS 0 and 1 and payloads of 64 B and 1 KiB: delivered msg/s at full speed (median of 3,
 * after one uncounted full-speed run), p50/p99 latency, CPU and RSS at a fixed 5,000 msg/s, CPU and
 * peak RSS at full speed, the share Tether wrote to disk, lost and duplicated; then the cloud
 * offline: a backlog of 1 KiB QoS 1 messages at the edge and its drain (bench/backlog.ts). Writes
 * bench/results.md. Options: TETHER_BENCH_QUICK=1 (fewer messages), TETHER_BENCH_ONLY=tether-hub,
 * mosquitto-bridge (some rigs), TETHER_BENCH_QOS=0, TETHER_BENCH_SIZES=64, TETHER_BENCH_PROF=DIR
 * (agent CPU profiles), TETHER_BENCH_NODE_ARGS (the agent's node flags; default
 * --max-semi-space-size=4), TETHER_BENCH_BACKLOG=0 (skip the cloud-offline backlog) or =only (just it).
 */
const QUICK = process.env.TETHER_BENCH_QUICK === '1';
const COUNT = { 0: QUICK ? 30_000 : 200_000, 1: QUICK ? 20_000 : 100_000 } as const;
const QOS_LIST = (process.env.TETHER_BENCH_QOS?.split(',').map(Number) ?? [0, 1]) as Array<0 | 1>;
const SIZES = process.env.TETHER_BENCH_SIZES?.split(',').map(Number) ?? [64, 1024];
const LATENCY_RATE = 5_000;
const LATENCY_COUNT = QUICK ? 5_000 : 15_000;
const RUNS = QUICK ? 1 : 3;
const BACKLOG = process.env.TETHER_BENCH_BACKLOG ?? '1';
const BACKLOG_COUNT = QUICK ? 30_000 : 200_000;
const KINDS = (process.env.TETHER_BENCH_ONLY?.split(',') ?? [
  'direct',
  'mosquitto-bridge',
  'tether-bridge',
  'tether-hub',
]) as RigKind[];

interface Row {
  kind: RigKind;
  qos: 0 | 1;
  size: number;
  rate: number;
  p50us: number;
  p99us: number;
  cpuUsPerMsg: number | undefined;
  /** Bridge-side CPU per message at the fixed 5,000 msg/s. */
  cpuUsPerMsg5k: number | undefined;
  /** Peak RSS during the 5,000 msg/s run alone, and over the whole set (full speed included). */
  rss5kMb: number | undefined;
  /** At the end of the 5,000 msg/s run: private and file-backed resident memory. */
  rss5kSplit: { privateMb: number; fileMb: number } | undefined;
  rssMb: number | undefined;
  /** Tether: share of the full-speed messages written to the durable queue (the rest were delivered before their commit). */
  writtenPct: number | undefined;
  lost: number;
  duplicates: number;
}

async function pass(rig: Rig, qos: 0 | 1, size: number, count: number, rate: number) {
  const sink = startSink({ host: '127.0.0.1', port: rig.sinkPort, filter: 'bench/#', qos, count, idleMs: 3_000 });
  await sink.ready;
  const cpuBefore = rig.bridgePid ? cpuMicros(rig.bridgePid) : 0;
  const gen = runScript<GenResult>('./load-generator.ts', {
    host: '127.0.0.1',
    port: rig.publishPort,
    topic: 'bench/load',
    count,
    qos,
    size,
    rate,
    window: 1_000,
  });
  const [g, s] = await Promise.all([gen.result, sink.result]);
  const cpuUs = rig.bridgePid ? cpuMicros(rig.bridgePid) - cpuBefore : undefined;
  const seconds = Number(BigInt(s.lastNs) - BigInt(g.startNs)) / 1e9;
  return {
    rate: s.distinct / seconds,
    sink: s,
    cpuUsPerMsg: cpuUs === undefined ? undefined : cpuUs / Math.max(1, s.distinct),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function measure(
  kind: RigKind,
  qos: 0 | 1,
  size: number,
  durability: 'process' | 'memory' = 'process',
): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-bench-'));
  const rig = await startRig(kind, qos, dir, { durability });
  try {
    // warm-up at the latency rate (full speed would grow the heap before the 5,000 msg/s RSS is
    // read): connections up, JIT warm; retried while a bridge is still connecting
    for (let attempt = 0; attempt < 10; attempt++) {
      const warm = await pass(rig, qos, size, 2_000, LATENCY_RATE);
      if (warm.sink.distinct > 1_000) break;
    }
    // the fixed rate first: its peak RSS is that of a steady 5,000 msg/s, before any full-speed backlog
    const latency = await pass(rig, qos, size, LATENCY_COUNT, LATENCY_RATE);
    const rss5kMb = rig.bridgePid ? peakRssMb(rig.bridgePid) : undefined;
    const rss5kSplit = rig.bridgePid ? rssSplitMb(rig.bridgePid) : undefined;
    const rates: number[] = [];
    const cpu: number[] = [];
    let lost = 0;
    let duplicates = 0;
    // one full-speed run not counted: the first one after start-up pays for JIT-compiling the
    // backlog paths and for growing the queue file (measured on (c) QoS 1: 23, 18, 16 µs/msg)
    const warmFull = await pass(rig, qos, size, COUNT[qos] / 2, 0);
    lost += warmFull.sink.lost;
    duplicates += warmFull.sink.duplicates;
    const writesBefore = rig.metricsUrl ? await readMetric(rig.metricsUrl, 'tether_store_writes_total') : 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await pass(rig, qos, size, COUNT[qos], 0);
      rates.push(r.rate);
      if (r.cpuUsPerMsg !== undefined) cpu.push(r.cpuUsPerMsg);
      lost += r.sink.lost;
      duplicates += r.sink.duplicates;
    }
    const written = rig.metricsUrl
      ? (await readMetric(rig.metricsUrl, 'tether_store_writes_total')) - writesBefore
      : undefined;
    const rssMb = rig.bridgePid ? peakRssMb(rig.bridgePid) : undefined;
    lost += latency.sink.lost;
    duplicates += latency.sink.duplicates;
    const row: Row = {
      kind,
      qos,
      size,
      rate: median(rates),
      p50us: latency.sink.p50us,
      p99us: latency.sink.p99us,
      cpuUsPerMsg: cpu.length > 0 ? median(cpu) : undefined,
      cpuUsPerMsg5k: latency.cpuUsPerMsg,
      rss5kMb,
      rss5kSplit,
      rssMb,
      writtenPct: written === undefined || durability === 'memory' ? undefined : (100 * written) / (COUNT[qos] * RUNS),
      lost,
      duplicates,
    };
    console.log(format(row, undefined));
    return row;
  } finally {
    await rig.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function format(row: Row, reference: Row | undefined): string {
  const ratio = reference && reference !== row ? ` (${(row.rate / reference.rate).toFixed(2)}×)` : '';
  return [
    RIG_LABELS[row.kind],
    `QoS ${row.qos}`,
    row.size === 64 ? '64 B' : '1 KiB',
    `${Math.round(row.rate).toLocaleString('en-US')} msg/s${ratio}`,
    `${row.p50us.toFixed(0)} / ${row.p99us.toFixed(0)} µs`,
    row.cpuUsPerMsg === undefined ? '–' : row.cpuUsPerMsg.toFixed(1),
    row.cpuUsPerMsg5k === undefined ? '–' : row.cpuUsPerMsg5k.toFixed(1),
    row.rss5kMb === undefined
      ? '–'
      : `${row.rss5kMb.toFixed(0)}${row.rss5kSplit ? ` (${row.rss5kSplit.privateMb.toFixed(0)} + ${row.rss5kSplit.fileMb.toFixed(0)})` : ''}`,
    row.rssMb === undefined ? '–' : row.rssMb.toFixed(0),
    row.writtenPct === undefined ? '–' : `${row.writtenPct.toFixed(0)} %`,
    String(row.lost),
    String(row.duplicates),
  ].join(' | ');
}

const rows: Row[] = [];
for (const qos of BACKLOG === 'only' ? [] : QOS_LIST) {
  for (const size of SIZES) {
    for (const kind of KINDS) rows.push(await measure(kind, qos, size));
  }
}

// issue 3: QoS 1 through the agent with the durable queue on (process) and off (memory)
const durableRows: Array<[string, Row]> = [];
if (BACKLOG !== 'only' && (!process.env.TETHER_BENCH_ONLY || KINDS.includes('tether-bridge'))) {
  for (const size of SIZES) {
    const on =
      rows.find((r) => r.kind === 'tether-bridge' && r.qos === 1 && r.size === size) ??
      (await measure('tether-bridge', 1, size));
    const off = await measure('tether-bridge', 1, size, 'memory');
    durableRows.push(['on (durability: process)', on], ['off (durability: memory)', off]);
  }
}
const durableTable = durableRows
  .map(
    ([label, r]) =>
      `| ${r.size === 64 ? '64 B' : '1 KiB'} | ${label} | ${Math.round(r.rate).toLocaleString('en-US')} msg/s | ${r.cpuUsPerMsg?.toFixed(1) ?? '–'} | ${r.rssMb?.toFixed(0) ?? '–'} | ${r.lost} |`,
  )
  .join('\n');

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
    const row = await measureBacklog(kind, 1024, BACKLOG_COUNT, queueMemory);
    console.log(formatBacklog(row));
    backlogRows.push(row);
  }
}
const backlogSection = backlogRows.length
  ? `\n\nThe cloud offline (the bridge's link to B cut) while ${BACKLOG_COUNT.toLocaleString('en-US')} QoS 1 messages of 1 KiB arrive at full speed, then the link restored:\n\n${BACKLOG_HEADER}\n${backlogRows.map(formatBacklog).join('\n')}`
  : '';

const header =
  '| setup | QoS | payload | delivered (× of b) | p50 / p99 at 5,000 msg/s | CPU µs/msg, full speed | CPU µs/msg at 5,000 msg/s | RSS MB at 5,000 msg/s (private + file-backed at its end) | peak RSS MB, full speed | written to disk | lost | dup |\n|---|---|---|---|---|---|---|---|---|---|---|---|';
const table = rows
  .map((row) => {
    const reference = rows.find((r) => r.kind === 'mosquitto-bridge' && r.qos === row.qos && r.size === row.size);
    return `| ${format(row, reference)} |`;
  })
  .join('\n');
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
  `- messages per throughput run: ${COUNT[0].toLocaleString('en-US')} (QoS 0), ${COUNT[1].toLocaleString('en-US')} (QoS 1); median of ${RUNS}; latency: ${LATENCY_COUNT.toLocaleString('en-US')} messages at ${LATENCY_RATE.toLocaleString('en-US')} msg/s`,
  '- brokers: `max_inflight_messages 1000`, `max_queued_messages 1000000`, `set_tcp_nodelay true`; Tether: `queue.durability: process` (durable queue on), `queue.inflight: 1000`',
];
const durableSection = durableRows.length
  ? `\n\nQoS 1 through the Tether agent as a bridge (c), durable queue on and off:\n\n| payload | durable queue | delivered | agent CPU µs/msg | peak RSS MB | lost |\n|---|---|---|---|---|---|\n${durableTable}`
  : '';
console.log(`\n${header}\n${table}${durableSection}${backlogSection}`);
await writeFile(
  new URL('./results.md', import.meta.url),
  `<!-- written by npm run bench -->\n${facts.join('\n')}\n\n${header}\n${table}${durableSection}${backlogSection}\n`,
);
console.log('\nwritten to bench/results.md (copy into BENCHMARKS.md with the notes)');
