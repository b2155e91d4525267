import type { BridgeConfig, HubConfig } from '@tether/shared';
import type { Logger } from 'pino';
import { createCloudAdapter } from './adapters/registry.js';
import { Bridge } from './bridge/bridge.js';
import { ConnectionStateTopics, externalHubPublisher, type StateTopic } from './bridge/connection-state-topics.js';
import type { Dispatcher } from './bridge/dispatcher.js';
import type { LoadedConfig } from './config/load-config.js';
import type { MessageEndpoint } from './core/message-endpoint.js';
import type { EmbeddedHub } from './hub/embedded-hub.js';
import type { InProcessHubLink } from './hub/in-process-hub-link.js';
import { AgentStatus } from './metrics/agent-status.js';
import { ConnectionMonitor } from './metrics/connection-monitor.js';
import type { MetricsServer } from './metrics/metrics-server.js';
import { queueFactory } from './queue/queue-factory.js';
import { SqliteStore } from './queue/sqlite-store.js';
import { type BridgePlan, type ConnectionPlan, planBridge } from './rules/bridge-plan.js';
import { readTlsMaterial } from './transport/connection-options.js';
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
  /** The embedded hub's own logger (its service.yml's `logger`); default: `logger`. */
  readonly hubLogger?: Logger;
}

/** The last reload, as /status and `tether-agent reload` report it. */
export interface ReloadRecord {
  /** Reloads so far (refused ones included). */
  readonly count: number;
  readonly at: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly applied?: readonly string[];
  readonly atRestart?: readonly string[];
}

/** What a reload changed, and what it could not change while running. */
export interface ReloadResult {
  readonly applied: string[];
  /** Settings that take effect at the next start. */
  readonly atRestart: string[];
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
  private bridgeConfig: LoadedConfig<BridgeConfig> | undefined;
  private hubConfig: LoadedConfig<HubConfig> | undefined;
  private reloading: Promise<unknown> = Promise.resolve();
  private metricsUrl: string | undefined;
  private monitor: ConnectionMonitor | undefined;
  private stateTopics: ConnectionStateTopics | undefined;
  private statusReport: AgentStatus | undefined;
  private readonly startedAtMs = Date.now();
  /** The last reload, undefined before the first. */
  private lastReload: ReloadRecord | undefined;
  private plan: BridgePlan | undefined;

  constructor(private readonly options: AgentOptions) {
    this.bridgeConfig = options.bridge;
    this.hubConfig = options.hub;
  }

  /** Base URL of the metrics listener (`/status`, `/readyz`, `/metrics`), when metrics are on. */
  get statusUrl(): string | undefined {
    return this.metricsUrl;
  }

  /** Records a reload's outcome for /status (the CLI validates, so refused ones land here too). */
  noteReload(outcome: Omit<ReloadRecord, 'count' | 'at'>): void {
    this.lastReload = { count: (this.lastReload?.count ?? 0) + 1, at: new Date().toISOString(), ...outcome };
  }

  private get dispatchers(): ReadonlyMap<string, Dispatcher> {
    return this.bridge?.dispatchers ?? new Map();
  }

