import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMetric } from '@tether/test-helpers/sequence';
import { waitFor } from '@tether/test-helpers/wait-for';
import { runGenerator, startSink } from './load-tools.js';
import { currentRssMb, peakRssMb } from './processes.js';
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
  /**
   * Messages per second stored at the edge while the cloud was offline: until the last PUBACK to
   * the publisher for (b) and (d); for (c) until the agent's queue held them all (Mosquitto A acks
   * the publisher on its own, before the agent has the message).
   */
  readonly fillRate: number;
  readonly rssIdleMb: number;
  readonly rssAfterFillMb: number;
  /** Peak RSS up to the end of the fill, and up to the end of the drain. */
  readonly peakFillMb: number;
  readonly peakDrainMb: number;
  /** (c): Mosquitto A's peak RSS up to the end of the drain (the hub beside the agent). */
  readonly hubPeakMb: number | undefined;
  /** Tether: bytes of its queue database after the fill. */
  readonly diskMb: number | undefined;
  /** Tether: messages its queue reported holding after the fill. */
  readonly queued: number | undefined;
  /** Messages per second the sink received, first to last, once the cloud was back. */
  readonly drainRate: number;
  readonly lost: number;
  readonly duplicates: number;
}

/** Bytes of the files under `dir` (the database and the queue logs' segments, in their folders). */
function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(path) : statSync(path).size;
  }
  return total;
}

export async function measureBacklog(
  kind: RigKind,
  size: number,
  count: number,
  conns: number,
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
    const sink = startSink({
      host: '127.0.0.1',
      port: rig.sinkPort,
      filter: 'bench/#',
      qos: 1,
      count,
      idleMs: 5_000,
      batchBytes: 65_536,
    });
    try {
      await sink.ready;
      const gen = await runGenerator({
        host: '127.0.0.1',
        port: rig.publishPort,
        topic: 'bench/backlog',
        count,
        qos: 1,
        size,
        rate: 0,
        window: 1_000,
        conns,
      }).result;
      let storedNs = BigInt(gen.endNs);
      let queued: number | undefined;
      if (rig.metricsUrl) {
        const url = rig.metricsUrl;
        // (c): Mosquitto A acked the publisher itself; the backlog is the agent's once its queue holds it all
        queued = await waitFor(
          async () => {
            const n = await readMetric(url, 'tether_queue_messages');
            return n >= count ? n : undefined;
          },
          { what: `the agent's queue holding ${count} messages`, timeoutMs: 120_000, intervalMs: 100 },
        );
        // (d) acks the publisher only once stored, so there the generator's end already is the time
        if (kind === 'tether-bridge') storedNs = process.hrtime.bigint();
      }
      const fillSeconds = Number(storedNs - BigInt(gen.startNs)) / 1e9;
      const rssAfterFillMb = currentRssMb(pid);
      const peakFillMb = peakRssMb(pid);
      const diskMb = rig.dataDir ? dirBytes(rig.dataDir) / 1024 ** 2 : undefined;
      link.up();
      const s = await sink.result;
      // from the first message through: the bridge's reconnect delay is not counted
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
        hubPeakMb: rig.hubPid ? peakRssMb(rig.hubPid) : undefined,
        diskMb,
        queued,
        drainRate: s.distinct / Math.max(drainSeconds, 1e-3),
        lost: s.lost,
        duplicates: s.duplicates,
      };
    } finally {
      sink.child.kill();
    }
  } finally {
    await rig.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
