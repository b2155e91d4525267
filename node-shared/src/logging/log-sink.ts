import type { LoggerConfig } from '@tether/shared';
import { pino } from 'pino';
import { DAY_MS, MB, RotatingLogFile } from './log-file.js';
import { formatTextLine } from './text-format.js';

/** Where log lines go and in which format; both can change while the process runs (reload). */
export interface SinkSettings {
  /** An absolute file path, or undefined for stdout. */
  readonly file: string | undefined;
  readonly format: LoggerConfig['format'];
  readonly rotation: { readonly maxBytes: number; readonly maxAgeMs: number; readonly maxBackups: number };
}

/** Baetyl's defaults: 50 MB per file, 15 days, 15 backups (go lumberjack's units). */
export function sinkSettings(config: Partial<LoggerConfig> | undefined, file: string | undefined): SinkSettings {
  return {
    file,
    format: config?.format ?? 'json',
    rotation: {
      maxBytes: (config?.size?.max ?? 50) * MB,
      maxAgeMs: (config?.age?.max ?? 15) * DAY_MS,
      maxBackups: config?.backup?.max ?? 15,
    },
  };
}

/**
 * pino's destination: formats each JSON line (text or as is) and writes it to stdout or a
 * rotating file. A switchboard, so reload can change the file, format and rotation, and
 * SIGHUP reopen the file, without rebuilding the loggers every part holds.
 */
export class LogSink {
  private settings: SinkSettings;
  private file: RotatingLogFile | undefined;
  private stdout: ReturnType<typeof pino.destination> | undefined;

  constructor(settings: SinkSettings) {
    this.settings = settings;
    this.openTarget();
  }

  write(line: string): void {
    const out = this.settings.format === 'text' ? formatTextLine(line) : line;
    if (this.file) this.file.write(out);
    else this.stdout?.write(out);
  }

  /** New settings: the file is closed and opened again only when its path or rotation changed. */
  update(settings: SinkSettings): void {
    const old = this.settings;
    this.settings = settings;
    if (old.file !== settings.file || JSON.stringify(old.rotation) !== JSON.stringify(settings.rotation)) {
      this.closeTarget();
      this.openTarget();
    }
  }

  /** SIGHUP: a file renamed away by logrotate is let go and the configured path opened anew. */
  reopen(): void {
    this.file?.reopen();
  }

  flush(cb: (err?: Error) => void = () => {}): void {
    if (this.stdout) this.stdout.flush((err) => cb(err ?? undefined));
    else cb();
  }

  flushSync(): void {
    try {
      this.stdout?.flushSync();
    } catch {}
  }

  close(): void {
    this.closeTarget();
  }

  private openTarget(): void {
    const { file, rotation } = this.settings;
    if (file) this.file = new RotatingLogFile(file, rotation);
    else this.stdout ??= pino.destination({ dest: 1, sync: false });
  }

  private closeTarget(): void {
    this.file?.close();
    this.file = undefined;
    if (this.settings.file && this.stdout) {
      this.flushSync();
    }
  }
}