  async start(): Promise<void> {
    const { logger } = this.options;
    const bridge = this.bridgeConfig;
    const hubConfig = this.hubConfig;
    // one store for the bridge's queues and the hub's sessions and retained messages: one commit
    // per turn for both; `memory` keeps both in memory
    const durability = bridge?.config.queue.durability ?? 'process';
    if (durability !== 'memory' && (bridge || hubConfig)) {
      if (!this.options.dataDir) throw new Error('a durable store needs a data dir');
      this.store = SqliteStore.open(
        this.options.dataDir,
        { durability, commitDelayMs: bridge?.config.queue.commitdelay ?? 1 },
        logger,
      );
      logger.info({ path: this.store.path, durability }, 'durable store open');
    }
    if (hubConfig) {
      // loaded only when the hub runs here: an agent bridging an external hub stays lighter
      const { EmbeddedHub } = await import('./hub/embedded-hub.js');
      this.linkClass = (await import('./hub/in-process-hub-link.js')).InProcessHubLink;
      this.hub = new EmbeddedHub(hubConfig.config, {
        logger: (this.options.hubLogger ?? logger).child({ module: 'hub' }),
        configDir: hubConfig.dir,
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
    for (const connection of plan.connections)
      this.endpoints.set(connection.id, this.createEndpoint(connection, bridge));
    this.monitor = new ConnectionMonitor(
      logger.child({ module: 'connections' }),
      (id) => this.dispatchers.get(id)?.queue.size ?? 0,
    );
    this.monitor.follow(this.endpoints);
    this.stateTopics = new ConnectionStateTopics(
      this.hub
        ? (topic, payload) => {
            // as the hub itself: $SYS/... is the broker's, closed to clients and the link
            if (this.hub?.running) this.hub.broker.publishAsHub(topic, payload, 1, true, undefined, '');
            return Promise.resolve();
          }
        : externalHubPublisher(() => [...this.endpoints].find(([id]) => id.startsWith('hub/'))?.[1]),
      logger.child({ module: 'state-topics' }),
    );
    this.stateTopics.follow(this.hubStateTopics(plan, bridge.config));
    this.bridge = new Bridge({
      plan,
      endpoints: this.endpoints,
      queue: bridge.config.queue,
      queues: queueFactory(bridge.config.queue, logger, this.store),
      logger: logger.child({ module: 'bridge' }),
    });
    // subscriptions are registered before connecting, so the first CONNACK subscribes them
    await this.bridge.start();
    for (const endpoint of this.endpoints.values()) await endpoint.start(this.abort.signal);
    const store = this.store;
    this.statusReport = new AgentStatus({
      name: bridge.config.name,
      startedAtMs: this.startedAtMs,
      plan: () => this.plan,
      config: () => this.bridgeConfig?.config,
      dispatchers: () => this.dispatchers,
      monitor: this.monitor,
      ...(store ? { store: () => ({ path: store.path, stats: store.stats }) } : {}),
      ...(this.hub ? { hub: () => this.hubState() } : {}),
      reload: () => this.lastReload,
    });
    this.statusReport.start();
    await this.startMetrics(bridge.config.metrics);
    logger.info(
      { name: bridge.config.name, connections: plan.connections.map((c) => c.id), routes: plan.routes.length },
      'bridge started',
    );
    this.hub?.ready();
  }

  /**
   * Applies new config files while running (SIGHUP, `tether-agent reload`); the caller has
   * validated them. The store, the hub's clients and every queued message stay: principals and
   * permits change in place, only changed listeners close and open, and only connections whose
   * settings changed reconnect, their queues (order and in-flight messages included) handed to
   * the new connection. Reloads run one at a time.
   */
  reload(next: { bridge?: LoadedConfig<BridgeConfig>; hub?: LoadedConfig<HubConfig> }): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.doReload(next));
    this.reloading = run.catch(() => {});
    return run;
  }

  private async doReload(next: {
    bridge?: LoadedConfig<BridgeConfig>;
    hub?: LoadedConfig<HubConfig>;
  }): Promise<ReloadResult> {
    const applied: string[] = [];
    const atRestart: string[] = [];
    if (this.hub && next.hub) {
      const changed = !same(this.hubConfig?.config, next.hub.config);
      this.hubConfig = next.hub;
      if (changed) {
        atRestart.push(...(await this.hub.reload(next.hub.config)).map((k) => `hub ${k}`));
        applied.push('hub');
      }
    }
    const old = this.bridgeConfig;
    if (old && next.bridge && this.bridge) {
      const wiring = (c: BridgeConfig) => ({ name: c.name, hub: c.hub, remotes: c.remotes, rules: c.rules });
      if (!same(wiring(old.config), wiring(next.bridge.config)) || old.dir !== next.bridge.dir) {
        await this.rewire(old, next.bridge);
        applied.push('rules and connections');
      }
      this.bridgeConfig = next.bridge;
      if (!same(old.config.queue, next.bridge.config.queue)) atRestart.push('queue');
      if (!same(old.config.metrics, next.bridge.config.metrics)) {
        await this.metrics?.stop();
        this.metrics = undefined;
        await this.startMetrics(next.bridge.config.metrics);
        applied.push('metrics');
      }
    }
    return { applied, atRestart };
  }

  /** New plan: unchanged connections stay up, changed ones are replaced, queues are handed over. */
  private async rewire(old: LoadedConfig<BridgeConfig>, next: LoadedConfig<BridgeConfig>): Promise<void> {
    const bridge = this.bridge as Bridge;
    const plan = planBridge(next.config);
    const kept = new Map<string, MessageEndpoint>();
    const created = new Map<string, MessageEndpoint>();
    const oldPlan = new Map((this.plan?.connections ?? []).map((c) => [c.id, c]));
    for (const connection of plan.connections) {
      const before = oldPlan.get(connection.id);
      const endpoint = this.endpoints.get(connection.id);
      if (endpoint && before && same(endpointSettings(before, old), endpointSettings(connection, next))) {
        kept.set(connection.id, endpoint);
      } else {
        created.set(connection.id, this.createEndpoint(connection, next));
      }
    }
    // a certificate file that cannot be read fails the reload here, before anything changed
    for (const id of created.keys()) {
      const connection = plan.connections.find((c) => c.id === id) as ConnectionPlan;
      const index = next.config.remotes.findIndex((r) => r.name === connection.remote);
      const block = index < 0 ? next.config.hub : (next.config.remotes[index] as BridgeConfig['remotes'][number]);
      readTlsMaterial(block, next.dir, index < 0 ? 'hub' : `remotes[${index}]`);
    }
    const retired = [...this.endpoints].filter(([id, e]) => kept.get(id) !== e).map(([, e]) => e);
    const endpoints = new Map([...kept, ...created]);
    // new subscriptions are registered before the new connections connect (the first CONNACK
    // subscribes them); the old connections stop before the new ones start, so what they had
    // in flight is back in its queue, in order, before anything newer goes out
    await bridge.apply(plan, endpoints);
    await Promise.all(retired.map((e) => e.stop(2_000)));
    this.endpoints.clear();
    for (const [id, e] of endpoints) this.endpoints.set(id, e);
    this.plan = plan;
    this.monitor?.follow(this.endpoints);
    this.stateTopics?.follow(this.hubStateTopics(plan, next.config));
    for (const endpoint of created.values()) await endpoint.start(this.abort.signal);
    this.options.logger.info(
      { kept: [...kept.keys()], reconnected: [...created.keys()], routes: plan.routes.length },
      'bridge rewired',
    );
  }

  private async startMetrics(config: BridgeConfig['metrics']): Promise<void> {
    const { logger } = this.options;
    if (config) {
      const { createAgentMetrics } = await import('./metrics/agent-metrics.js');
      const { MetricsServer } = await import('./metrics/metrics-server.js');
      const registry = createAgentMetrics({
        dispatchers: () => this.dispatchers,
        connections: () => this.endpoints,
        qos0Dropped: () => [...this.dispatchers.values()].reduce((n, d) => n + d.queue.stats.qos0Dropped, 0),
        store: () => this.store?.stats,
        ...(this.hub ? { hub: () => (this.hub?.running ? this.hub.broker.status() : undefined) } : {}),
        connectionStates: () => this.monitor?.states() ?? [],
        oldestAgeSeconds: (d) => this.statusReport?.oldestAgeSeconds(d) ?? 0,
      });
      const status = this.statusReport;
      this.metrics = new MetricsServer(registry, config.listen, status ? () => status.report() : undefined);
      const url = await this.metrics.start();
      this.metricsUrl = url.replace(/\/metrics$/, '');
      logger.info({ url }, 'metrics listening');
    }
  }

  /** Each remote connection's state topic on the hub (`notifications.hub`). */
  private hubStateTopics(plan: BridgePlan, config: BridgeConfig): StateTopic[] {
    const topics: StateTopic[] = [];
    for (const connection of plan.connections) {
      const remote = config.remotes.find((r) => r.name === connection.remote);
      const endpoint = this.endpoints.get(connection.id);
      if (!remote || !endpoint || !remote.notifications.hub) continue;
      topics.push({
        id: connection.id,
        endpoint,
        topic: stateTopic(remote.notifications.hubtopic, connection.clientId),
      });
    }
    return topics;
  }

  /** What /status says about the embedded hub. */
  private hubState() {
    const hub = this.hub;
    const running = hub?.running ?? false;
    return {
      running,
      listening: running && hub ? hub.addresses() : [],
      configured: this.hubConfig?.config.listen.length ?? 0,
      clients: running && hub ? hub.broker.status().clientsConnected : 0,
    };
  }

  /** Stops taking messages, finishes in-flight ones (bounded), disconnects, stops the hub. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const drainMs = this.options.drainMs ?? 10_000;
    await this.bridge?.drain(drainMs);
    // before the hub and the hub connections go: local clients see every remote down
    await this.stateTopics?.allDown();
    // the hub goes before the bridge's connections: from the drain on, a device's message is
    // refused unacknowledged (it sends it again later), never acked and then dropped
    await this.hub?.stop();
    await Promise.all([...this.endpoints.values()].map((e) => e.stop(Math.min(drainMs, 2_000))));
    this.abort.abort();
    this.monitor?.stop();
    this.statusReport?.stop();
    this.store?.close();
    await this.metrics?.stop();
    this.options.logger.info('stopped');
  }

  private createEndpoint(connection: ConnectionPlan, bridge: LoadedConfig<BridgeConfig>): MessageEndpoint {
    const { id, clientId, remote } = connection;
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
    const { notifications } = remoteConfig;
    return createCloudAdapter(remoteConfig, {
      clientId,
      configDir: dir,
      logger,
      field: `remotes[${index}]`,
      ...(notifications.remote ? { stateTopic: stateTopic(notifications.remotetopic, clientId) } : {}),
    });
  }
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Everything a connection's endpoint is built from: equal settings, same connection. */
function endpointSettings(connection: ConnectionPlan, bridge: LoadedConfig<BridgeConfig>): unknown {
  const { config, dir } = bridge;
  const block = connection.remote === undefined ? config.hub : config.remotes.find((r) => r.name === connection.remote);
  return { clientId: connection.clientId, block, dir };
}

/** A state topic with the connection's client id in place of `{clientid}`. */
function stateTopic(template: string, clientId: string): string {
  return template.replaceAll('{clientid}', clientId);
}
