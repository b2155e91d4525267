import type { HubConfig, Principal, QoS } from '@tether/shared';
import { Aedes, type Client } from 'aedes';
import type { Logger } from 'pino';
import { topicMatches } from '../rules/topic-match.js';
import { brokerHandlers, type IngressTap, SYS } from './broker-handlers.js';
import { HubAuthorizer } from './hub-auth.js';
import { HubRoutes, type RoutableMessage } from './hub-routes.js';
import { type HubListener, startListeners } from './listeners.js';
import { OrderedPublisher } from './ordered-publisher.js';

export interface EmbeddedHubOptions {
  readonly logger: Logger;
  /** Folder of the hub's service.yml: relative certificate paths start there. */
  readonly configDir: string;
}

/** aedes' persistence is untyped; this is the part of its 1.x async API the hub reads. */
interface RetainedStore {
  createRetainedStream(pattern: string): AsyncIterable<{ topic: string; payload: Buffer | string; qos: number }>;
}

/**
 * Baetyl-Hub's service.yml served by aedes: the listeners, principals (authentication
 * and topic ACLs), `message.length.max` and hub-side routes.
 */
export class EmbeddedHub {
  readonly authorizer: HubAuthorizer;
  /** Largest accepted PUBLISH payload (`message.length.max`, Baetyl default 32k). */
  readonly maxMessageBytes: number;
  private readonly logger: Logger;
  private readonly routes: HubRoutes;
  private readonly principals = new WeakMap<Client, Principal>();
  private readonly sequencer = new OrderedPublisher(() => this.broker);
  private aedes: Aedes | undefined;
  private listeners: HubListener[] = [];
  private stopping: Promise<void> | undefined;
  private ingressTap: IngressTap | undefined;

  constructor(
    private readonly config: HubConfig,
    private readonly options: EmbeddedHubOptions,
  ) {
    // the agent may already hand in a `module: hub` child; do not bind the key twice
    this.logger = options.logger.bindings().module === 'hub' ? options.logger : options.logger.child({ module: 'hub' });
    this.authorizer = new HubAuthorizer(config.principals);
    // Baetyl-Hub's `message.length.max` default: 32k
    this.maxMessageBytes = config.message?.length?.max ?? 32 * 1024;
    this.routes = new HubRoutes(config.subscriptions, (copy) => this.brokerPublish(copy), this.logger);
  }

  /** The aedes instance; only after start(). */
  get broker(): Aedes {
    if (!this.aedes) throw new Error('EmbeddedHub.broker read before start()');
    return this.aedes;
  }

  get running(): boolean {
    return this.aedes !== undefined && this.stopping === undefined;
  }

  async start(): Promise<void> {
    if (this.aedes || this.stopping) throw new Error('EmbeddedHub.start() called twice');
    if (this.authorizer.anonymous) {
      this.logger.warn('hub has no principals: any client may connect, publish and subscribe without credentials');
    }
    const broker = await Aedes.createBroker(
      brokerHandlers({
        authorizer: this.authorizer,
        principals: this.principals,
        routes: this.routes,
        logger: this.logger,
        publishRefusal: (principal, topic, bytes) => this.publishRefusal(principal, topic, bytes),
        ingress: () => this.ingressTap,
      }),
    );
    this.aedes = broker;
    broker.on('clientReady', (c) =>
      this.logger.debug({ clientId: c.id, username: this.userOf(c) }, 'client connected'),
    );
    broker.on('clientDisconnect', (c) =>
      this.logger.debug({ clientId: c.id, username: this.userOf(c) }, 'client disconnected'),
    );
    broker.on('clientError', (c, err) => this.logger.debug({ clientId: c.id, err: err.message }, 'client error'));
    broker.on('connectionError', (_c, err) => this.logger.debug({ err: err.message }, 'connection refused'));
    try {
      this.listeners = await startListeners(this.config.listen, {
        handle: (stream, req) => broker.handle(stream, req),
        certificate: this.config.certificate,
        configDir: this.options.configDir,
        logger: this.logger,
      });
    } catch (err) {
      await closeBroker(broker);
      this.aedes = undefined;
      throw err;
    }
  }

  /** Bound listener URLs, e.g. `tcp://127.0.0.1:41234`. */
  addresses(): string[] {
    return this.listeners.map((l) => l.url);
  }

  /**
   * Why `principal` may not publish this message, or undefined when it may. One rule for
   * socket clients (authorizePublish) and the in-process link.
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
   * Publishes as an in-process client: delivered and routed exactly like a socket PUBLISH.
   * (aedes sees no client here, so the `published` handler leaves the routing to us.)
   */
  /**
   * Lets the bridge store a client's message before the client gets its PUBACK: aedes acks
   * before it fans a message out, so a subscriber alone cannot hold the ack.
   */
  setIngressTap(tap: IngressTap | undefined): void {
    this.ingressTap = tap;
  }

  async publish(message: RoutableMessage): Promise<void> {
    await this.brokerPublish(message);
    if (this.routes.size > 0 && !message.topic.startsWith(SYS)) this.routes.route(message);
  }

  /** Retained messages matching `filter` (what a SUBSCRIBE would be sent). */
  async *retained(filter: string): AsyncGenerator<RoutableMessage> {
    const store = (this.broker as unknown as { persistence: RetainedStore }).persistence;
    for await (const packet of store.createRetainedStream(filter)) {
      // the store's matcher does not apply [MQTT-4.7.2-1] (`#` must not match `$SYS/...`)
      if (!topicMatches(filter, packet.topic)) continue;
      yield { topic: packet.topic, payload: toBuffer(packet.payload), qos: packet.qos as QoS, retain: true };
    }
  }

  /** Closes listeners and aedes (clients disconnected). Idempotent, never throws. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    try {
      this.sequencer.close();
      if (this.aedes) await closeBroker(this.aedes);
      await Promise.all(this.listeners.map((l) => l.close()));
    } catch (err) {
      this.logger.warn({ err }, 'hub stop failed');
    }
  }

  /** Every publish the hub itself makes goes through the sequencer (see OrderedPublisher). */
  private brokerPublish(m: RoutableMessage): Promise<void> {
    return this.sequencer.publish({
      cmd: 'publish',
      topic: m.topic,
      payload: m.payload,
      qos: m.qos,
      retain: m.retain,
      dup: false,
    });
  }

  private userOf(client: Client): string | undefined {
    return this.principals.get(client)?.username;
  }
}

function toBuffer(payload: Buffer | string): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload) : payload;
}

/** aedes.close() waits for every client; bounded so a stuck socket cannot hold shutdown. */
function closeBroker(broker: Aedes): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    timer.unref();
    broker.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
