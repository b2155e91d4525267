import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMetric } from '@tether/test-helpers/sequence';
import { runGenerator, startSink } from './load-tools.js';
import { cpuMicros, peakRssMb, rssSplitMb, syscallCounts } from './processes.js';
import { type Rig, type RigKind, startRig } from './rigs.js';

/** What one pass of the generator through a setup showed. CPU figures are µs per delivered message. */
export interface Pass {
  /** Delivered msg/s: messages ÷ time from the generator's start to the sink's last message. */
  readonly rate: number;
  /** The bridge-side process: (b) Mosquitto A, (c) the agent alone, (d) the agent (hub + bridge). */
  readonly cpu: number | undefined;
  /** What the edge site pays in all: (b) A, (c) A + the agent, (d) the agent. */
  readonly siteCpu: number | undefined;
  /** The load tools' own cost, generator + sink: shows they are not the limit. */
  readonly toolsCpu: number;
  /** Read and write system calls of the bridge-side process per delivered message (processes.ts). */
  readonly readsPerMsg: number | undefined;
  readonly writesPerMsg: number | undefined;
  readonly p50us: number;
  readonly p99us: number;
  readonly lost: number;
  readonly duplicates: number;
}

export interface Row {
  readonly kind: RigKind;
  readonly qos: 0 | 1;
  readonly size: number;
  /** Fixed-rate passes, in the order of `MeasureOptions.fixedRates`. */
  readonly fixed: Pass[];
  /** Full speed: the median pass (by delivered rate) of `fullRuns`. */
  readonly full: Pass;
  /** Peak RSS up to the end of the fixed-rate passes, and the split of what was resident then. */
  readonly rssFixedMb: number | undefined;
  readonly rssFixedSplit: { privateMb: number; fileMb: number } | undefined;
  /** Peak RSS over everything, full speed included. */
  readonly rssPeakMb: number | undefined;
  /** Tether: share of the full-speed messages its durable queue wrote (the rest were acked first). */
  readonly writtenPct: number | undefined;
  /** Over every pass of the row. */
  readonly lost: number;
  readonly duplicates: number;
}

export interface MeasureOptions {
  readonly fixedRates: ReadonlyArray<{ rate: number; count: number }>;
  readonly fullCount: number;
  readonly fullRuns: number;
  /** Publisher connections of the generator. */
  readonly conns: number;
  readonly durability?: 'process' | 'memory';
}

/** Sink wake-up batch in full-speed passes (see mqtt-load.c); latency passes read every segment. */
const FULL_SPEED_BATCH_BYTES = 65_536;
const WINDOW = 1_000;

async function pass(rig: Rig, qos: 0 | 1, size: number, count: number, rate: number, conns: number): Promise<Pass> {
  const sink = startSink({
    host: '127.0.0.1',
    port: rig.sinkPort,
    filter: 'bench/#',
    qos,
    count,
    idleMs: 3_000,
    batchBytes: rate === 0 ? FULL_SPEED_BATCH_BYTES : 0,
  });
  await sink.ready;
  const bridgeBefore = rig.bridgePid ? cpuMicros(rig.bridgePid) : 0;
  const hubBefore = rig.hubPid ? cpuMicros(rig.hubPid) : 0;
  const callsBefore = rig.bridgePid ? syscallCounts(rig.bridgePid) : undefined;
  const gen = runGenerator({
    host: '127.0.0.1',
    port: rig.publishPort,
    topic: 'bench/load',
    count,
    qos,
    size,
    rate,
    window: WINDOW,
    conns,
  });
  const [g, s] = await Promise.all([gen.result, sink.result]);
  const delivered = Math.max(1, s.distinct);
  const cpu = rig.bridgePid ? (cpuMicros(rig.bridgePid) - bridgeBefore) / delivered : undefined;
  const hubCpu = rig.hubPid ? (cpuMicros(rig.hubPid) - hubBefore) / delivered : 0;
  const calls = rig.bridgePid ? syscallCounts(rig.bridgePid) : undefined;
  return {
    rate: s.distinct / (Number(BigInt(s.lastNs) - BigInt(g.startNs)) / 1e9),
    cpu,
    siteCpu: cpu === undefined ? undefined : cpu + hubCpu,
    toolsCpu: (g.cpuUs + s.cpuUs) / delivered,
    readsPerMsg: calls && callsBefore ? (calls.reads - callsBefore.reads) / delivered : undefined,
    writesPerMsg: calls && callsBefore ? (calls.writes - callsBefore.writes) / delivered : undefined,
    p50us: s.p50us,
    p99us: s.p99us,
    lost: s.lost,
    duplicates: s.duplicates,
  };
}

/**
 * Messages of the warm-up at 5,000 msg/s (TETHER_BENCH_WARMUP; 5 s). A freshly started agent is
 * still compiling its hot path: after 2,000 messages the 1,000 msg/s pass saw stalls of 2–10 ms
 * (p99 3.0–3.9 ms), after 25,000 none of that (p99 0.6–0.9 ms). A site's agent runs for days.
 */
const WARMUP = Number(process.env.TETHER_BENCH_WARMUP ?? 25_000);

/**
 * One setup, one QoS, one payload size: a warm-up at 5,000 msg/s, the fixed-rate passes (their
 * peak RSS is that of a steady rate, before any full-speed backlog), one uncounted full-speed pass
 * (the first after start-up pays for JIT and queue-file growth), then `fullRuns` at full speed.
 */
export async function measure(kind: RigKind, qos: 0 | 1, size: number, options: MeasureOptions): Promise<Row> {
  const { conns, durability = 'process' } = options;
  const dir = await mkdtemp(join(tmpdir(), 'tether-bench-'));
  const rig = await startRig(kind, qos, dir, { durability });
  try {
    // retried while a bridge is still connecting
    for (let attempt = 0; attempt < 10; attempt++) {
      const warm = await pass(rig, qos, size, WARMUP, 5_000, conns);
      if (warm.lost < 1_000) break;
    }
    const passes: Pass[] = [];
    const fixed: Pass[] = [];
    for (const { rate, count } of options.fixedRates) {
      const p = await pass(rig, qos, size, count, rate, conns);
      fixed.push(p);
      passes.push(p);
    }
    const rssFixedMb = rig.bridgePid ? peakRssMb(rig.bridgePid) : undefined;
    const rssFixedSplit = rig.bridgePid ? rssSplitMb(rig.bridgePid) : undefined;
    passes.push(await pass(rig, qos, size, Math.round(options.fullCount / 2), 0, conns));
    const writesBefore = rig.metricsUrl ? await readMetric(rig.metricsUrl, 'tether_store_writes_total') : 0;
    const full: Pass[] = [];
    for (let i = 0; i < options.fullRuns; i++) full.push(await pass(rig, qos, size, options.fullCount, 0, conns));
    passes.push(...full);
    const written = rig.metricsUrl
      ? (await readMetric(rig.metricsUrl, 'tether_store_writes_total')) - writesBefore
      : undefined;
    const median = [...full].sort((a, b) => a.rate - b.rate)[Math.floor(full.length / 2)] as Pass;
    return {
      kind,
      qos,
      size,
      fixed,
      full: median,
      rssFixedMb,
      rssFixedSplit,
      rssPeakMb: rig.bridgePid ? peakRssMb(rig.bridgePid) : undefined,
      writtenPct:
        written === undefined || durability === 'memory'
          ? undefined
          : (100 * written) / (options.fullCount * options.fullRuns),
      lost: passes.reduce((n, p) => n + p.lost, 0),
      duplicates: passes.reduce((n, p) => n + p.duplicates, 0),
    };
  } finally {
    await rig.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
