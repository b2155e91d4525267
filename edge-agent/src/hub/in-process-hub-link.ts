import type { Principal, QoS } from '@tether/shared';
import { TetherError, topicNameProblem } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgeMessage } from '../core/bridge-message.js';
import { ACKED, type EndpointEvent, type MessageEndpoint, type PublishOutcome } from '../core/message-endpoint.js';
import type { InboundHandler, MessageHold } from '../core/message-hold.js';
import type { EmbeddedHub } from './embedded-hub.js';

export interface InProcessHubLinkOptions {
  readonly username?: string;
  readonly password?: string;
  readonly clientId: string;
  readonly logger: Logger;
}

interface LinkSubscription {
  readonly filter: string;
  readonly qos: QoS;
  readonly handler: InboundHandler;
}

/**
 * The bridge's hub connection when the hub runs in this process: no socket, same rules as a
 * socket client logged in as the bridge's hub principal (credentials, pub/sub permits,
 * message.length.max, hub routes, retained messages on subscribe).
 *
 * The link is one of the broker's destinations (an internal subscriber): a device's QoS 1/2
 * message is handed to the bridge's handler before the device's PUBACK, which waits until the
 * handler says it is safe (the durable queue's commit). The other way, a message the bridge
 * publishes into the hub is reported acked once every persistent session it goes to has it
 * stored.
 */
export class InProcessHubLink implements MessageEndpoint {
  readonly name = 'hub';
  /** MQTT 3.1.1 semantics: the link receives its own publishes when it subscribes them. */
  readonly suppressesEchoes = false;
  private readonly subs = new Map<string, LinkSubscription>();
  private readonly listeners = new Set<(event: EndpointEvent) => void>();
  private readonly inflight = new Set<Promise<unknown>>();
  private principal: Principal | undefined;
  private isConnected = false;
  private stopped = false;

  constructor(
    private readonly hub: EmbeddedHub,
    private readonly options: InProcessHubLinkOptions,
  ) {}

  get connected(): boolean {
    return this.isConnected;
  }

  async start(signal: AbortSignal): Promise<void> {
    if (this.stopped || this.principal) return;
    signal.addEventListener('abort', () => void this.stop(0), { once: true });
    const { username, password, logger } = this.options;
    if (!this.hub.running) return this.fail(new TetherError('TETHER_ERR_CONNECT', 'the embedded hub is not running'));
    // exactly what a CONNECT with these credentials gets (no certificate in process)
    const given = password === undefined ? undefined : Buffer.from(password, 'utf8');
    const principal = await this.hub.authorizer.authenticateAsync(username, given, undefined).catch(() => undefined);
    if (this.stopped) return;
    if (!principal)
      return this.fail(new TetherError('TETHER_ERR_AUTH', `hub refused credentials for user ${username ?? '(none)'}`));
    this.principal = principal;
    this.hub.broker.internal.failures((topic, err) =>
      logger.error({ endpoint: this.name, topic, err }, 'message handler failed'),
    );
    // subscriptions registered before start are made now, as a socket client does after CONNACK
    for (const sub of [...this.subs.values()]) {
      try {
        this.attach(sub);
      } catch (err) {
        this.subs.delete(sub.filter);
        const error = err instanceof TetherError ? err : new TetherError('TETHER_ERR_SUBSCRIBE', String(err));
        logger.warn({ endpoint: this.name, code: error.code }, error.message);
        this.emit({ type: 'error', error });
      }
    }
    this.isConnected = true;
    logger.info(
      { endpoint: this.name, clientId: this.options.clientId, username: principal.username },
      'attached to the embedded hub',
    );
    this.emit({ type: 'connected', sessionPresent: false });
  }

