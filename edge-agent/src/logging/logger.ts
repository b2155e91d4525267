import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LoggerConfig } from '@tether/shared';
import { type Logger, pino } from 'pino';
import { redactUserinfo } from './redact.js';

/**
 * Every field that can hold a secret, wherever it sits in a log object. pino's redaction
 * runs on the serialized line, so a config or client options logged whole stay safe.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'key',
  '*.key',
  '*.*.key',
  'privateKey',
  '*.privateKey',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
];

const LEVELS: Record<LoggerConfig['level'], pino.LevelWithSilent> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  panic: 'fatal',
  silent: 'silent',
};

export interface LoggerOptions {
  /** Resolves `logger.path` (relative paths follow the config rule). */
  readonly resolvePath?: (path: string) => string;
  /** Overrides the destination (tests); default: `logger.path` or stdout. */
  readonly destination?: pino.DestinationStream;
  readonly name?: string;
}

/** Builds the process logger from a Baetyl `logger` block. */
export function createLogger(config: Partial<LoggerConfig> | undefined, options: LoggerOptions = {}): Logger {
  const level = LEVELS[config?.level ?? 'info'];
  let destination = options.destination;
  if (!destination && config?.path) {
    const file = options.resolvePath ? options.resolvePath(config.path) : config.path;
    mkdirSync(dirname(file), { recursive: true });
    // sync: false with a final flush on exit keeps the hot path off the disk
    destination = pino.destination({ dest: file, sync: false, mkdir: true });
  }
  return pino(
    {
      level,
      ...(options.name ? { name: options.name } : {}),
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // addresses with credentials inside messages and error texts: no field path reaches them
      hooks: { streamWrite: redactUserinfo },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that writes nothing (library use, tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
