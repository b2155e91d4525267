import { join } from 'node:path';
import { ConfigError, type Policy } from '@tether/shared';
import cliProgress from 'cli-progress';
import { type DeviceRow, parseDevicesCsv } from '../core/devices-csv.js';
import { describeCause } from '../core/errors.js';
import type { HubConnection } from '../core/service-config.js';
import type { Provider } from '../providers/provider.js';
import { provisionThing } from './provision.js';

export interface BatchOptions {
  readonly provider: Provider;
  readonly file: string;
  readonly text: string;
  readonly fallback: Policy | undefined;
  readonly hub: HubConnection;
  readonly out: string;
  readonly concurrency: number;
}

export interface BatchSummary {
  readonly total: number;
  readonly provisioned: number;
  readonly skipped: number;
  readonly failed: readonly { thing: string; error: string }[];
  readonly seconds: number;
}

/**
 * `provision --batch`: every row checked before anything is provisioned (a bad file changes nothing),
 * then at most `concurrency` things at once, each into `<out>/<thing>/`. Things that exist are skipped,
 * so a re-run picks up where an interrupted one stopped. A progress bar on stderr when it is a terminal.
 */
export async function runBatch(options: BatchOptions): Promise<BatchSummary> {
  const { rows, problems } = parseDevicesCsv(options.text, options.fallback);
  if (problems.length > 0) throw new ConfigError(options.file, problems);
  const started = Date.now();
  const bar = new cliProgress.SingleBar(
    { format: 'provisioning [{bar}] {value}/{total} {thing}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(rows.length, 0, { thing: '' });
  let provisioned = 0;
  let skipped = 0;
  const failed: { thing: string; error: string }[] = [];
  const one = async (row: DeviceRow) => {
    try {
      const outcome = await provisionThing(
        {
          provider: options.provider,
          thing: row.thing,
          policy: row.policy,
          hub: options.hub,
          out: join(options.out, row.thing),
        },
        'provision',
      );
      if (outcome.kind === 'exists') skipped++;
      else provisioned++;
    } catch (error) {
      failed.push({ thing: row.thing, error: describeCause(error) });
    }
    bar.increment(1, { thing: row.thing });
  };
  await pool(rows, options.concurrency, one);
  bar.stop();
  return { total: rows.length, provisioned, skipped, failed, seconds: (Date.now() - started) / 1000 };
}

export function formatSummary(summary: BatchSummary): string {
  const lines = [
    `batch: ${summary.total} things in ${summary.seconds.toFixed(1)} s: ${summary.provisioned} provisioned, ` +
      `${summary.skipped} skipped (exist), ${summary.failed.length} failed`,
    ...summary.failed.map((f) => `  ${f.thing}: ${f.error}`),
  ];
  return lines.join('\n');
}

/** Runs `work` over `items`, at most `limit` at once, in order of start. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
