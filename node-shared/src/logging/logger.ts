import type { LoggerConfig } from '@tether/shared';
import { type Logger, pino } from 'pino';
import { LogSink, sinkSettings } from './log-sink.js';
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
  // Baidu IoT Core: a remote's device secret, and the API's answer that carries it
  'devicesecret',
  '*.devicesecret',
  '*.*.devicesecret',
  'secretKey',
  '*.secretKey',
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
  return createLogControl(config, options).logger;
}

/**
 * A logger whose settings can change while it runs: the level (of every child logger the
 * parts already hold), the file, the format and the rotation (reload), and the file can be
 * reopened after logrotate renamed it (SIGHUP).
 */
export interface LogControl {
  readonly logger: Logger;
  /** Applies a new `logger` block (same path rules as at start). */
  reconfigure(config: Partial<LoggerConfig> | undefined): void;
  /** Reopens the log file at its configured path. */
  reopen(): void;
  /** Writes out what is buffered (stdout). */
  flushSync(): void;
}

export function createLogControl(config: Partial<LoggerConfig> | undefined, options: LoggerOptions = {}): LogControl {
  const fileOf = (c: Partial<LoggerConfig> | undefined) =>
    c?.path ? (options.resolvePath ? options.resolvePath(c.path) : c.path) : undefined;
  const sink = options.destination ? undefined : new LogSink(sinkSettings(config, fileOf(config)));
  // pino gives each child its own copy of the level: track them so a reload reaches them all
  const children = new Set<WeakRef<Logger>>();
  const forget = new FinalizationRegistry<WeakRef<Logger>>((ref) => children.delete(ref));
  const logger = pino(
    {
      level: LEVELS[config?.level ?? 'info'],
      ...(options.name ? { name: options.name } : {}),
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      onChild: (child) => {
        const ref = new WeakRef(child);
        children.add(ref);
        forget.register(child, ref);
      },
      // addresses with credentials inside messages and error texts: no field path reaches them
      hooks: { streamWrite: redactUserinfo },
    },
    options.destination ?? (sink as LogSink),
  );
  return {
    logger,
    reconfigure(next) {
      sink?.update(sinkSettings(next, fileOf(next)));
      const level = LEVELS[next?.level ?? 'info'];
      logger.level = level;
      for (const ref of children) {
        const child = ref.deref();
        if (child) child.level = level;
      }
    },
    reopen: () => sink?.reopen(),
    flushSync: () => sink?.flushSync(),
  };
}

/** A logger that writes nothing (library use, tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
