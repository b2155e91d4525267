import { type AwsIotRemoteConfig, type QoS, TetherError } from '@tether/shared';
import type { mqtt5 } from 'aws-iot-device-sdk-v2';
import type { BridgeMessage } from '../core/bridge-message.js';
import type { EndpointEvent, PublishOutcome } from '../core/message-endpoint.js';
import type { InboundHandler } from '../core/message-hold.js';
import { type ConnectionTarget, parseAddress, readTlsMaterial } from '../transport/connection-options.js';
import { deliverToSubscriptions } from '../transport/deliver-to-subscriptions.js';
import { DrainWaiter } from '../transport/drain-waiter.js';
import { EndpointEvents } from '../transport/endpoint-events.js';
import {
  type EndpointSubscription,
  type SubscribeContext,
  subscribeFailed,
  subscriptionsRefused,
} from '../transport/endpoint-subscriptions.js';
import { TransientRefusals } from '../transport/publish-refusals.js';
import { RetryReporter } from '../transport/retry-reporter.js';
import { isSharedFilter } from '../transport/shared-filter.js';
import {
  classifyCrtError,
  crtErrorText,
  describeCrtFailure,
  pubackOutcome,
  publishFailureOutcome,
} from './aws-iot-errors.js';
import { awsIotLimitProblem, subscribeBatches } from './aws-iot-limits.js';
import {
  type AwsIotSdk,
  createAwsIotClient,
  loadAwsIotSdk,
  payloadBuffer,
  readAmazonRootCa1,
  releaseClosedClient,
} from './aws-iot-sdk.js';
import type { AdapterRequest, CloudAdapter } from './cloud-adapter.js';
import { overLimit } from './publish-limits.js';

/** Inbound QoS 1 messages in flight towards us (awaiting the durable commit) before the broker waits. */
const RECEIVE_MAXIMUM = 100;
/** s2n reports a TLS failure only after 10-30 s ("blinding"): an attempt is stuck well after that. */
const ATTEMPT_GRACE_MS = 35_000;
const STOP_WAIT_MS = 3_000;

type PendingPublish = { settle(outcome: PublishOutcome): void };

type Phase = 'idle' | 'connecting' | 'subscribing' | 'connected' | 'restarting' | 'stopped';

/**
 * `provider: aws-iot`: AWS IoT Core through the AWS IoT Device SDK v2 (`mqtt5.Mqtt5Client`
 * configured by `iot.AwsIotMqtt5ClientConfigBuilder`, mutual TLS, MQTT 5), imported on start()
 * so agents without an aws-iot remote never load its native module.
 *
 * It keeps MqttEndpoint's contract: one connection attempt at a time with Tether's backoff (the
 * SDK's own reconnect is not used: on a failure or a drop the client is stopped, which fails
 * every operation it holds, and started again after the backoff); `send` reports `acked` on
 * the PUBACK, `retryable` when the connection is missing or lost or the PUBACK refuses only for
 * now (0x97 quota exceeded, 0x96 rate too high…, reported after a backoff: publish-refusals.ts),
 * `rejected` on a final PUBACK refusal (0x87 not authorized…) or a message over AWS IoT's limits.
 *
 * Inbound PUBACKs are held until the durable queue committed the message: the SDK acks a QoS 1
 * PUBLISH itself once its `messageReceived` listeners return, unless a listener takes the
 * acknowledgement handle (`acknowledgementControl.acquireHandle()`, aws-crt >= 1.31); this
 * adapter takes it and invokes it once every handler is done with the message. AWS IoT re-sends a
 * message whose PUBACK is withheld for long, and after a reconnect; those copies are duplicates
 * (at least once). An aws-crt without that handle acks on receipt; the adapter warns once.
 */
export class AwsIotCloudAdapter implements CloudAdapter {
  readonly name: string;
  /**
   * The bridge keeps its echo guard on AWS IoT Core: subscriptions carry No Local, but a public report
   * says AWS IoT delivered a client's own message with No Local set
   * (https://github.com/aws/aws-iot-device-sdk-python-v2/issues/464), the default device policy lets
   * a thing publish and subscribe one subtree, and `$share/` subscriptions cannot carry No Local at
   * all. The guard costs a lookup per message; a loop costs the account's quota.
   */
  readonly suppressesEchoes = false;
  private readonly target: ConnectionTarget;
  private readonly retries: RetryReporter;
  private readonly refusals: TransientRefusals;
  private readonly subs: EndpointSubscription[] = [];
  private readonly events = new EndpointEvents();
  private readonly drain = new DrainWaiter();
  private readonly subscribeContext: SubscribeContext;
  private readonly pending = new Set<PendingPublish>();
  private client: mqtt5.Mqtt5Client | undefined;
  private phase: Phase = 'idle';
  private stopping = false;
  /** Counts connections: an ack handle from an earlier one is void and never invoked. */
  private generation = 0;
  private attemptTimer: NodeJS.Timeout | undefined;
  /** The client was started and has not reported 'stopped' since. */
  private running = false;
  private readonly stopWaiters = new Set<() => void>();
  private warnedAutoAck = false;

