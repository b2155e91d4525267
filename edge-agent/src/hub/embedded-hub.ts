import { TLSSocket } from 'node:tls';
import type { HubConfig, Principal, QoS } from '@tether/shared';
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { topicMatches } from '../rules/topic-match.js';
import { DEFAULT_MAX_MESSAGE_BYTES, parseByteSize } from './byte-size.js';
import { HubAuthorizer } from './hub-auth.js';
import { HubRoutes, type RoutableMessage } from './hub-routes.js';
import { type HubListener, startListeners } from './listeners.js';
import { verifiedCommonName } from './tls-files.js';

export interface EmbeddedHubOptions {
  readonly logger: Logger;
  /** Folder of the hub's service.yml: relative certificate paths start there. */
  readonly configDir: string;
}

/** aedes' persistence is untyped; this is the part of its 1.x async API the hub reads. */
interface RetainedStore {
  createRetainedStream(pattern: string): AsyncIterable<{ topic: string; payload: Buffer | string; qos: number }>;
}

const SYS = '$SYS/';

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
  private aedes: Aedes | undefined;
  private listeners: HubListener[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: HubConfig,
    private readonly options: EmbeddedHubOptions,
  ) {
    // the agent may already hand in a `module: hub` child; do not bind the key twice
    this.logger = options.logger.bindings().module === 'hub' ? options.logger : options.logger.child({ module: 'hub' });
    this.authorizer = new HubAuthorizer(config.principals);
    this.maxMessageBytes = parseByteSize(config.message?.length?.max, 'message.length.max', DEFAULT_MAX_MESSAGE_BYTES);
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
    const broker = await Aedes.createBroker(this.handlers());
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

  /** Publishes as an in-process client: delivered and routed exactly like a socket PUBLISH. */
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
      if (this.aedes) await closeBroker(this.aedes);
      await Promise.all(this.listeners.map((l) => l.close()));
    } catch (err) {
      this.logger.warn({ err }, 'hub stop failed');
    }
  }

  private handlers(): AedesOptions {
    return {
      authenticate: (client, username, password, done) => {
        const cn = peerCommonName(client);
        this.authorizer.authenticateAsync(username, password, cn).then(
          (principal) => {
            if (principal) {
              this.principals.set(client, principal);
              return done(null, true);
            }
            // [MQTT-3.2.2-5]: CONNACK with a non-zero code, then close. 4 when a password was
            // tried, 5 (not authorized) for a missing or unverified certificate login.
            const code = password === undefined ? 5 : 4;
            this.logger.warn(
              { clientId: client.id, username, certificateCN: cn, returnCode: code },
              'hub refused CONNECT',
            );
            const error = Object.assign(new Error(code === 4 ? 'bad username or password' : 'not authorized'), {
              returnCode: code as AuthenticateError['returnCode'],
            });
            done(error, null);
          },
          () =>
            done(
              Object.assign(new Error('not authorized'), { returnCode: 5 as AuthenticateError['returnCode'] }),
              null,
            ),
        );
      },
      authorizePublish: (client, packet, done) => {
        // client is null only for wills of a dead cluster peer, never seen with one broker
        if (!client) return done(this.authorizer.anonymous ? null : new Error('publish without a client'));
        const principal = this.principals.get(client);
        const bytes = Buffer.byteLength(packet.payload);
        const reason = principal ? this.publishRefusal(principal, packet.topic, bytes) : 'not authenticated';
        if (!reason) return done(null);
        // aedes then closes the connection without acking: MQTT 3.1.1 has no refusal code for
        // PUBLISH, and [MQTT-3.3.5-2] lets the server close the connection instead.
        this.logger.warn(
          { clientId: client.id, username: principal?.username, topic: packet.topic, reason },
          'hub refused PUBLISH',
        );
        done(new Error(reason));
      },
      authorizeSubscribe: (client, sub, done) => {
        const principal = this.principals.get(client);
        if (principal && this.authorizer.canSubscribe(principal, sub.topic)) return done(null, sub);
        // null, not an error: the SUBACK carries 0x80 for this filter and the connection stays [MQTT-3.9.3]
        this.logger.warn(
          { clientId: client.id, username: principal?.username, filter: sub.topic },
          'hub refused SUBSCRIBE',
        );
        done(null, null);
      },
      published: (packet, client, done) => {
        // Only client publishes are routed; copies go out with no client, so never loop.
        if (client && this.routes.size > 0 && !packet.topic.startsWith(SYS)) {
          this.routes.route({
            topic: packet.topic,
            payload: toBuffer(packet.payload),
            qos: packet.qos,
            retain: packet.retain,
          });
        }
        done(null);
      },
    };
  }

  private brokerPublish(m: RoutableMessage): Promise<void> {
    const packet = {
      cmd: 'publish' as const,
      topic: m.topic,
      payload: m.payload,
      qos: m.qos,
      retain: m.retain,
      dup: false,
    };
    return new Promise((resolve, reject) => this.broker.publish(packet, (err) => (err ? reject(err) : resolve())));
  }

  private userOf(client: Client): string | undefined {
    return this.principals.get(client)?.username;
  }
}

/** The CN of a verified client certificate, from the TLS socket under tcp+tls or wss. */
function peerCommonName(client: Client): string | undefined {
  const socket = client.conn instanceof TLSSocket ? client.conn : client.req?.socket;
  return socket instanceof TLSSocket ? verifiedCommonName(socket) : undefined;
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
