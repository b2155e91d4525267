import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { HubClientConfig, QoS } from '@tether/shared';
import { TetherError } from '@tether/shared';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { topicMatches } from '../rules/topic-match.js';
import { Backoff } from './backoff.js';
import { type ConnectionTarget, parseAddress, readTlsMaterial, type TlsMaterial } from './connection-options.js';
import { describeConnectError } from './describe-error.js';
import type {
  BridgeMessage,
  EndpointEvent,
  InboundHandler,
  MessageEndpoint,
  PublishOutcome,
} from './message-endpoint.js';

export interface MqttEndpointOptions {
  /** `hub` or the remote's name: used in every log line and error. */
  readonly name: string;
  readonly config: HubClientConfig;
  readonly clientId: string;
  readonly configDir: string;
  readonly logger: Logger;
  /** Config path of this block for error messages (`hub`, `remotes[0]`). */
  readonly field: string;
}

interface Subscription {
  readonly filter: string;
  readonly qos: QoS;
  readonly handler: InboundHandler;
}

/**
 * A broker connection over MQTT.js (tcp, ssl, ws, wss; MQTT 3.1.1 or 5) that keeps itself
 * connected. Each attempt gets a fresh MqttClient: in-flight publishes of a lost connection
 * are reported `retryable` so the dispatcher, which owns order and durability, sends them
 * again; MQTT.js's own offline queue and reconnect timer are off.
 */
export class MqttEndpoint implements MessageEndpoint {
  readonly name: string;
  readonly suppressesEchoes: boolean;
  private readonly target: ConnectionTarget;
  private readonly backoff: Backoff;
  private readonly subs: Subscription[] = [];
  private readonly listeners = new Set<(event: EndpointEvent) => void>();
  private readonly inflight = new Set<(outcome: PublishOutcome) => void>();
  private client: MqttClient | undefined;
  private tls: TlsMaterial = {};
  private isConnected = false;
  private stopping = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError: TetherError | undefined;
  /** The reason last reported at error level; a failure series logs each new reason once. */
  private reportedReason: string | undefined;

  constructor(private readonly options: MqttEndpointOptions) {
    this.name = options.name;
    this.target = parseAddress(options.config.address);
    const b = options.config.backoff;
    this.backoff = new Backoff({
      minMs: b?.min ?? 500,
      maxMs: b?.max ?? options.config.interval,
      factor: b?.factor ?? 2,
      jitter: b?.jitter ?? 0.2,
    });
    // MQTT 5 subscriptions carry No Local, so the broker never sends our own publishes back
    this.suppressesEchoes = options.config.protocol === 5;
  }

  get connected(): boolean {
    return this.isConnected;
  }

  async start(signal: AbortSignal): Promise<void> {
    this.tls = readTlsMaterial(this.options.config, this.options.configDir, this.options.field);
    signal.addEventListener('abort', () => void this.stop(0), { once: true });
    this.attempt();
  }

  onEvent(listener: (event: EndpointEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async subscribe(filter: string, qos: QoS, handler: InboundHandler): Promise<void> {
    const sub = { filter, qos, handler };
    this.subs.push(sub);
    if (this.client && this.isConnected) await this.subscribeOn(this.client, [sub]);
  }

  publish(message: BridgeMessage): Promise<PublishOutcome> {
    const client = this.client;
    if (!client || !this.isConnected || this.stopping) {
      return Promise.resolve({
        status: 'retryable',
        error: new TetherError('TETHER_ERR_CONNECT', `${this.name} is not connected`),
      });
    }
    const qos = Math.min(message.qos, this.options.config.maxqos) as QoS;
    return new Promise<PublishOutcome>((resolve) => {
      let settled = false;
      const settle = (outcome: PublishOutcome) => {
        if (settled) return;
        settled = true;
        this.inflight.delete(settle);
        resolve(outcome);
      };
      this.inflight.add(settle);
      client.publish(message.topic, message.payload, { qos, retain: message.retain }, (error, packet) => {
        if (!error) return settle({ status: 'acked' });
        const reasonCode = (packet as { reasonCode?: number } | undefined)?.reasonCode;
        // MQTT 5 PUBACK reason codes >= 0x80 are final refusals (e.g. 0x87 not authorized)
        const status = reasonCode !== undefined && reasonCode >= 0x80 ? 'rejected' : 'retryable';
        settle({
          status,
          error: new TetherError(
            'TETHER_ERR_PUBLISH',
            `${this.name}: publish to ${message.topic} failed: ${error.message}`,
            { cause: error },
          ),
        });
      });
    });
  }

  async stop(drainMs = 5_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.retryTimer);
    if (this.inflight.size > 0 && drainMs > 0) await this.waitForInflight(drainMs);
    const client = this.client;
    this.client = undefined;
    this.failInflight('stopping');
    if (client) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          client.end(true);
          resolve();
        }, 2_000);
        client.end(false, {}, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.isConnected = false;
  }

