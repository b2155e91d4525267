import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { TetherError } from '@tether/shared';
import { errorCode, startOver, storeError } from './store-errors.js';

/**
 * The files of the store, and what must hold of them before SQLite opens one: the data dir is a
 * writable directory only its owner can enter (0700), the database and its WAL are 0600 whatever
 * the umask (they hold payloads and topics), and a manifest beside the database tells a new store
 * from one whose file was lost or emptied.
 */
export const DB_FILE = 'queue.db';
export const MANIFEST_FILE = 'queue.manifest';
/** Beside the database: one folder per queue, holding its log's segments (segment-log.ts). */
export const QUEUES_DIR = 'queues';
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/** Creates the data dir (0700) or checks the one there, and tightens its mode. */
export function prepareDataDir(dataDir: string): void {
  const fail = (reason: string, cause?: unknown) =>
    new TetherError('TETHER_ERR_STORE', reason, cause === undefined ? {} : { cause });
  const existing = statOrUndefined(dataDir);
  if (existing && !existing.isDirectory()) throw fail(`data dir ${dataDir} is a file, not a directory`);
  if (!existing) {
    try {
      mkdirSync(dataDir, { recursive: true, mode: DIR_MODE });
    } catch (error) {
      // ENOENT or EROFS from mkdir says little: the nearest folder that exists says why
      const parent = nearestExisting(dirname(dataDir));
      throw fail(`cannot create data dir ${dataDir}: ${whyNotWritable(parent) ?? errorCode(error)}`, error);
    }
  }
  const why = whyNotWritable(dataDir);
  if (why) throw fail(`data dir ${dataDir} is not writable: ${why}`);
  chmodSync(dataDir, DIR_MODE);
}

/**
 * Refuses a store that existed and is now missing or empty (its messages were acknowledged to
 * their sources: starting empty would lose them without a word). Returns whether the store is new.
 */
export function checkManifest(dataDir: string): boolean {
  const db = join(dataDir, DB_FILE);
  const manifest = join(dataDir, MANIFEST_FILE);
  const stored = (statOrUndefined(db)?.size ?? 0) > 0 || (statOrUndefined(`${db}-wal`)?.size ?? 0) > 0;
  const created = readManifest(manifest);
  if (created !== undefined && !stored) {
    const state = statOrUndefined(db) ? 'empty (0 bytes)' : 'missing';
    throw new TetherError(
      'TETHER_ERR_STORE',
      `${db} is ${state}, but ${manifest} says a store was created there on ${created}: its messages are lost ` +
        `(a restore from backup goes there); refusing to start with an empty queue; ${startOver(dataDir)}`,
    );
  }
  return created === undefined;
}

/** After the first successful open: what checkManifest looks for. */
export function writeManifest(dataDir: string): void {
  const manifest = join(dataDir, MANIFEST_FILE);
  writeFileSync(manifest, `${JSON.stringify({ store: DB_FILE, created: new Date().toISOString() })}\n`, {
    mode: FILE_MODE,
  });
  chmodSync(manifest, FILE_MODE);
}

/**
 * The database created 0600 before SQLite opens it: SQLite gives its WAL the database's mode, so
 * both are private whatever the umask. An existing store's files are tightened too.
 */
export function privateStoreFiles(dataDir: string): void {
  const db = join(dataDir, DB_FILE);
  try {
    closeSync(openSync(db, 'a', FILE_MODE));
    for (const file of [db, `${db}-wal`, `${db}-shm`]) if (statOrUndefined(file)) chmodSync(file, FILE_MODE);
  } catch (error) {
    throw storeError(error, db, dataDir);
  }
}

function readManifest(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storeError(error, file, dirname(file));
  }
  try {
    return String((JSON.parse(text) as { created?: unknown }).created ?? 'an unknown date');
  } catch {
    return 'an unknown date (the manifest is unreadable)';
  }
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function nearestExisting(path: string): string {
  let at = path;
  while (!statOrUndefined(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

/** "read-only file system (EROFS)", "permission denied (EACCES)", or undefined when writable. */
function whyNotWritable(path: string): string | undefined {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return `${path} is on a read-only file system (EROFS)`;
    if (code === 'EACCES' || code === 'EPERM') return `permission denied on ${path} (${code})`;
    return `${path}: ${code}`;
  }
}
