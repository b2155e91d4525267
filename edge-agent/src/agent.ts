import type { BridgeConfig, HubConfig } from '@tether/shared';
import type { Logger } from 'pino';
import { createCloudAdapter } from './adapters/registry.js';
import { Bridge } from './bridge/bridge.js';
import type { Dispatcher } from './bridge/dispatcher.js';
import type { LoadedConfig } from './config/load-config.js';
import type { EmbeddedHub } from './hub/embedded-hub.js';
import type { InProcessHubLink } from './hub/in-process-hub-link.js';
import type { MetricsServer } from './metrics/metrics-server.js';
import { SqliteStore } from './queue/sqlite-store.js';
import { type BridgePlan, planBridge } from './rules/bridge-plan.js';
import type { MessageEndpoint } from './transport/message-endpoint.js';
import { MqttEndpoint } from './transport/mqtt-endpoint.js';

export interface AgentOptions {
  /** The bridge config; absent when only the embedded hub runs. */
  readonly bridge?: LoadedConfig<BridgeConfig>;
  /** The embedded hub's config; when set the hub runs in this process. */
  readonly hub?: LoadedConfig<HubConfig>;
  readonly logger: Logger;
  /** How long stop() waits for queued and in-flight messages. */
  readonly drainMs?: number;
  /** Where the durable queues live (required unless `queue.durability` is `memory`). */
  readonly dataDir?: string;
}

/**
 * The composition root: builds the parts from config, starts them in order (hub, remote
 * and hub connections, bridge) and stops them in reverse. No part reads global state.
 */
export class Agent {
  private hub: EmbeddedHub | undefined;
  private bridge: Bridge | undefined;
  private readonly endpoints = new Map<string, MessageEndpoint>();
  private readonly abort = new AbortController();
  private stopping: Promise<void> | undefined;
  private store: SqliteStore | undefined;
  private metrics: MetricsServer | undefined;
  private linkClass: typeof InProcessHubLink | undefined;
  plan: BridgePlan | undefined;

  constructor(private readonly options: AgentOptions) {}

  get embeddedHub(): EmbeddedHub | undefined {
    return this.hub;
  }

  get connections(): ReadonlyMap<string, MessageEndpoint> {
    return this.endpoints;
  }

  get dispatchers(): ReadonlyMap<string, Dispatcher> {
    return this.bridge?.dispatchers ?? new Map();
  }

  async start(): Promise<void> {
    const { logger } = this.options;
    const bridge = this.options.bridge;
    // one store for the bridge's queues and the hub's sessions and retained messages: one commit
    // per turn for both; `memory` keeps both in memory
    const durability = bridge?.config.queue.durability ?? 'process';
    if (durability !== 'memory' && (bridge || this.options.hub)) {
      if (!this.options.dataDir) throw new Error('a durable store needs a data dir');
      this.store = SqliteStore.open(
        this.options.dataDir,
        { durability, commitDelayMs: bridge?.config.queue.commitdelay ?? 1 },
        logger,
      );
      logger.info({ path: this.store.path, durability }, 'durable store open');
    }
    if (this.options.hub) {
      // loaded only when the hub runs here: an agent bridging an external hub stays lighter
      const { EmbeddedHub } = await import('./hub/embedded-hub.js');
      this.linkClass = (await import('./hub/in-process-hub-link.js')).InProcessHubLink;
      this.hub = new EmbeddedHub(this.options.hub.config, {
        logger: logger.child({ module: 'hub' }),
        configDir: this.options.hub.dir,
        ...(this.store ? { store: this.store } : {}),
      });
      await this.hub.start();
      logger.info({ listen: this.hub.addresses() }, 'embedded hub listening');
    }
    if (!bridge) {
      this.hub?.ready();
      return;
    }
    const plan = planBridge(bridge.config);
    this.plan = plan;
    for (const connection of plan.connections) {
      this.endpoints.set(
        connection.id,
        this.createEndpoint(connection.id, connection.clientId, connection.remote, bridge),
      );
    }
    this.bridge = new Bridge({
      plan,
      endpoints: this.endpoints,
      queue: bridge.config.queue,
      ...(this.store ? { store: this.store } : {}),
      logger: logger.child({ module: 'bridge' }),
    });
    // subscriptions are registered before connecting, so the first CONNACK subscribes them
    await this.bridge.start();
    for (const endpoint of this.endpoints.values()) await endpoint.start(this.abort.signal);
    if (bridge.config.metrics) {
      const { createAgentMetrics } = await import('./metrics/agent-metrics.js');
      const { MetricsServer } = await import('./metrics/metrics-server.js');
      const registry = createAgentMetrics({
        dispatchers: () => this.dispatchers,
        connections: () => this.endpoints,
        // offline drops at the bridge plus QoS 0 dropped because a backlog sat on disk
        qos0Dropped: () =>
          (this.bridge?.stats.qos0Dropped ?? 0) +
          [...this.dispatchers.values()].reduce((n, d) => n + d.queue.stats.volatileDropped, 0),
        store: () => this.store?.stats,
        ...(this.hub ? { hub: () => (this.hub?.running ? this.hub.broker.status() : undefined) } : {}),
      });
      this.metrics = new MetricsServer(registry, bridge.config.metrics.listen);
      logger.info({ url: await this.metrics.start() }, 'metrics listening');
    }
    logger.info(
      { name: bridge.config.name, connections: plan.connections.map((c) => c.id), routes: plan.routes.length },
      'bridge started',
    );
    this.hub?.ready();
  }

  /** Stops taking messages, finishes in-flight ones (bounded), disconnects, stops the hub. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const drainMs = this.options.drainMs ?? 10_000;
    await this.bridge?.drain(drainMs);
    // the hub goes before the bridge's connections: from the drain on, a device's message is
    // refused unacknowledged (it sends it again later), never acked and then dropped
    await this.hub?.stop();
    await Promise.all([...this.endpoints.values()].map((e) => e.stop(Math.min(drainMs, 2_000))));
    this.abort.abort();
    this.store?.close();
    await this.metrics?.stop();
    this.options.logger.info('stopped');
  }

  private createEndpoint(
    id: string,
    clientId: string,
    remote: string | undefined,
    bridge: LoadedConfig<BridgeConfig>,
  ): MessageEndpoint {
    const logger = this.options.logger.child({ module: 'connection', connection: id });
    const { config, dir } = bridge;
    if (remote === undefined) {
      // With the hub in this process the bridge attaches to it directly: same principal,
      // same ACL, no socket hop (the seed's `tcp://localhub:1883` works unchanged).
      if (this.hub && this.linkClass) {
        return new this.linkClass(this.hub, {
          clientId,
          logger,
          ...(config.hub.username !== undefined ? { username: config.hub.username } : {}),
          ...(config.hub.password !== undefined ? { password: config.hub.password } : {}),
        });
      }
      return new MqttEndpoint({ name: 'hub', config: config.hub, clientId, configDir: dir, logger, field: 'hub' });
    }
    const index = config.remotes.findIndex((r) => r.name === remote);
    const remoteConfig = config.remotes[index];
    if (!remoteConfig) throw new Error(`unknown remote ${remote}`);
    return createCloudAdapter(remoteConfig, { clientId, configDir: dir, logger, field: `remotes[${index}]` });
  }
}
