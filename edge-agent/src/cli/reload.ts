import { resolve } from 'node:path';
import { TetherError } from '@tether/shared';
import type { ReloadRecord } from '../agent.js';
import { DEFAULT_DATA_DIR } from './run.js';
import { processAlive, readRunFile } from './run-file.js';

const WAIT_MS = 15_000;

/**
 * `tether-agent reload [--data-dir DIR]`: sends SIGHUP to the agent running on DIR and, when it
 * serves /status, waits for the outcome: exit 0 applied, 1 refused (the problems are printed).
 */
export async function reloadCommand(dataDirOption: string | undefined): Promise<number> {
  const dataDir = resolve(dataDirOption ?? DEFAULT_DATA_DIR);
  const run = readRunFile(dataDir);
  if (!processAlive(run.pid)) {
    throw new TetherError('TETHER_ERR_USAGE', `the agent of ${dataDir} (pid ${run.pid}) is not running`);
  }
  const before = run.statusUrl ? ((await lastReload(run.statusUrl))?.count ?? 0) : 0;
  process.kill(run.pid, 'SIGHUP');
  if (!run.statusUrl) {
    console.log(`sent SIGHUP to tether-agent pid ${run.pid}; its log says what was applied`);
    return 0;
  }
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const last = await lastReload(run.statusUrl).catch(() => undefined);
    if (last && last.count > before) {
      if (!last.ok) {
        console.error(`tether-agent: reload refused; the running config stays:\n${last.error ?? ''}`);
        return 1;
      }
      const applied = last.applied?.length ? last.applied.join(', ') : 'nothing changed';
      console.log(`reloaded pid ${run.pid}: ${applied}`);
      if (last.atRestart?.length) console.log(`takes effect at the next start: ${last.atRestart.join(', ')}`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error(`tether-agent: sent SIGHUP to pid ${run.pid}, but it reported no reload within ${WAIT_MS / 1000}s`);
  return 1;
}

async function lastReload(statusUrl: string): Promise<ReloadRecord | undefined> {
  const response = await fetch(`${statusUrl}/status`, { signal: AbortSignal.timeout(2_000) });
  const body = (await response.json()) as { reload?: ReloadRecord };
  return body.reload;
}
