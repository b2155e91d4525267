import type { HubConfig, Principal } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgeMessage } from '../core/bridge-message.js';
import type { MessageHold } from '../core/message-hold.js';
import type { SqliteStore } from '../queue/sqlite-store.js';
import { Broker } from './broker/broker.js';
import { brokerLimits } from './broker/broker-limits.js';
import type { HubMessage } from './broker/hub-message.js';
import { HubStateStore } from './broker/hub-state-store.js';
import { SysTopics } from './broker/sys-topics.js';
import { HubAuthorizer } from './hub-auth.js';
import { HubRoutes } from './hub-routes.js';
import { type HubListener, startListeners } from './listeners.js';
import { SubscriptionIndex } from './routing/subscription-index.js';

export interface EmbeddedHubOptions {
  readonly logger: Logger;
  /** Folder of the hub's service.yml: relative certificate paths start there. */
  readonly configDir: string;
  /**
   * Where sessions and retained messages are kept (the agent's store, shared with the bridge's
   * queues). Without one they live in memory and are gone at restart.
   */
  readonly store?: SqliteStore;
}

export const SYS = '$SYS/';
/** How often $SYS/broker/... is refreshed without metrics.report.interval (Mosquitto's sys_interval). */
const SYS_INTERVAL_MS = 10_000;

/**
 * Baetyl-Hub's service.yml served by the hub's own broker (broker/): the listeners, principals
 * (authentication and topic ACLs), `message.length.max`, hub-side routes, and Tether's `limits`.
 */