  constructor(
    private readonly config: AwsIotRemoteConfig,
    private readonly request: AdapterRequest,
  ) {
    this.name = config.name;
    this.target = parseAddress(config.address);
    this.retries = new RetryReporter(this.name, config, request.logger, (event) => this.events.emit(event));
    this.refusals = new TransientRefusals(this.name, config, request.logger);
    const { validatesubs } = config;
    this.subscribeContext = { name: this.name, validatesubs, logger: request.logger, events: this.events };
  }

  get connected(): boolean {
    return this.phase === 'connected';
  }

  get refusedTransient(): number {
    return this.refusals.count;
  }

  async start(signal: AbortSignal): Promise<void> {
    const { configDir, field } = this.request;
    const tls = readTlsMaterial(this.config, configDir, field);
    if (!tls.cert || !tls.key) {
      throw new TetherError('TETHER_ERR_CONFIG', `${field}: aws-iot needs cert and key (the thing certificate)`);
    }
    const ca = tls.ca ?? readAmazonRootCa1(field);
    signal.addEventListener('abort', () => void this.stop(0), { once: true });
    let sdk: AwsIotSdk;
    try {
      sdk = await loadAwsIotSdk();
    } catch (error) {
      throw new TetherError(
        'TETHER_ERR_CONNECT',
        `${this.name}: cannot load aws-iot-device-sdk-v2 (${error instanceof Error ? error.message : String(error)})`,
        { cause: error },
      );
    }
    if (this.stopping) return;
    const client = createAwsIotClient(sdk, field, {
      host: this.target.host,
      port: this.target.port,
      clientId: this.request.clientId,
      ca: ca.toString('utf8'),
      cert: tls.cert.toString('utf8'),
      key: tls.key.toString('utf8'),
      keepaliveSec: Math.round(this.config.keepalive / 1000),
      clean: this.config.cleansession,
      sessionExpirySec: Math.round(this.config.sessionexpiry / 1000),
      timeoutMs: this.config.timeout,
      // an unanswered PUBLISH or SUBSCRIBE fails after this instead of waiting for the connection to drop
      ackTimeoutSec: Math.max(1, Math.ceil(this.config.timeout / 1000)),
      receiveMaximum: RECEIVE_MAXIMUM,
    });
    this.client = client;
    client.on('connectionSuccess', (event) => this.onConnectionSuccess(client, event));
    client.on('connectionFailure', (event) => {
      if (client !== this.client || this.phase !== 'connecting') return;
      const { error, connack } = event;
      const failure = { error, connackReason: connack?.reasonCode, reasonString: connack?.reasonString };
      this.restart(describeCrtFailure(failure, this.target.address), false);
    });
    client.on('disconnection', (event) => {
      if (client !== this.client || this.stopping || this.phase === 'restarting') return;
      const { error, disconnect } = event;
      const failure = { error, disconnectReason: disconnect?.reasonCode, reasonString: disconnect?.reasonString };
      this.restart(describeCrtFailure(failure, this.target.address), this.phase === 'connected');
    });
    client.on('stopped', () => {
      this.running = false;
      for (const resolve of [...this.stopWaiters]) resolve();
    });
    client.on('messageReceived', (event) => this.deliver(event));
    // an EventEmitter 'error' without a listener would throw
    client.on('error', (error) =>
      this.request.logger.error({ endpoint: this.name, err: error }, 'aws-iot client error'),
    );
    this.attempt();
  }

  onEvent(listener: (event: EndpointEvent) => void): () => void {
    return this.events.listen(listener);
  }

  async subscribe(filter: string, qos: QoS, handler: InboundHandler): Promise<void> {
    const sub = { filter, qos, handler };
    this.subs.push(sub);
    if (this.client && this.phase === 'connected') await this.subscribeOn(this.client, [sub]);
  }

  publish(message: BridgeMessage): Promise<PublishOutcome> {
    return new Promise((resolve) => this.send(message, resolve));
  }

