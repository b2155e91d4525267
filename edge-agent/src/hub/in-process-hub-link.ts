import type { Principal, QoS } from '@tether/shared';
import { TetherError, topicNameProblem } from '@tether/shared';
import type { AedesPublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { topicMatches } from '../rules/topic-match.js';
import { MessageHolds } from '../transport/deliver-held.js';
import type {
  BridgeMessage,
  EndpointEvent,
  InboundHandler,
  MessageEndpoint,
  PublishOutcome,
} from '../transport/message-endpoint.js';
import type { EmbeddedHub } from './embedded-hub.js';

export interface InProcessHubLinkOptions {
  readonly username?: string;
  readonly password?: string;
  readonly clientId: string;
  readonly logger: Logger;
}

const NOOP = (): void => {};

type DeliverFunc = (packet: AedesPublishPacket, callback: () => void) => void;

interface LinkSubscription {
  readonly filter: string;
  readonly qos: QoS;
  readonly handler: InboundHandler;
  deliver?: DeliverFunc | undefined;
}

/**
 * The bridge's hub connection when the hub runs in this process: no socket, same rules
 * as a socket client logged in as the bridge's hub principal (credentials, pub/sub
 * permits, message.length.max, hub routes, retained messages on subscribe).
 *
 * aedes acks a publisher before it fans the message out, so the link also taps the hub's
 * ingress: a client's message that a link subscription matches is handed to the handler
 * before the PUBACK, which waits until the handler releases it (the durable queue's commit).
 * Such a message is then skipped when aedes fans it out to the link.
 */
export class InProcessHubLink implements MessageEndpoint {
  readonly name = 'hub';
  /** MQTT 3.1.1 semantics: the link receives its own publishes when it subscribes them. */
  readonly suppressesEchoes = false;
  private readonly subs = new Map<string, LinkSubscription>();
  private readonly listeners = new Set<(event: EndpointEvent) => void>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Payloads already handed over at ingress (aedes shares the Buffer with its fan-out). */
  private readonly captured = new WeakSet<object>();
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
    // subscriptions registered before start are made now, as a socket client does after CONNACK
    for (const sub of [...this.subs.values()]) {
      try {
        await this.attach(sub);
      } catch (err) {
        this.subs.delete(sub.filter);
        const error = err instanceof TetherError ? err : new TetherError('TETHER_ERR_SUBSCRIBE', String(err));
        logger.warn({ endpoint: this.name, code: error.code }, error.message);
        this.emit({ type: 'error', error });
      }
    }
    this.isConnected = true;
    this.hub.setIngressTap((packet, settled) => this.tapIngress(packet, settled));
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
    await this.attach(sub);
  }

  publish(message: BridgeMessage): Promise<PublishOutcome> {
    const principal = this.principal;
    if (!principal || !this.isConnected || this.stopped) {
      const error = new TetherError('TETHER_ERR_CONNECT', 'hub link is not connected');
      return Promise.resolve({ status: 'retryable', error });
    }
    const refusal =
      topicNameProblem(message.topic) ?? this.hub.publishRefusal(principal, message.topic, message.payload.length);
    if (refusal) {
      const error = new TetherError('TETHER_ERR_PUBLISH', `hub refused the publish to ${message.topic}: ${refusal}`);
      return Promise.resolve({ status: 'rejected', error });
    }
    const done = this.hub.publish(message).then(
      (): PublishOutcome => ({ status: 'acked' }),
      (err: unknown): PublishOutcome => ({
        status: 'retryable',
        error: new TetherError('TETHER_ERR_PUBLISH', `hub publish to ${message.topic} failed: ${String(err)}`, {
          cause: err,
        }),
      }),
    );
    this.inflight.add(done);
    void done.finally(() => this.inflight.delete(done));
    return done;
  }

  async stop(drainMs = 5_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.hub.setIngressTap(undefined);
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
      const attached = [...this.subs.values()];
      this.subs.clear();
      await Promise.all(attached.map((s) => this.detach(s)));
    } catch (err) {
      this.options.logger.warn({ endpoint: this.name, err }, 'hub link stop failed');
    }
  }

  /** Checks the sub permits, replaces any subscription on the same filter, then subscribes. */
  private async attach(sub: LinkSubscription): Promise<void> {
    const principal = this.principal as Principal;
    if (!this.hub.authorizer.canSubscribe(principal, sub.filter)) {
      throw new TetherError(
        'TETHER_ERR_SUBSCRIBE',
        `hub refused the subscription to ${sub.filter}: outside the sub permits of ${principal.username}`,
      );
    }
    const previous = this.subs.get(sub.filter);
    this.subs.set(sub.filter, sub); // [MQTT-3.8.4-3]: a new subscription replaces the old one
    if (previous && previous !== sub) await this.detach(previous);
    // aedes requires the callback before deliverfunc returns (its fan-out waits on it)
    const deliver: DeliverFunc = (packet, callback) => {
      try {
        this.deliver(sub, packet.topic, packet.payload, packet.qos, packet.retain);
      } finally {
        callback();
      }
    };
    sub.deliver = deliver;
    const broker = this.hub.broker;
    await new Promise<void>((resolve) => broker.subscribe(sub.filter, deliver, resolve));
    // [MQTT-3.3.1-6]: a new subscription gets the matching retained messages, retain set
    for await (const m of this.hub.retained(sub.filter)) this.deliver(sub, m.topic, m.payload, m.qos, true);
  }

  private async detach(sub: LinkSubscription): Promise<void> {
    const deliver = sub.deliver;
    if (!deliver || !this.hub.running) return;
    sub.deliver = undefined;
    await new Promise<void>((resolve) => this.hub.broker.unsubscribe(sub.filter, deliver, resolve));
  }

  /** A client's authorized PUBLISH, before its PUBACK: hand it over and hold the ack (true) until `settled`. */
  private tapIngress(
    packet: { topic: string; payload: Buffer | string; qos: QoS; retain: boolean },
    settled: (error?: unknown) => void,
  ): boolean {
    if (this.stopped) return false;
    const payload = packet.payload;
    if (typeof payload === 'string') return false; // socket payloads are Buffers; leave others to the fan-out
    let holds: MessageHolds | undefined;
    for (const sub of this.subs.values()) {
      if (!sub.deliver || !topicMatches(sub.filter, packet.topic)) continue;
      holds ??= new MessageHolds(settled, settled);
      const message: BridgeMessage = {
        topic: packet.topic,
        payload,
        qos: Math.min(packet.qos, sub.qos) as QoS,
        retain: packet.retain,
      };
      holds.handTo(sub.handler, message);
    }
    if (!holds) return false;
    this.captured.add(payload);
    holds.release();
    return true;
  }

  private deliver(sub: LinkSubscription, topic: string, payload: Buffer | string, qos: QoS, retain: boolean): void {
    // a replaced or stopped subscription may still see a message while aedes unsubscribes
    if (this.stopped || this.subs.get(sub.filter) !== sub) return;
    // already handed over at ingress, with the publisher's ack held for it
    if (typeof payload === 'object' && this.captured.has(payload)) return;
    // aedes' matcher lets `#` see `$SYS/...`; [MQTT-4.7.2-1] says it must not
    if (topic.charCodeAt(0) === 36 /* $ */ && !topicMatches(sub.filter, topic)) return;
    const message: BridgeMessage = {
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      qos: Math.min(qos, sub.qos) as QoS,
      retain,
    };
    // no publisher ack waits for these (hub-originated or already acked by aedes): failures are logged
    const holds = new MessageHolds(NOOP, (err) => this.handlerFailed(topic, err));
    holds.handTo(sub.handler, message);
    holds.release();
  }

  private handlerFailed(topic: string, err: unknown): void {
    this.options.logger.error({ endpoint: this.name, topic, err }, 'message handler failed');
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
