import { TetherError } from '@tether/shared';

/** SQLite's primary result codes (node:sqlite reports the extended code as a number in `errcode`). */
const SQLITE_CODES: Record<number, string> = {
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  26: 'SQLITE_NOTADB',
};

/** `SQLITE_FULL`, `EACCES`, …: the SQLite result or the system error code of a failure. */
export function errorCode(error: unknown): string {
  const e = error as { code?: string; errcode?: number };
  if (e.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number')
    return SQLITE_CODES[e.errcode & 0xff] ?? `SQLITE_ERROR(${e.errcode})`;
  if (error instanceof TetherError) return error.cause ? errorCode(error.cause) : '';
  return e.code ?? '';
}

export const isCorruption = (code: string) =>
  code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code === 'TETHER_LOG_DAMAGED';
export const isDiskFull = (code: string) => code === 'SQLITE_FULL' || code === 'ENOSPC';

/** How to start over on purpose: the old data dir is kept aside, never deleted for the user. */
export const startOver = (dataDir: string) =>
  `to start with an empty store on purpose, move the data dir aside (kept for recovery): mv '${dataDir}' '${dataDir}.old'`;

/** Every store failure as TETHER_ERR_STORE, naming the file (or data dir) and the cause in words. */
export function storeError(error: unknown, storePath: string, dataDir: string): TetherError {
  if (error instanceof TetherError) return error;
  // a file's own error (a queue log's segment, its folder) names that file, not the database
  const path = typeof (error as { path?: unknown }).path === 'string' ? (error as { path: string }).path : storePath;
  const code = errorCode(error);
  const detail = (error as Error).message ?? String(error);
  let reason: string;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED')
    reason = `data dir ${dataDir} is in use by another tether-agent (${path} is locked)`;
  else if (isCorruption(code))
    reason = `${path} is damaged or not a Tether store (${code}: ${detail}); nothing was changed; ${startOver(dataDir)}`;
  else if (isDiskFull(code)) reason = `disk full writing ${path} (${code})`;
  else if (code === 'SQLITE_READONLY' || code === 'EROFS') reason = `${path} is on a read-only file system (${code})`;
  else if (code === 'SQLITE_CANTOPEN' || code === 'EACCES' || code === 'EPERM')
    reason = `cannot open ${path} for writing (${code}: ${detail})`;
  else reason = `store ${path} failed (${code || 'error'}: ${detail})`;
  return new TetherError('TETHER_ERR_STORE', reason, { cause: error });
}