  // --- connection lifecycle ---

  private attempt(): void {
    if (this.stopping) return;
    this.lastError = undefined;
    const client = this.createClient();
    this.client = client;
    let wasConnected = false;
    client.on('connect', (connack) => {
      wasConnected = true;
      // up only once subscribed: a message published after this point is not missed
      void this.subscribeOn(client, this.subs).then(
        () => {
          if (client !== this.client) return;
          this.isConnected = true;
          this.backoff.reset();
          this.reportedReason = undefined;
          this.options.logger.info(
            { endpoint: this.name, address: this.target.address, sessionPresent: connack.sessionPresent },
            'connected',
          );
          this.emit({ type: 'connected', sessionPresent: connack.sessionPresent });
        },
        (error: unknown) => this.failSubscriptions(client, error),
      );
    });
    client.on('message', (topic, payload, packet) => this.deliver(topic, payload, packet.qos, packet.retain));
    client.on('error', (error) => {
      this.lastError = describeConnectError(error, this.target.address);
    });
    client.on('close', () => {
      if (client !== this.client) return;
      client.removeAllListeners('close');
      client.end(true);
      this.isConnected = false;
      this.failInflight('connection lost');
      if (wasConnected) {
        this.options.logger.warn({ endpoint: this.name, address: this.target.address }, 'disconnected');
        this.emit({ type: 'disconnected', reason: this.lastError?.message ?? 'connection closed' });
      }
      if (!this.stopping) this.scheduleRetry(wasConnected);
    });
  }

  private scheduleRetry(afterSuccess: boolean): void {
    const error =
      this.lastError ??
      new TetherError(
        'TETHER_ERR_CONNECT',
        afterSuccess
          ? `connection to ${this.target.address} closed`
          : `${this.target.address} closed the connection before CONNACK (client certificate or protocol refused?)`,
      );
    const delay = this.backoff.next();
    if (error.message !== this.reportedReason) {
      this.reportedReason = error.message;
      this.options.logger.error(
        { endpoint: this.name, code: error.code, reason: error.message, retryInMs: delay },
        `${this.name}: ${error.message}`,
      );
      this.emit({ type: 'error', error });
    } else {
      this.options.logger.debug({ endpoint: this.name, code: error.code, retryInMs: delay }, 'still failing');
    }
    this.retryTimer = setTimeout(() => this.attempt(), delay);
    this.retryTimer.unref?.();
  }

