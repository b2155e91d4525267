import type { HubClientConfig, QoS } from '@tether/shared';
import { TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgeMessage } from '../core/bridge-message.js';
import { ACKED, type EndpointEvent, type MessageEndpoint, type PublishOutcome } from '../core/message-endpoint.js';
import type { InboundHandler } from '../core/message-hold.js';
import { type ConnectionTarget, parseAddress, readTlsMaterial, type TlsMaterial } from './connection-options.js';
import { deliverToSubscriptions } from './deliver-to-subscriptions.js';
import { describeConnectError } from './describe-error.js';
import { DrainWaiter } from './drain-waiter.js';
import { EndpointEvents } from './endpoint-events.js';
import {
  type EndpointSubscription,
  mergeSubscriptions,
  type SubscribeContext,
  subscribeFailed,
  subscriptionsRefused,
} from './endpoint-subscriptions.js';
import { type LeanMessage, LeanMqttClient, type MqttError } from './lean/index.js';
import { refusalKind, TransientRefusals } from './publish-refusals.js';
import { RetryReporter } from './retry-reporter.js';
import { isSharedFilter } from './shared-filter.js';
import { loadWs, openStream, type WsModule } from './stream-builder.js';

export interface MqttEndpointOptions {
  /** `hub` or the remote's name: used in every log line and error. */
  readonly name: string;
  readonly config: HubClientConfig;
  readonly clientId: string;
  readonly configDir: string;
  readonly logger: Logger;
  /** Config path of this block for error messages (`hub`, `remotes[0]`). */
  readonly field: string;
  /**
   * Connection state topic on this broker: retained `1` once connected, a Last Will of retained
   * `0` for a lost connection, and `0` before a clean stop (a DISCONNECT discards the Will).
   */
  readonly stateTopic?: string;
}

const ONLINE = Buffer.from('1');
const OFFLINE = Buffer.from('0');

/**
 * A broker connection (tcp, ssl, ws, wss; MQTT 3.1.1 or 5) that keeps itself connected, on
 * Tether's lean client. A received message is acknowledged to the broker only when every
 * handler is done with it (the durable queue committed it); a handler failure leaves it
 * unacknowledged and drops the connection, so the broker sends it again. A lost connection
 * reports its in-flight publishes `retryable`: the dispatcher, which owns order and
 * durability, sends them again.
 */
export class MqttEndpoint implements MessageEndpoint {
  readonly name: string;
  private readonly target: ConnectionTarget;
  private readonly retries: RetryReporter;
  private readonly refusals: TransientRefusals;
  private readonly subs: EndpointSubscription[] = [];
  private readonly events = new EndpointEvents();
  private readonly drain = new DrainWaiter();
  private readonly subscribeContext: SubscribeContext;
  private client: LeanMqttClient | undefined;
  private tls: TlsMaterial = {};
  private ws: WsModule | undefined;
  private isConnected = false;
  private stopping = false;
  private inflight = 0;