export class EmbeddedHub {
  readonly authorizer: HubAuthorizer;
  /** Largest accepted PUBLISH payload (`message.length.max`, Baetyl default 32k). */
  readonly maxMessageBytes: number;
  private readonly logger: Logger;
  private readonly routes: HubRoutes;
  private core: Broker | undefined;
  private sys: SysTopics | undefined;
  private listeners: Array<{ readonly configured: string; readonly listener: HubListener }> = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private config: HubConfig,
    private readonly options: EmbeddedHubOptions,
  ) {
    // the agent may already hand in a `module: hub` child; do not bind the key twice
    this.logger = options.logger.bindings().module === 'hub' ? options.logger : options.logger.child({ module: 'hub' });
    this.authorizer = new HubAuthorizer(config.principals, config.anonymous);
    this.maxMessageBytes = config.message?.length?.max ?? 32 * 1024;
    this.routes = new HubRoutes(config.subscriptions, (copy) => this.publishCopy(copy), this.logger);
  }

  /** The broker; only after start(). */
  get broker(): Broker {
    if (!this.core) throw new Error('EmbeddedHub.broker read before start()');
    return this.core;
  }

  get running(): boolean {
    return this.core !== undefined && this.stopping === undefined;
  }

  async start(): Promise<void> {
    if (this.core || this.stopping) throw new Error('EmbeddedHub.start() called twice');
    if (this.authorizer.open) {
      this.logger.warn('hub has no principals: any client may connect, publish and subscribe without credentials');
    }
    const limits = brokerLimits(this.config);
    const broker = new Broker({
      limits,
      policy: {
        authenticate: (u, p, cn) => this.authorizer.authenticateAsync(u, p, cn),
        publishRefusal: (principal, topic, bytes) => this.publishRefusal(principal, topic, bytes),
        canSubscribe: (principal, filter) => this.authorizer.canSubscribe(principal, filter),
      },
      index: new SubscriptionIndex(),
      store: this.options.store ? new HubStateStore(this.options.store) : undefined,
      logger: this.logger,
      ...(this.routes.size > 0 ? { onClientMessage: (m: HubMessage) => this.route(m) } : {}),
    });
    broker.restore();
    if (broker.stats.sessionsRestored > 0) {
      this.logger.info({ sessions: broker.stats.sessionsRestored }, 'hub sessions restored');
    }
    this.core = broker;
    this.sys = new SysTopics(broker);
    this.sys.start(this.config.metrics?.report?.interval ?? SYS_INTERVAL_MS);
    try {
      this.listeners = await this.startListening(this.config.listen, this.config);
    } catch (err) {
      broker.stop();
      this.core = undefined;
      throw err;
    }
  }

  /**
   * The agent is up (the bridge attached, if any): wills of clients lost in the last stop or crash
   * may go now, to every subscriber the running agent has.
   */
  ready(): void {
    this.core?.releaseRestoredWills();
  }

  /** Bound listener URLs, e.g. `tcp://127.0.0.1:41234`. */
  addresses(): string[] {
    return this.listeners.map((l) => l.listener.url);
  }

  /**
   * Applies a new hub config in place (reload): principals and permits at once for every
   * client, listeners closed and opened only where `listen` (or, for ssl/wss, `certificate`)
   * changed, so clients of the other listeners stay connected. Returns what else changed, which
   * takes effect at the next start. A listener that cannot open throws; the others stay applied.
   */
  async reload(next: HubConfig): Promise<string[]> {
    const old = this.config;
    this.config = next;
    if (!same(old.principals, next.principals)) {
      this.authorizer.replace(next.principals, next.anonymous);
      this.logger.info({ principals: next.principals.length }, 'hub principals reloaded');
    }
    const tlsChanged = !same(old.certificate, next.certificate);
    const affected = (configured: string) =>
      !next.listen.includes(configured) || (tlsChanged && /^(ssl|wss):/.test(configured));
    const closing = this.listeners.filter((l) => affected(l.configured));
    this.listeners = this.listeners.filter((l) => !affected(l.configured));
    await Promise.all(closing.map((l) => l.listener.close()));
    const open = new Set(this.listeners.map((l) => l.configured));
    const adding = next.listen.filter((a) => !open.has(a));
    if (closing.length > 0 || adding.length > 0) {
      this.listeners.push(...(await this.startListening(adding, next)));
      this.logger.info(
        { closed: closing.map((l) => l.configured), opened: adding, listen: this.addresses() },
        'hub listeners reloaded',
      );
    }
    const atRestart = ['limits', 'message', 'subscriptions', 'storage', 'metrics', 'shutdown'] as const;
    return atRestart.filter((key) => !same(old[key as keyof HubConfig], next[key as keyof HubConfig]));
  }

  private async startListening(
    listen: readonly string[],
    config: HubConfig,
  ): Promise<Array<{ configured: string; listener: HubListener }>> {
    const broker = this.broker;
    const limits = brokerLimits(config);
    const started = await startListeners(listen, {
      handle: (stream, peer) => broker.accept(stream, peer),
      certificate: config.certificate,
      configDir: this.options.configDir,
      logger: this.logger,
      maxPacketBytes: limits.packetSize,
      handshakeTimeoutMs: limits.connectTimeoutMs,
    });
    return started.map((listener, i) => ({ configured: listen[i] as string, listener }));
  }

  /**
   * Why `principal` may not publish this message, or undefined when it may. One rule for
   * socket clients and the in-process link.
   */
  publishRefusal(principal: Principal, topic: string, payloadBytes: number): string | undefined {
    if (topic.startsWith(SYS)) return `${SYS} topics are reserved for the broker`;
    if (payloadBytes > this.maxMessageBytes) {
      return `payload of ${payloadBytes} bytes exceeds message.length.max (${this.maxMessageBytes})`;
    }
    if (!this.authorizer.canPublish(principal, topic))
      return `${topic} is outside the pub permits of ${principal.username}`;
    return undefined;
  }

  /**
   * The bridge's downlink into the hub: delivered like a client's message (hub routes included),
   * `hold` released once every persistent session it goes to has it stored.
   */
  publishFromLink(message: BridgeMessage, origin: string, hold: MessageHold): void {
    const broker = this.broker;
    broker.publishAsHub(message.topic, message.payload, message.qos, message.retain, undefined, origin, hold);
    if (this.routes.size > 0 && !message.topic.startsWith(SYS)) this.routes.route(message);
  }

  /** Closes listeners and every client connection; sessions stay in the store. Idempotent, never throws. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    try {
      this.sys?.stop();
      this.core?.stop();
      await Promise.all(this.listeners.map((l) => l.listener.close()));
    } catch (err) {
      this.logger.warn({ err }, 'hub stop failed');
    }
  }

  /** Baetyl's hub `subscriptions`: copies of a client's message, published as the hub (never routed again). */
  private route(message: HubMessage): void {
    if (message.topic.startsWith(SYS)) return;
    this.routes.route(message);
  }

  private publishCopy(copy: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean }): Promise<void> {
    this.broker.publishAsHub(copy.topic, copy.payload, copy.qos, copy.retain, undefined, '');
    return Promise.resolve();
  }
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
