import { resolve } from 'node:path';
import { createLogControl, type LogControl } from '@tether/node-shared/logging';
import type { BridgeConfig, HubConfig } from '@tether/shared';
import type { Logger } from 'pino';
import { Agent } from '../agent.js';
import { type LoadedConfig, loadBridgeConfig, loadHubConfig } from '../config/load-config.js';
import { resolveOutputPath } from '../config/resolve-path.js';
import { removeRunFile, writeRunFile } from './run-file.js';

export interface RunOptions {
  readonly config: string;
  readonly hubConfig?: string | undefined;
  readonly dataDir?: string | undefined;
}

export const DEFAULT_DATA_DIR = 'var/lib/tether';

interface Configs {
  bridge?: LoadedConfig<BridgeConfig>;
  hub?: LoadedConfig<HubConfig>;
}

/** `tether-agent --config …`: the bridge, and the embedded hub with --hub-config. */
export async function runAgent(options: RunOptions): Promise<number> {
  const load = (): Configs => {
    // both files are checked before anything starts, so a bad one exits 2 with every problem
    const bridge = loadBridgeConfig(options.config);
    const hub = options.hubConfig ? loadHubConfig(options.hubConfig) : undefined;
    return { bridge, ...(hub ? { hub } : {}) };
  };
  const configs = load();
  const bridge = configs.bridge as LoadedConfig<BridgeConfig>;
  const log = logControlFor(bridge);
  // combined mode: the hub's own `logger` block governs the hub's lines (its file, its level);
  // the same file as the bridge's is shared rather than opened twice
  const hubLog =
    configs.hub && !sameFile(configs.hub, bridge) && configs.hub.config.logger.path
      ? logControlFor(configs.hub)
      : undefined;
  logWarnings(log.logger, bridge, configs.hub);
  // created (0700) by the store, which names what is wrong with it
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const agent = new Agent({
    ...configs,
    logger: log.logger,
    ...(hubLog ? { hubLogger: hubLog.logger } : {}),
    dataDir,
  });
  return runUntilSignal(agent, { log, ...(hubLog ? { hubLog } : {}), dataDir, load });
}

/** `tether-agent hub --config hub.yml`: only the embedded hub. */
export async function runHubOnly(file: string): Promise<number> {
  const load = (): Configs => ({ hub: loadHubConfig(file) });
  const hub = load().hub as LoadedConfig<HubConfig>;
  const log = logControlFor(hub);
  logWarnings(log.logger, hub);
  // Baetyl-Hub's storage.dir (relative to the working directory, as Baetyl's paths were)
  const dataDir = resolve(hub.config.storage?.dir ?? DEFAULT_DATA_DIR);
  return runUntilSignal(new Agent({ hub, logger: log.logger, dataDir }), { log, dataDir, load });
}

/** What `validate` prints as warnings (keys Baetyl ignored, left out), once at start. */
function logWarnings(logger: Logger, ...loaded: Array<LoadedConfig<unknown> | undefined>): void {
  for (const file of loaded) {
    for (const warning of file?.warnings ?? []) logger.warn({ file: file?.file }, `config: ${warning}`);
  }
}

function logControlFor(loaded: LoadedConfig<{ logger: HubConfig['logger'] }>): LogControl {
  return createLogControl(loaded.config.logger, { resolvePath: (p) => resolveOutputPath(p, loaded.dir) });
}

function sameFile(a: LoadedConfig<HubConfig>, b: LoadedConfig<BridgeConfig>): boolean {
  const path = (l: LoadedConfig<{ logger: HubConfig['logger'] }>) =>
    l.config.logger.path ? resolveOutputPath(l.config.logger.path, l.dir) : undefined;
  return path(a) === path(b);
}

interface RunContext {
  readonly log: LogControl;
  readonly hubLog?: LogControl;
  readonly dataDir: string;
  /** Reads and validates the config files again (throws ConfigError). */
  readonly load: () => Configs;
}

/**
 * SIGHUP (Mosquitto's and logrotate's habit; `tether-agent reload` sends it): log files are
 * reopened, then both config files are read again. A file with problems is refused with every
 * problem logged and the running config stays; a valid one is applied in place (Agent.reload).
 */
async function reload(agent: Agent, context: RunContext): Promise<void> {
  const { log, hubLog } = context;
  const logger = log.logger;
  log.reopen();
  hubLog?.reopen();
  let next: Configs;
  try {
    next = context.load();
  } catch (error) {
    const problems = (error as Error).message;
    logger.error({ problems }, 'reload refused: the new config has problems; the running config stays');
    agent.noteReload({ ok: false, error: problems });
    return;
  }
  try {
    if (next.bridge) log.reconfigure(next.bridge.config.logger);
    else if (next.hub) log.reconfigure(next.hub.config.logger);
    if (hubLog && next.hub) hubLog.reconfigure(next.hub.config.logger);
    const result = await agent.reload(next);
    logger.info({ applied: result.applied, atRestart: result.atRestart }, 'reload applied');
    if (result.atRestart.length > 0) {
      logger.warn({ settings: result.atRestart }, 'these changed settings take effect at the next start');
    }
    agent.noteReload({ ok: true, applied: result.applied, atRestart: result.atRestart });
  } catch (error) {
    logger.error({ err: error }, 'reload failed; what was applied before the failure stays, the rest runs as before');
    agent.noteReload({ ok: false, error: (error as Error).message });
  }
}

/**
 * Starts the agent and holds the process until SIGTERM/SIGINT, then stops taking messages,
 * finishes in-flight ones, disconnects and exits 0. A second signal exits at once. SIGHUP
 * reloads (see reload()).
 */
async function runUntilSignal(agent: Agent, context: RunContext): Promise<number> {
  const logger: Logger = context.log.logger;
  // reconnect timers are unref'd so tests and libraries can exit; the CLI itself stays up
  const keepAlive = setInterval(() => {}, 1 << 30);
  let exitCode = 0;
  let started = false;
  let reloads = Promise.resolve();
  process.on('SIGHUP', () => {
    if (!started) {
      logger.warn('SIGHUP before the agent finished starting: ignored');
      return;
    }
    logger.info({ signal: 'SIGHUP' }, 'reloading');
    reloads = reloads.then(() => reload(agent, context));
  });
  const stopped = new Promise<void>((resolveStopped) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting without draining');
        logger.flush();
        process.exit(1);
      }
      logger.info({ signal }, 'stopping');
      agent.stop().then(resolveStopped, (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        exitCode = 1;
        resolveStopped();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    logger.flush();
    process.exit(1);
  });
  try {
    await agent.start();
  } catch (error) {
    clearInterval(keepAlive);
    await agent.stop().catch(() => {});
    throw error;
  }
  started = true;
  const statusUrl = agent.statusUrl;
  try {
    writeRunFile(context.dataDir, {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      ...(statusUrl ? { statusUrl } : {}),
    });
  } catch (error) {
    // the bridge runs on: only `tether-agent reload` and `status` need the file (SIGHUP still works)
    logger.warn(
      { reason: (error as Error).message },
      'run file not written: tether-agent reload and status will not find this agent (send SIGHUP to reload)',
    );
  }
  await stopped;
  removeRunFile(context.dataDir, process.pid);
  clearInterval(keepAlive);
  await new Promise<void>((r) => logger.flush(() => r()));
  return exitCode;
}