  onEvent(listener: (event: EndpointEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async subscribe(filter: string, qos: QoS, handler: InboundHandler): Promise<void> {
    if (this.stopped) throw new TetherError('TETHER_ERR_SUBSCRIBE', `hub link stopped; cannot subscribe to ${filter}`);
    const sub: LinkSubscription = { filter, qos, handler };
    if (!this.principal) {
      this.subs.set(filter, sub); // made at start(), like MQTT.js subscribing after CONNACK
      return;
    }
    this.attach(sub);
  }

  /** Drops the subscription on `filter` (reload: no rule reads it any more). */
  unsubscribe(filter: string): void {
    if (!this.subs.delete(filter)) return;
    if (this.principal && this.hub.running) this.hub.broker.internal.remove(filter);
  }

  send(message: BridgeMessage, done: (outcome: PublishOutcome) => void): void {
    const principal = this.principal;
    if (!principal || !this.isConnected || this.stopped) {
      const error = new TetherError('TETHER_ERR_CONNECT', 'hub link is not connected');
      queueMicrotask(() => done({ status: 'retryable', error }));
      return;
    }
    const refusal =
      topicNameProblem(message.topic) ?? this.hub.publishRefusal(principal, message.topic, message.payload.length);
    if (refusal) {
      const error = new TetherError('TETHER_ERR_PUBLISH', `hub refused the publish to ${message.topic}: ${refusal}`);
      queueMicrotask(() => done({ status: 'rejected', error }));
      return;
    }
    // released once: the broker counts the message's holders in a MessageHolds
    const hold: MessageHold = {
      release: (err?: unknown) => {
        // the dispatcher's callback never runs inside the broker's (or the store's) loop
        queueMicrotask(() =>
          done(
            err === undefined || err === null
              ? ACKED
              : {
                  status: 'retryable',
                  error: new TetherError(
                    'TETHER_ERR_PUBLISH',
                    `hub publish to ${message.topic} failed: ${String(err)}`,
                    {
                      cause: err,
                    },
                  ),
                },
          ),
        );
      },
    };
    this.hub.publishFromLink(message, this.options.clientId, hold);
  }

  publish(message: BridgeMessage): Promise<PublishOutcome> {
    const done = new Promise<PublishOutcome>((resolve) => this.send(message, resolve));
    this.inflight.add(done);
    void done.finally(() => this.inflight.delete(done));
    return done;
  }

  async stop(drainMs = 5_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      if (this.inflight.size > 0 && drainMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, drainMs);
        });
        await Promise.race([Promise.allSettled([...this.inflight]), timeout]);
        clearTimeout(timer);
      }
      this.isConnected = false;
      if (this.hub.running) for (const sub of this.subs.values()) this.hub.broker.internal.remove(sub.filter);
      this.subs.clear();
    } catch (err) {
      this.options.logger.warn({ endpoint: this.name, err }, 'hub link stop failed');
    }
  }

  /** Checks the sub permits, replaces any subscription on the same filter, sends the retained messages. */
  private attach(sub: LinkSubscription): void {
    const principal = this.principal as Principal;
    if (!this.hub.authorizer.canSubscribe(principal, sub.filter)) {
      throw new TetherError(
        'TETHER_ERR_SUBSCRIBE',
        `hub refused the subscription to ${sub.filter}: outside the sub permits of ${principal.username}`,
      );
    }
    this.subs.set(sub.filter, sub); // [MQTT-3.8.4-3]: a new subscription replaces the old one
    const broker = this.hub.broker;
    broker.internal.add(sub.filter, sub.qos, sub.handler);
    // [MQTT-3.3.1-6]: a new subscription gets the matching retained messages, retain set
    for (const m of broker.retained.matching(sub.filter)) {
      broker.internal.deliverTo(sub.filter, { topic: m.topic, payload: m.payload, qos: m.qos, retain: true });
    }
  }

  private fail(error: TetherError): void {
    this.options.logger.error(
      { endpoint: this.name, code: error.code, username: this.options.username },
      error.message,
    );
    this.emit({ type: 'error', error });
  }

  private emit(event: EndpointEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