  private createClient(): MqttClient {
    const { config, clientId } = this.options;
    const { scheme, host, port, path } = this.target;
    const tlsOptions = {
      ...(this.tls.ca ? { ca: this.tls.ca } : {}),
      ...(this.tls.cert ? { cert: this.tls.cert } : {}),
      ...(this.tls.key ? { key: this.tls.key } : {}),
      rejectUnauthorized: !config.insecure,
      ...(config.servername ? { servername: config.servername } : {}),
      ...(config.alpn ? { ALPNProtocols: config.alpn } : {}),
    };
    const options: IClientOptions = {
      clientId,
      clean: config.cleansession,
      keepalive: Math.round(config.keepalive / 1000),
      connectTimeout: config.timeout,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      protocolVersion: config.protocol,
      ...(config.username !== undefined ? { username: config.username } : {}),
      ...(config.password !== undefined ? { password: config.password } : {}),
      // MQTT 5: let the broker keep the session (subscriptions, queued messages) across restarts
      ...(config.protocol === 5 && !config.cleansession
        ? { properties: { sessionExpiryInterval: Math.round(config.sessionexpiry / 1000) } }
        : {}),
    };
    if (scheme === 'ws' || scheme === 'wss') {
      return mqtt.connect(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`, {
        ...options,
        ...tlsOptions,
      });
    }
    // Own stream so TCP_NODELAY is on before the first packet: without it small messages
    // wait for Nagle's algorithm and a bridge adds 6-12 ms each.
    const streamBuilder = () => {
      if (scheme === 'ssl') {
        const servername = config.servername ?? (/^[\d.:]+$/.test(host) ? undefined : host);
        const socket = tlsConnect({ host, port, ...tlsOptions, ...(servername ? { servername } : {}) });
        socket.setNoDelay(true);
        return socket;
      }
      return netConnect({ host, port, noDelay: true });
    };
    return new mqtt.MqttClient(streamBuilder, options);
  }

  private async subscribeOn(client: MqttClient, subs: readonly Subscription[]): Promise<void> {
    if (subs.length === 0) return;
    const v5 = this.options.config.protocol === 5;
    const request: Record<string, { qos: QoS; nl?: boolean; rap?: boolean }> = {};
    for (const s of subs) {
      const qos = Math.max(request[s.filter]?.qos ?? 0, Math.min(s.qos, this.options.config.maxqos)) as QoS;
      // MQTT 5: No Local stops the echo of our own publishes; Retain As Published keeps the retain flag
      request[s.filter] = v5 ? { qos, nl: true, rap: true } : { qos };
    }
    const granted = await client.subscribeAsync(request);
    const refused = granted.filter((g) => g.qos === 128 || (g as { qos: number }).qos >= 0x80);
    if (refused.length > 0) {
      const error = new TetherError(
        'TETHER_ERR_SUBSCRIBE',
        `${this.name} refused the subscription to ${refused.map((g) => g.topic).join(', ')} (SUBACK failure)`,
      );
      if (this.options.config.validatesubs) throw error;
      this.options.logger.warn({ endpoint: this.name, code: error.code }, error.message);
      this.emit({ type: 'error', error });
    }
  }

  private failSubscriptions(client: MqttClient, error: unknown): void {
    const tether =
      error instanceof TetherError
        ? error
        : new TetherError('TETHER_ERR_SUBSCRIBE', `${this.name}: subscribe failed: ${String(error)}`);
    this.lastError = tether;
    // validatesubs: a refused subscription fails the connection, retried with backoff
    client.end(true);
    client.emit('close');
  }

  private deliver(topic: string, payload: Buffer, qos: QoS, retain: boolean): void {
    for (const sub of this.subs) {
      if (!topicMatches(sub.filter, topic)) continue;
      const message: BridgeMessage = { topic, payload, qos: Math.min(qos, sub.qos) as QoS, retain };
      const result = sub.handler(message);
      if (result instanceof Promise) {
        result.catch((error: unknown) =>
          this.options.logger.error({ endpoint: this.name, topic, err: error }, 'message handler failed'),
        );
      }
    }
  }

  private failInflight(reason: string): void {
    if (this.inflight.size === 0) return;
    const error = new TetherError('TETHER_ERR_CONNECT', `${this.name}: ${reason} before the broker acknowledged`);
    for (const settle of [...this.inflight]) settle({ status: 'retryable', error });
  }

  private async waitForInflight(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.inflight.size > 0 && Date.now() < deadline && this.isConnected) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private emit(event: EndpointEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
