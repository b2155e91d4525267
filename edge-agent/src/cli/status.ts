import { resolve } from 'node:path';
import { TetherError } from '@tether/shared';
import type { AgentStatusReport } from '../metrics/agent-status.js';
import { DEFAULT_DATA_DIR } from './run.js';
import { readRunFile } from './run-file.js';

/**
 * `tether-agent status`: the running agent's /status in the terminal (or as JSON). The agent is
 * found by its data dir (its run file names the metrics listener) or given by --url.
 * Exit 0 when ready, 1 when not.
 */
export async function statusCommand(options: {
  dataDir: string | undefined;
  url: string | undefined;
  json: boolean;
}): Promise<number> {
  let base = options.url?.replace(/\/+(status)?$/, '');
  if (!base) {
    const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
    const run = readRunFile(dataDir);
    if (!run.statusUrl) {
      throw new TetherError(
        'TETHER_ERR_USAGE',
        `the agent of ${dataDir} (pid ${run.pid}) serves no status: set metrics.listen in its config`,
      );
    }
    base = run.statusUrl;
  }
  let report: AgentStatusReport;
  try {
    const response = await fetch(`${base}/status`, { signal: AbortSignal.timeout(5_000) });
    report = (await response.json()) as AgentStatusReport;
  } catch (error) {
    throw new TetherError('TETHER_ERR_CONNECT', `cannot read ${base}/status: ${(error as Error).message}`);
  }
  console.log(options.json ? JSON.stringify(report, null, 2) : formatStatus(report));
  return report.ready ? 0 : 1;
}

/** The same report as the status page, as text. */
export function formatStatus(report: AgentStatusReport): string {
  const lines: string[] = [];
  lines.push(
    `tether-agent ${report.name}: ${report.ready ? 'ready' : 'NOT READY'} (pid ${report.pid}, up ${duration(report.uptimeSeconds)})`,
  );
  for (const reason of report.notReady) lines.push(`  - ${reason}`);
  if (report.hub) lines.push(`hub: listening on ${report.hub.listening.join(', ')}; ${report.hub.clients} clients`);
  if (report.store)
    lines.push(
      `store: ${report.store.path} (${report.store.writable ? 'writable' : `NOT writable: ${report.store.lastError}`})`,
    );
  lines.push('', 'connections:');
  lines.push(
    table(
      ['connection', 'state', 'for', 'reconnects', 'failed', 'last error'],
      report.connections.map((c) => [
        c.id,
        c.connected ? 'up' : 'DOWN',
        duration(c.forSeconds),
        String(c.reconnects),
        String(c.failedAttempts),
        c.lastError ? `${c.lastError.message} (${c.lastError.at})` : '',
      ]),
    ),
  );
  lines.push('', 'queues:');
  lines.push(
    table(
      ['destination', 'messages', 'bytes', 'oldest', 'in flight', 'forwarded', '/s', 'dropped'],
      report.queues.map((q) => [
        q.id,
        String(q.messages),
        String(q.bytes),
        duration(q.oldestAgeSeconds),
        String(q.inflight),
        String(q.forwarded),
        String(q.forwardedPerSecond),
        String(q.dropped),
      ]),
    ),
  );
  return lines.join('\n');
}

function duration(s: number): string {
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `  ${cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()}`;
  return [line(header), ...rows.map(line)].join('\n');
}
