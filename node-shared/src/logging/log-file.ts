import {
  closeSync,
  fchmodSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Baetyl's rotation fields (go lumberjack's units): megabytes, days, and a count of old files. */
export interface RotationConfig {
  /** Rotate once the file would grow past this many bytes; 0 = never. */
  readonly maxBytes: number;
  /** Delete rotated files older than this many milliseconds; 0 = keep regardless of age. */
  readonly maxAgeMs: number;
  /** Rotated files kept (`<path>.1` newest … `<path>.N`); 0 = keep none. */
  readonly maxBackups: number;
}

export const MB = 1024 * 1024;
export const DAY_MS = 86_400_000;

/**
 * An append-only log file with size rotation (`app.log` → `app.log.1` → … → `app.log.N`, the
 * oldest deleted), age pruning of rotated files, and reopen() for logrotate-style renames.
 * Writes are synchronous: a log line is rare next to a message, and a sync write cannot be
 * lost in a buffer when the process dies or the file is renamed under it.
 */
export class RotatingLogFile {
  private fd: number;
  private bytes: number;

  constructor(
    readonly path: string,
    private readonly rotation: RotationConfig,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = this.open();
    this.bytes = statSync(path).size;
    this.prune();
  }

  write(line: string): void {
    const size = Buffer.byteLength(line);
    if (this.rotation.maxBytes > 0 && this.bytes > 0 && this.bytes + size > this.rotation.maxBytes) this.rotate();
    writeSync(this.fd, line);
    this.bytes += size;
  }

  /** Closes and opens the path again: after a rename (logrotate), lines go to a new file there. */
  reopen(): void {
    closeSync(this.fd);
    this.fd = this.open();
    this.bytes = statSync(this.path).size;
  }

  close(): void {
    closeSync(this.fd);
  }

  private open(): number {
    // logs name topics, clients and addresses: owner and its group (adm, for log readers) only,
    // whatever the umask (created so, and tightened if the file was older)
    const fd = openSync(this.path, 'a', 0o640);
    fchmodSync(fd, 0o640);
    return fd;
  }

  private rotate(): void {
    closeSync(this.fd);
    const keep = this.rotation.maxBackups;
    if (keep === 0) unlinkQuiet(this.path);
    else {
      unlinkQuiet(`${this.path}.${keep}`);
      for (let i = keep - 1; i >= 1; i--) renameQuiet(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameQuiet(this.path, `${this.path}.1`);
    }
    this.fd = this.open();
    this.bytes = 0;
    this.prune();
  }

  /** Deletes rotated files past `maxBackups` (a lowered setting) or older than `maxAgeMs`. */
  private prune(): void {
    const dir = dirname(this.path);
    const prefix = `${basename(this.path)}.`;
    const now = Date.now();
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const n = Number(name.slice(prefix.length));
      if (!Number.isInteger(n) || n < 1) continue;
      const file = join(dir, name);
      const tooMany = n > this.rotation.maxBackups;
      const tooOld = this.rotation.maxAgeMs > 0 && now - mtime(file) > this.rotation.maxAgeMs;
      if (tooMany || tooOld) unlinkQuiet(file);
    }
  }
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return Date.now();
  }
}

function unlinkQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {}
}

function renameQuiet(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch {}
}
