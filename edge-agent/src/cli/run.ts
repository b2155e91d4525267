import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { Agent } from '../agent.js';
import { type LoadedConfig, loadBridgeConfig, loadHubConfig } from '../config/load-config.js';
import { resolveOutputPath } from '../config/resolve-path.js';
import { createLogger } from '../logging/logger.js';

export interface RunOptions {
  readonly config: string;
  readonly hubConfig?: string | undefined;
  readonly dataDir?: string | undefined;
}

export const DEFAULT_DATA_DIR = 'var/lib/tether';

/** `tether-agent --config …`: the bridge, and the embedded hub with --hub-config. */
export async function runAgent(options: RunOptions): Promise<number> {
  // both files are checked before anything starts, so a bad one exits 2 with every problem
  const bridge = loadBridgeConfig(options.config);
  const hub = options.hubConfig ? loadHubConfig(options.hubConfig) : undefined;
  const logger = loggerFor(bridge);
  // created (0700) by the store, which names what is wrong with it
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const agent = new Agent({ bridge, ...(hub ? { hub } : {}), logger, dataDir });
  return runUntilSignal(agent, logger);
}

/** `tether-agent hub --config hub.yml`: only the embedded hub. */
export async function runHubOnly(file: string): Promise<number> {
  const hub = loadHubConfig(file);
  const logger = loggerFor(hub);
  // Baetyl-Hub's storage.dir (relative to the working directory, as Baetyl's paths were)
  const dataDir = resolve(hub.config.storage?.dir ?? DEFAULT_DATA_DIR);
  return runUntilSignal(new Agent({ hub, logger, dataDir }), logger);
}

function loggerFor(loaded: LoadedConfig<{ logger: Parameters<typeof createLogger>[0] }>): Logger {
  return createLogger(loaded.config.logger, { resolvePath: (p) => resolveOutputPath(p, loaded.dir) });
}

/**
 * Starts the agent and holds the process until SIGTERM/SIGINT, then stops taking messages,
 * finishes in-flight ones, disconnects and exits 0. A second signal exits at once.
 */
async function runUntilSignal(agent: Agent, logger: Logger): Promise<number> {
  // reconnect timers are unref'd so tests and libraries can exit; the CLI itself stays up
  const keepAlive = setInterval(() => {}, 1 << 30);
  let exitCode = 0;
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
  await stopped;
  clearInterval(keepAlive);
  await new Promise<void>((r) => logger.flush(() => r()));
  return exitCode;
}