  send(message: BridgeMessage, done: (outcome: PublishOutcome) => void): void {
    const problem = awsIotLimitProblem(message.topic, message.payload);
    if (problem !== undefined) {
      process.nextTick(done, overLimit(this.name, message.topic, problem));
      return;
    }
    const client = this.client;
    if (!client || this.phase !== 'connected' || this.stopping) {
      const error = new TetherError('TETHER_ERR_CONNECT', `${this.name} is not connected`);
      process.nextTick(done, { status: 'retryable', error });
      return;
    }
    // AWS IoT Core and the SDK have no QoS 2
    const qos = Math.min(message.qos, this.config.maxqos, 1) as 0 | 1;
    const entry: PendingPublish = {
      settle: (outcome) => {
        if (!this.pending.delete(entry)) return; // already settled (e.g. failed by a disconnect)
        done(outcome);
        this.drain.changed();
      },
    };
    this.pending.add(entry);
    let published: ReturnType<typeof client.publish>;
    try {
      published = client.publish({ topicName: message.topic, payload: message.payload, qos, retain: message.retain });
    } catch (error) {
      // aws-crt rejects rather than throws, but a throw must still reach the dispatcher as an
      // outcome (and never synchronously), as publish()'s promise once turned it into one
      process.nextTick(entry.settle, publishFailureOutcome(this.name, message.topic, error));
      return;
    }
    published.then(
      (puback) => {
        const outcome = pubackOutcome(this.name, message.topic, puback);
        if (outcome.status === 'acked') this.refusals.acked();
        // a PUBACK that refuses for now (quota, rate): back to the queue after a backoff
        if (outcome.status === 'retryable') {
          this.refusals.hold(outcome.error, entry.settle);
          this.drain.changed();
        } else entry.settle(outcome);
      },
      (error: unknown) => entry.settle(publishFailureOutcome(this.name, message.topic, error)),
    );
  }

