import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TetherError } from '@tether/shared';
import { prepareDataDir } from '../queue/store-files.js';

/**
 * `<data dir>/tether-agent.json`: which process runs on this data dir and where its status is
 * served, for `tether-agent reload` and `tether-agent status`. Written once the store's
 * exclusive lock is held (only one agent per data dir), removed at a clean stop.
 */
export interface RunFile {
  readonly pid: number;
  readonly startedAt: string;
  /** http://HOST:PORT of the metrics listener, when metrics are on. */
  readonly statusUrl?: string;
}

export const RUN_FILE = 'tether-agent.json';

/**
 * Writes the run file; the data dir is created (0700) when nothing made it yet — with
 * `queue.durability: memory` there is no store to make it. Throws TETHER_ERR_STORE naming the dir.
 */
export function writeRunFile(dataDir: string, run: RunFile): void {
  prepareDataDir(dataDir);
  writeFileSync(join(dataDir, RUN_FILE), `${JSON.stringify(run)}\n`, { mode: 0o644 });
}

export function removeRunFile(dataDir: string, pid: number): void {
  try {
    if (readRunFile(dataDir).pid === pid) rmSync(join(dataDir, RUN_FILE), { force: true });
  } catch {}
}

/** The run file of a live agent; a clear error when there is none or its process is gone. */
export function readRunFile(dataDir: string): RunFile {
  const file = join(dataDir, RUN_FILE);
  let run: RunFile;
  try {
    run = JSON.parse(readFileSync(file, 'utf8')) as RunFile;
  } catch (error) {
    throw new TetherError(
      'TETHER_ERR_USAGE',
      `no running agent found for data dir ${dataDir} (${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}); give the agent's --data-dir`,
    );
  }
  if (!Number.isInteger(run.pid) || run.pid <= 0) {
    throw new TetherError('TETHER_ERR_USAGE', `${file} does not name a process`);
  }
  return run;
}

/** True when the process exists (signal 0 tests without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
