import type { BacklogRow } from './backlog.js';
import type { Pass, Row } from './measure.js';
import { RIG_LABELS } from './rigs.js';

/** The full-speed check on the load tools: the direct path must beat every bridge by this much. */
export const DIRECT_MARGIN = 1.3;

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const us = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(1));
const times = (n: number | undefined, of: number | undefined) =>
  n === undefined || of === undefined || of === 0 ? '–' : `${(n / of).toFixed(2)}×`;
const calls = (p: Pass) =>
  p.readsPerMsg === undefined || p.writesPerMsg === undefined
    ? '–'
    : `${p.readsPerMsg.toFixed(1)} / ${p.writesPerMsg.toFixed(1)}`;
const payload = (size: number) => (size === 64 ? '64 B' : size === 1024 ? '1 KiB' : `${size} B`);

function groups(rows: Row[]): Row[][] {
  const keyed = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.qos}/${row.size}`;
    keyed.set(key, [...(keyed.get(key) ?? []), row]);
  }
  return [...keyed.values()];
}

const reference = (group: Row[]) => group.find((r) => r.kind === 'mosquitto-bridge');

/**
 * The headline: what an edge site pays at a steady rate. CPU of the bridge-side process and of the
 * whole edge site, each as a multiple of Mosquitto's (b); latency end to end.
 */
export function fixedRateTable(rows: Row[], index: number, rate: number): string {
  const lines = [
    `At ${int(rate)} msg/s:`,
    '',
    '| QoS | payload | setup | p50 / p99 µs | CPU µs/msg, bridge process | × (b) | edge site CPU µs/msg | × (b) | reads / writes per msg, bridge process | generator + sink µs/msg | lost | dup |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const group of groups(rows)) {
    const ref = reference(group)?.fixed[index];
    for (const row of group) {
      const p = row.fixed[index] as Pass;
      lines.push(
        `| ${row.qos} | ${payload(row.size)} | ${RIG_LABELS[row.kind]} | ${int(p.p50us)} / ${int(p.p99us)} | ${us(p.cpu)} | ${row.kind === 'mosquitto-bridge' ? '1' : times(p.cpu, ref?.cpu)} | ${us(p.siteCpu)} | ${row.kind === 'mosquitto-bridge' ? '1' : times(p.siteCpu, ref?.siteCpu)} | ${calls(p)} | ${us(p.toolsCpu)} | ${p.lost} | ${p.duplicates} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Full speed: delivered rate as a multiple of (b), and of (a) over the row (the load tools' headroom). */
export function fullSpeedTable(rows: Row[]): string {
  const lines = [
    '| QoS | payload | setup | delivered msg/s | × (b) | (a) ÷ row | CPU µs/msg, bridge process | edge site CPU µs/msg | generator + sink µs/msg | peak RSS MB | written to disk | lost | dup |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const group of groups(rows)) {
    const ref = reference(group)?.full;
    const direct = group.find((r) => r.kind === 'direct')?.full;
    for (const row of group) {
      const p = row.full;
      lines.push(
        `| ${row.qos} | ${payload(row.size)} | ${RIG_LABELS[row.kind]} | ${int(p.rate)} | ${times(p.rate, ref?.rate)} | ${row.kind === 'direct' ? '–' : times(direct?.rate, p.rate)} | ${us(p.cpu)} | ${us(p.siteCpu)} | ${us(p.toolsCpu)} | ${row.rssPeakMb?.toFixed(0) ?? '–'} | ${row.writtenPct === undefined ? '–' : `${row.writtenPct.toFixed(0)} %`} | ${row.lost} | ${row.duplicates} |`,
      );
    }
  }
  return lines.join('\n');
}

/**
 * The run is flagged where the direct path (a) is not clearly above every bridge row: there the
 * generator, the sink or broker B may be what limits the bridges, and their ratios say little.
 */
export function directPathFlags(rows: Row[]): string[] {
  const flags: string[] = [];
  for (const group of groups(rows)) {
    const direct = group.find((r) => r.kind === 'direct');
    const bridges = group.filter((r) => r.kind !== 'direct');
    const first = group[0] as Row;
    const where = `QoS ${first.qos} ${payload(first.size)}`;
    if (!direct) {
      flags.push(`${where}: no direct path (a) measured, the load tools' headroom is not shown`);
      continue;
    }
    const fastest = Math.max(...bridges.map((r) => r.full.rate));
    const margin = direct.full.rate / fastest;
    if (margin < DIRECT_MARGIN) {
      flags.push(
        `FLAG ${where}: (a) is only ${margin.toFixed(2)}× the fastest bridge row (< ${DIRECT_MARGIN}×): the load tools or B may limit this group`,
      );
    } else {
      flags.push(`${where}: (a) is ${margin.toFixed(2)}× the fastest bridge row`);
    }
  }
  return flags;
}

export function rssTable(rows: Row[]): string {
  const lines = [
    '| QoS | payload | setup | RSS MB at the fixed rates (peak) | private + file-backed at their end | peak RSS MB, full speed |',
    '|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    if (row.rssFixedMb === undefined) continue;
    const split = row.rssFixedSplit;
    lines.push(
      `| ${row.qos} | ${payload(row.size)} | ${RIG_LABELS[row.kind]} | ${row.rssFixedMb.toFixed(0)} | ${split ? `${split.privateMb.toFixed(0)} + ${split.fileMb.toFixed(0)}` : '–'} | ${row.rssPeakMb?.toFixed(0) ?? '–'} |`,
    );
  }
  return lines.join('\n');
}

export function durableTable(pairs: Array<[string, Row]>): string {
  return [
    '| payload | durable queue | delivered msg/s | agent CPU µs/msg, full speed | agent CPU µs/msg at 5,000 msg/s | peak RSS MB | lost |',
    '|---|---|---|---|---|---|---|',
    ...pairs.map(
      ([label, r]) =>
        `| ${payload(r.size)} | ${label} | ${int(r.full.rate)} | ${us(r.full.cpu)} | ${us(r.fixed[r.fixed.length - 1]?.cpu)} | ${r.rssPeakMb?.toFixed(0) ?? '–'} | ${r.lost} |`,
    ),
  ].join('\n');
}

export const BACKLOG_HEADER =
  '| setup | backlog | stored at the edge while offline | RSS MB idle → after the backlog | peak RSS MB to the end of the fill / of the drain | held on disk | drain once online (first to last message) | lost | dup |\n|---|---|---|---|---|---|---|---|---|';

export function formatBacklog(row: BacklogRow): string {
  const msgs = (n: number) => `${int(n)} msg/s`;
  return `| ${[
    row.label,
    `${int(row.count)} × ${payload(row.size)} QoS 1`,
    msgs(row.fillRate),
    `${row.rssIdleMb.toFixed(0)} → ${row.rssAfterFillMb.toFixed(0)}`,
    `${row.peakFillMb.toFixed(0)} / ${row.peakDrainMb.toFixed(0)}${row.hubPeakMb === undefined ? '' : ` (+ Mosquitto A ${row.hubPeakMb.toFixed(0)})`}`,
    row.diskMb === undefined
      ? '– (in memory)'
      : `${row.diskMb.toFixed(0)} MB${row.queued === undefined ? '' : ` (${int(row.queued)} queued)`}`,
    msgs(row.drainRate),
    String(row.lost),
    String(row.duplicates),
  ].join(' | ')} |`;
}