  async stop(drainMs = 5_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.retries.cancel();
    clearTimeout(this.attemptTimer);
    // a publish refused for now waits out its backoff in this process, not at the broker: failed below
    await this.drain.until(() => this.pending.size <= this.refusals.holding || this.phase !== 'connected', drainMs);
    this.phase = 'stopped';
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      await this.stopClient(client);
      this.failPending(new TetherError('TETHER_ERR_CONNECT', `${this.name} stopped`));
      client.close();
    } catch (error) {
      this.request.logger.warn({ endpoint: this.name, err: error }, 'closing the aws-iot client failed');
    }
    // the native client is freed (and the process may exit) only once collected
    releaseClosedClient(client);
  }

  // --- connection lifecycle ---

  private attempt(): void {
    const client = this.client;
    if (this.stopping || !client) return;
    this.phase = 'connecting';
    const graceMs = this.config.timeout + ATTEMPT_GRACE_MS;
    this.attemptTimer = setTimeout(() => {
      if (this.phase !== 'connecting') return;
      this.restart(
        new TetherError('TETHER_ERR_CONNECT', `no connection to ${this.target.address} within ${graceMs} ms`),
        false,
      );
    }, graceMs);
    this.attemptTimer.unref();
    this.running = true;
    client.start();
  }

  private onConnectionSuccess(client: mqtt5.Mqtt5Client, event: mqtt5.ConnectionSuccessEvent): void {
    if (client !== this.client || this.stopping || this.phase !== 'connecting') return;
    clearTimeout(this.attemptTimer);
    this.phase = 'subscribing';
    const generation = ++this.generation;
    // up only once subscribed: a message published after this point is not missed
    this.subscribeOn(client, this.subs).then(
      () => {
        if (generation !== this.generation || this.phase !== 'subscribing') return;
        this.phase = 'connected';
        this.retries.succeeded();
        const sessionPresent = event.connack.sessionPresent;
        this.request.logger.info(
          { endpoint: this.name, address: this.target.address, sessionPresent, clientId: event.settings.clientId },
          'connected',
        );
        this.events.emit({ type: 'connected', sessionPresent });
      },
      (error: unknown) => {
        if (generation !== this.generation || this.phase !== 'subscribing') return;
        this.restart(subscribeFailed(this.subscribeContext, error, crtErrorText), false);
      },
    );
  }

  /** Ends this attempt or connection (stop fails what the client holds) and retries after the backoff. */
  private restart(error: TetherError, afterSuccess: boolean): void {
    const client = this.client;
    if (this.stopping || !client || this.phase === 'restarting') return;
    const wasConnected = this.phase === 'connected';
    this.phase = 'restarting';
    this.drain.changed();
    clearTimeout(this.attemptTimer);
    this.failPending(error);
    if (wasConnected) {
      this.request.logger.warn(
        { endpoint: this.name, address: this.target.address, reason: error.message },
        'disconnected',
      );
      this.events.emit({ type: 'disconnected', reason: error.message });
    }
    void this.stopClient(client).then(() => {
      if (client !== this.client || this.stopping) return;
      this.retries.retryLater(error, afterSuccess, () => this.attempt());
    });
  }

  /** client.stop(), resolved on its 'stopped' event (bounded); at once when it is not running. Never rejects. */
  private stopClient(client: mqtt5.Mqtt5Client): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.stopWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, STOP_WAIT_MS);
      this.stopWaiters.add(done);
      try {
        client.stop();
      } catch {
        done();
      }
    });
  }

  private async subscribeOn(client: mqtt5.Mqtt5Client, subs: readonly EndpointSubscription[]): Promise<void> {
    if (subs.length === 0) return;
    const refused: string[] = [];
    for (const batch of subscribeBatches(subs, this.config.maxqos)) {
      refused.push(...(await this.subscribeBatch(client, batch)));
    }
    if (refused.length === 0) return;
    subscriptionsRefused(
      this.subscribeContext,
      new TetherError('TETHER_ERR_SUBSCRIBE', `${this.name} refused the subscription to ${refused.join('; ')}`),
    );
  }

  /**
   * One SUBSCRIBE; returns the refused filters, each with why. A packet aws-crt refuses before
   * sending is not a connection problem (retrying it would fail the same way forever): the batch is
   * tried one filter at a time so only the bad filter is refused.
   */
  private async subscribeBatch(
    client: mqtt5.Mqtt5Client,
    batch: readonly (readonly [string, QoS])[],
  ): Promise<string[]> {
    let suback: mqtt5.SubackPacket;
    try {
      suback = await client.subscribe({
        // No Local asks the broker not to echo our own publishes (the echo guard stays on anyway), but
        // never on a shared subscription: a Protocol Error [MQTT-3.8.3-4] that aws-crt refuses at once,
        // which would fail every connection attempt; Retain As Published keeps the retain flag
        subscriptions: batch.map(([topicFilter, qos]) => ({
          topicFilter,
          qos: qos as mqtt5.QoS,
          noLocal: !isSharedFilter(topicFilter),
          retainAsPublished: true,
        })),
      });
    } catch (error) {
      const crt = classifyCrtError(error);
      if (crt.kind !== 'refused') throw error;
      if (batch.length === 1) return [`${batch[0]?.[0]} (the AWS IoT SDK refused the SUBSCRIBE: ${crt.text})`];
      const refused: string[] = [];
      for (const one of batch) refused.push(...(await this.subscribeBatch(client, [one])));
      return refused;
    }
    return batch.flatMap(([filter], j) =>
      (suback.reasonCodes[j] ?? 0x80) >= 0x80 ? [`${filter} (SUBACK failure)`] : [],
    );
  }

  /** Hands a message to the matching handlers; sends the PUBACK once all of them stored it. */
  private deliver(event: mqtt5.MessageReceivedEvent): void {
    // must be taken synchronously, inside the listener, or the SDK acks on its own
    const handle = event.acknowledgementControl?.acquireHandle() ?? null;
    const incoming = event.message;
    if (incoming.qos > 0 && !handle && !this.warnedAutoAck) {
      this.warnedAutoAck = true;
      this.request.logger.warn(
        { endpoint: this.name },
        'this aws-crt acknowledges inbound messages on receipt (no manual PUBACK); a crash may lose one',
      );
    }
    const generation = this.generation;
    const ack = () => {
      if (handle && generation === this.generation && this.client && !this.stopping) handle.invokeAcknowledgement();
    };
    const message = {
      topic: incoming.topicName,
      payload: payloadBuffer(incoming.payload),
      qos: incoming.qos as QoS,
      retain: incoming.retain ?? false,
    };
    deliverToSubscriptions(this.subs, message, ack, (error) => {
      // not stored, so not acknowledged: drop the connection and let the broker send it again
      this.request.logger.error(
        { endpoint: this.name, topic: message.topic, reason: error instanceof Error ? error.message : String(error) },
        'message not stored; not acknowledged',
      );
      this.restart(
        new TetherError('TETHER_ERR_STORE', `${this.name}: a received message could not be stored`),
        this.phase === 'connected',
      );
    });
  }

  private failPending(error: TetherError): void {
    this.refusals.flush();
    for (const entry of [...this.pending]) entry.settle({ status: 'retryable', error });
  }
}
