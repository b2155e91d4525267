import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMetric } from '../test/helpers/sequence.js';
import { peakRssMb, runScript } from './processes.js';
import { RIG_LABELS, type RigKind, startRig } from './rigs.js';

/**
 * The cloud is offline while the edge keeps publishing: how much memory does the edge site's
 * hub + bridge hold for the backlog, and how fast does it drain once the cloud is back? For
 * Mosquitto (b) the backlog is in broker A's memory; for Tether it is in the durable queue, of
 * which only `queue.memory` messages are held in RAM.
 */
export interface BacklogRow {
  readonly label: string;
  readonly count: number;
  readonly size: number;
  /** Messages per second the hub acknowledged while the cloud was offline. */
  readonly fillRate: number;
  readonly rssIdleMb: number;
  readonly rssAfterFillMb: number;
  /** Peak RSS up to the end of the fill, and over the drain too. */
  readonly peakFillMb: number;
  readonly peakDrainMb: number;
  /** Tether: bytes of its queue database after the fill. */
  readonly diskMb: number | undefined;
  /** Tether: messages its queue reported holding after the fill. */
  readonly queued: number | undefined;
  /** Messages per second the sink received, first to last, once the cloud was back. */
  readonly drainRate: number;
  readonly lost: number;
  readonly duplicates: number;
}

interface GenResult {
  startNs: string;
  endNs: string;
}
interface SinkResult {
  distinct: number;
  duplicates: number;
  lost: number;
  firstNs: string;
  lastNs: string;
}

function currentRssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size;
  return total;
}

export async function measureBacklog(
  kind: RigKind,
  size: number,
  count: number,
  queueMemory?: number,
): Promise<BacklogRow> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-backlog-'));
  const rig = await startRig(kind, 1, dir, { cloudDown: true, ...(queueMemory ? { queueMemory } : {}) });
  try {
    const pid = rig.bridgePid as number;
    const link = rig.cloudLink;
    if (!link) throw new Error(`${kind}: no cloud link`);
    const rssIdleMb = currentRssMb(pid);
    // the sink is subscribed on B before anything is sent, and waits through the whole outage
    const sink = runScript<SinkResult>('./sink.ts', {
      host: '127.0.0.1',
      port: rig.sinkPort,
      filter: 'bench/#',
      qos: 1,
      count,
      idleMs: 5_000,
    });
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        if (!chunk.toString().includes('ready')) return;
        sink.child.stdout?.off('data', onData);
        resolve();
      };
      sink.child.stdout?.on('data', onData);
      sink.child.once('exit', () => reject(new Error('sink exited before ready')));
    });
    const gen = await runScript<GenResult>('./load-generator.ts', {
      host: '127.0.0.1',
      port: rig.publishPort,
      topic: 'bench/backlog',
      count,
      qos: 1,
      size,
      rate: 0,
      window: 1_000,
    }).result;
    const fillSeconds = Number(BigInt(gen.endNs) - BigInt(gen.startNs)) / 1e9;
    const rssAfterFillMb = currentRssMb(pid);
    const peakFillMb = peakRssMb(pid);
    const diskMb = rig.dataDir ? dirBytes(rig.dataDir) / 1024 ** 2 : undefined;
    const queued = rig.metricsUrl ? await readMetric(rig.metricsUrl, 'tether_queue_messages') : undefined;
    link.up();
    const s = await sink.result;
    const drainSeconds = Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9;
    return {
      label: RIG_LABELS[kind] + (queueMemory ? `, queue.memory ${queueMemory.toLocaleString('en-US')}` : ''),
      count,
      size,
      fillRate: count / fillSeconds,
      rssIdleMb,
      rssAfterFillMb,
      peakFillMb,
      peakDrainMb: peakRssMb(pid),
      diskMb,
      queued,
      drainRate: s.distinct / Math.max(drainSeconds, 1e-3),
      lost: s.lost,
      duplicates: s.duplicates,
    };
  } finally {
    await rig.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export const BACKLOG_HEADER =
  '| setup | backlog | hub acked while offline | RSS MB idle → after the backlog | peak RSS MB while filling / draining | held on disk | drain once online | lost | dup |\n|---|---|---|---|---|---|---|---|---|';

export function formatBacklog(row: BacklogRow): string {
  const msgs = (n: number) => `${Math.round(n).toLocaleString('en-US')} msg/s`;
  return `| ${[
    row.label,
    `${row.count.toLocaleString('en-US')} × ${row.size === 64 ? '64 B' : '1 KiB'} QoS 1`,
    msgs(row.fillRate),
    `${row.rssIdleMb.toFixed(0)} → ${row.rssAfterFillMb.toFixed(0)}`,
    `${row.peakFillMb.toFixed(0)} / ${row.peakDrainMb.toFixed(0)}`,
    row.diskMb === undefined
      ? '– (in memory)'
      : `${row.diskMb.toFixed(0)} MB${row.queued === undefined ? '' : ` (${row.queued.toLocaleString('en-US')} queued)`}`,
    msgs(row.drainRate),
    String(row.lost),
    String(row.duplicates),
  ].join(' | ')} |`;
}