  constructor(private readonly options: MqttEndpointOptions) {
    this.name = options.name;
    this.target = parseAddress(options.config.address);
    this.retries = new RetryReporter(this.name, options.config, options.logger, (event) => this.events.emit(event));
    this.refusals = new TransientRefusals(this.name, options.config, options.logger);
    const { validatesubs } = options.config;
    this.subscribeContext = { name: this.name, validatesubs, logger: options.logger, events: this.events };
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /**
   * MQTT 5 subscriptions carry No Local, so the broker never sends our own publishes back; a shared
   * subscription cannot carry it [MQTT-3.8.3-4], so with one the bridge keeps its echo guard.
   */
  get suppressesEchoes(): boolean {
    return this.options.config.protocol === 5 && !this.subs.some((s) => isSharedFilter(s.filter));
  }

  get refusedTransient(): number {
    return this.refusals.count;
  }

  async start(signal: AbortSignal): Promise<void> {
    this.tls = readTlsMaterial(this.options.config, this.options.configDir, this.options.field);
    this.ws = await loadWs(this.target);
    signal.addEventListener('abort', () => void this.stop(0), { once: true });
    this.attempt();
  }

  onEvent(listener: (event: EndpointEvent) => void): () => void {
    return this.events.listen(listener);
  }

  async subscribe(filter: string, qos: QoS, handler: InboundHandler): Promise<void> {
    const sub = { filter, qos, handler };
    this.subs.push(sub);
    if (this.client && this.isConnected) await this.subscribeOn(this.client, [sub]);
  }

  publish(message: BridgeMessage): Promise<PublishOutcome> {
    return new Promise((resolve) => this.send(message, resolve));
  }

  send(message: BridgeMessage, done: (outcome: PublishOutcome) => void): void {
    const client = this.client;
    if (!client || !this.isConnected || this.stopping) {
      const error = new TetherError('TETHER_ERR_CONNECT', `${this.name} is not connected`);
      process.nextTick(done, { status: 'retryable', error });
      return;
    }
    const qos = Math.min(message.qos, this.options.config.maxqos) as QoS;
    this.inflight++;
    let sync = true;
    client.send(message.topic, message.payload, { qos, retain: message.retain }, (error?: MqttError) => {
      const finish = (outcome: PublishOutcome) => {
        this.inflight--;
        // the lean client reports a refusal before sending at once; the contract is never synchronous
        if (sync) process.nextTick(done, outcome);
        else done(outcome);
        this.drain.changed();
      };
      if (!error) {
        this.refusals.acked();
        finish(ACKED);
        return;
      }
      const failure = new TetherError(
        'TETHER_ERR_PUBLISH',
        `${this.name}: publish to ${message.topic} failed: ${error.message}`,
        { cause: error },
      );
      const code = error.reasonCode;
      if (code === undefined || code < 0x80) finish({ status: 'retryable', error: failure });
      else if (refusalKind(code) === 'final') finish({ status: 'rejected', error: failure });
      // refused for now (quota, rate, busy): back to the queue, but only after a backoff
      else {
        this.refusals.hold(failure, finish);
        this.drain.changed();
      }
    });
    sync = false;
  }

  async stop(drainMs = 5_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.retries.cancel();
    // a publish refused for now waits out its backoff in this process, not at the broker: flushed below
    await this.drain.until(() => this.inflight <= this.refusals.holding || !this.isConnected, drainMs);
    this.refusals.flush();
    const client = this.client;
    this.client = undefined;
    if (client && this.isConnected && this.options.stateTopic) {
      // [MQTT-3.14.4-3]: a DISCONNECT discards the Will, so say "offline" ourselves first
      client.send(this.options.stateTopic, OFFLINE, { qos: 0, retain: true }, () => {});
    }
    this.isConnected = false;
    await client?.end(true);
  }

  // --- connection lifecycle ---

  /**
   * The CONNECT's username and password, asked for at every attempt: the config's, unless a provider
   * signs a fresh login each time (baidu-iotcore with `timestamped`).
   */
  protected login(): { readonly username?: string | undefined; readonly password?: string | undefined } {
    return this.options.config;
  }

  private attempt(): void {
    if (this.stopping) return;
    const { config, clientId } = this.options;
    const { username, password } = this.login();
    LeanMqttClient.connect({
      stream: () => openStream(this.target, this.tls, config, this.ws),
      clientId,
      clean: config.cleansession,
      keepaliveSec: Math.round(config.keepalive / 1000),
      protocolVersion: config.protocol,
      connectTimeoutMs: config.timeout,
      // a paused TLS or WebSocket stream keeps reading into its own buffer, so only tcp can be paced
      readPauseMs: this.target.scheme === 'tcp' ? config.readpause : 0,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      // MQTT 5: let the broker keep the session (subscriptions, queued messages) across restarts
      ...(config.protocol === 5 && !config.cleansession
        ? { sessionExpirySec: Math.round(config.sessionexpiry / 1000) }
        : {}),
      ...(this.options.stateTopic
        ? { will: { topic: this.options.stateTopic, payload: OFFLINE, qos: 1 as const, retain: true } }
        : {}),
      onMessage: (message, ack) => this.deliver(message, ack),
    }).then(
      (client) => this.onConnected(client),
      (error: unknown) => this.retryLater(this.withStateHint(describeConnectError(error, this.target.address)), false),
    );
  }

  /** A refused CONNECT may be the Will's topic outside the client's permissions: say how to check. */
  private withStateHint(error: TetherError): TetherError {
    if (!this.options.stateTopic || error.code !== 'TETHER_ERR_AUTH') return error;
    return new TetherError(
      error.code,
      `${error.message} (if credentials are right: is its Last Will topic ${this.options.stateTopic} permitted? set notifications.remotetopic, or notifications.remote: false)`,
      { cause: error },
    );
  }

  private onConnected(client: LeanMqttClient): void {
    if (this.stopping) {
      void client.end(true);
      return;
    }
    this.client = client;
    client.on('close', (error) => {
      if (client !== this.client) return;
      this.client = undefined;
      const wasConnected = this.isConnected;
      this.isConnected = false;
      this.drain.changed();
      this.refusals.flush();
      const reason = error ? describeConnectError(error, this.target.address) : undefined;
      if (wasConnected) {
        this.options.logger.warn(
          { endpoint: this.name, address: this.target.address, reason: reason?.message },
          'disconnected',
        );
        this.events.emit({ type: 'disconnected', reason: reason?.message ?? 'connection closed' });
      }
      this.retryLater(
        reason ?? new TetherError('TETHER_ERR_CONNECT', `connection to ${this.target.address} closed`),
        wasConnected,
      );
    });
    // up only once subscribed: a message published after this point is not missed
    this.subscribeOn(client, this.subs).then(
      () => {
        if (client !== this.client) return;
        this.isConnected = true;
        this.retries.succeeded();
        if (this.options.stateTopic) {
          client.send(this.options.stateTopic, ONLINE, { qos: 1, retain: true }, (error?: MqttError) => {
            if (error) {
              this.options.logger.warn(
                { endpoint: this.name, topic: this.options.stateTopic, reason: error.message },
                'state topic not published',
              );
            }
          });
        }
        this.options.logger.info(
          { endpoint: this.name, address: this.target.address, sessionPresent: client.sessionPresent },
          'connected',
        );
        this.events.emit({ type: 'connected', sessionPresent: client.sessionPresent });
      },
      (error: unknown) => {
        subscribeFailed(this.subscribeContext, error);
        // the close that follows retries with backoff
        void client.end(false);
      },
    );
  }

  private retryLater(error: TetherError, afterSuccess: boolean): void {
    if (this.stopping) return;
    this.retries.retryLater(error, afterSuccess, () => this.attempt());
  }

  private async subscribeOn(client: LeanMqttClient, subs: readonly EndpointSubscription[]): Promise<void> {
    if (subs.length === 0) return;
    const v5 = this.options.config.protocol === 5;
    const request = mergeSubscriptions(subs, this.options.config.maxqos).map(([topic, qos]) =>
      // MQTT 5: No Local stops the echo of our own publishes, except on a shared subscription, where
      // it is a Protocol Error [MQTT-3.8.3-4]; Retain As Published keeps the retain flag
      v5 ? { topic, qos, nl: !isSharedFilter(topic), rap: true } : { topic, qos },
    );
    const granted = await client.subscribe(request);
    const refused = request.filter((_, i) => (granted[i] ?? 0x80) >= 0x80).map((r) => r.topic);
    if (refused.length === 0) return;
    subscriptionsRefused(
      this.subscribeContext,
      new TetherError(
        'TETHER_ERR_SUBSCRIBE',
        `${this.name} refused the subscription to ${refused.join(', ')} (SUBACK failure)`,
      ),
    );
  }

  /** Hands a message to the matching handlers; acks the broker once all of them stored it. */
  private deliver(incoming: LeanMessage, ack: () => void): void {
    // the parsed packet is already a BridgeMessage: no copy here, one per subscription below
    deliverToSubscriptions(this.subs, incoming, ack, (error) => {
      // not stored, so not acknowledged: drop the connection and let the broker send it again
      this.options.logger.error(
        { endpoint: this.name, topic: incoming.topic, reason: error instanceof Error ? error.message : String(error) },
        'message not stored; not acknowledged',
      );
      void this.client?.end(false);
    });
  }
}
