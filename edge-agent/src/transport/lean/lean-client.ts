import type { Duplex } from 'node:stream';
import type {
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPublishPacket,
  ISubackPacket,
  Packet,
  Parser,
} from 'mqtt-packet';
import mqttPacket from 'mqtt-packet';
import { InboundAcks } from './inbound-acks.js';
import { Keepalive } from './keepalive.js';
import { OutboundInflight, type PublishCallback } from './outbound-inflight.js';
import { PacketIds } from './packet-ids.js';
import { PacketReader, type PacketSink } from './packet-reader.js';
import { PacketWriter } from './packet-writer.js';
import { ReadPacer } from './read-pacer.js';
import { describeReason } from './reason-codes.js';
import {
  connectionClosedError,
  type LeanClientEvents,
  type LeanConnectOptions,
  type LeanMessage,
  type LeanPublishOptions,
  type LeanSubscription,
  type MessageHandler,
  type MqttError,
  mqttError,
  type QoS,
  type ServerProperties,
} from './types.js';

// mqtt-packet pre-builds 65,536 two-byte Buffers on its first generate() (megabytes of heap:
// BENCHMARKS.md); we only generate rare packets with it, so numbers are made on demand. The flag is
// module-wide: every user of this copy of mqtt-packet in the process gets it.
mqttPacket.writeToStream.cacheNumbers = false;

const NOOP = (): void => {};

interface Handshake {
  readonly resolve: (client: LeanMqttClient) => void;
  readonly reject: (error: Error) => void;
}

interface PendingSubscribe {
  readonly resolve: (granted: number[]) => void;
  readonly reject: (error: Error) => void;
}

/**
 * One MQTT 3.1.1/5 connection on mqtt-packet, built for a bridge that must not acknowledge a message
 * before it is stored: the parser keeps reading while acks are held (MQTT.js with customHandleAcks
 * waits for each ack before parsing the next packet), acks leave in arrival order, and every packet
 * written in one tick goes out in one socket write. No reconnect, no offline queue, no retries: one
 * instance is one connection attempt, and pending work rejects with code ECONNCLOSED when it ends.
 */
export class LeanMqttClient {
  readonly protocolVersion: 4 | 5;
  sessionPresent = false;
  /** MQTT 5 CONNACK properties (Receive Maximum, Maximum QoS, ...); empty for 3.1.1. */
  serverProperties: ServerProperties = {};
  private readonly stream: Duplex;
  private readonly parser: Parser;
  private readonly reader: PacketReader;
  private readonly writer: PacketWriter;
  private readonly ids = new PacketIds();
  private readonly inbound: InboundAcks;
  private readonly pacer: ReadPacer;
  private readonly outbound: OutboundInflight;
  private readonly subscribes = new Map<number, PendingSubscribe>();
  private readonly aliases = new Map<number, string>();
  private readonly closeListeners = new Set<LeanClientEvents['close']>();
  private readonly errorListeners = new Set<LeanClientEvents['error']>();
  private readonly onMessage: MessageHandler;
  private readonly keepaliveSec: number;
  private readonly closedPromise: Promise<void>;
  private resolveClosed: () => void = NOOP;
  private state: 'connecting' | 'connected' | 'ending' | 'closed' = 'connecting';
  private closeError: Error | undefined;
  private handshake: Handshake | undefined;
  private timer: NodeJS.Timeout | undefined;
  private keepalive: Keepalive | undefined;
  private maxQos: QoS = 2;
  private retainAvailable = true;

  /** Connects; resolves after a successful CONNACK. Rejections carry `code` (see describeConnectError). */
  static connect(opts: LeanConnectOptions): Promise<LeanMqttClient> {
    return new Promise((resolve, reject) => new LeanMqttClient(opts, { resolve, reject }));
  }

  private constructor(opts: LeanConnectOptions, handshake: Handshake) {
    const v = opts.protocolVersion;
    const maxPendingAcks = opts.maxPendingAcks ?? 1000;
    if (!(maxPendingAcks >= 1)) throw new RangeError('maxPendingAcks must be at least 1');
    // Encoded before the stream exists: an invalid CONNECT throws without leaving a socket behind
    const connect = mqttPacket.generate(connectPacket(opts, maxPendingAcks), { protocolVersion: v });
    this.protocolVersion = v;
    this.onMessage = opts.onMessage;
    this.keepaliveSec = opts.keepaliveSec;
    this.handshake = handshake;
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.stream = opts.stream();
    this.writer = new PacketWriter(this.stream, v);
    this.inbound = new InboundAcks(this.writer, maxPendingAcks, this.applyReadState);
    this.pacer = new ReadPacer(opts.readPauseMs ?? 0, this.applyReadState, () => this.stream.readableLength > 0);
    this.outbound = new OutboundInflight(this.ids, this.writer);
    // the reader decodes PUBLISH and acks itself and hands mqtt-packet only whole rare packets
    this.parser = mqttPacket.parser({ protocolVersion: v });
    this.parser.on('packet', this.onPacket);
    this.reader = new PacketReader(v === 5, this.sink);
    this.parser.on('error', (error: Error) =>
      this.destroy(mqttError(`malformed packet from the broker: ${error.message}`, { code: 'EPROTO', cause: error })),
    );
    // The 'error' listener stays for the stream's lifetime: a late error must never go unhandled
    this.stream.on('error', (error: Error) => this.destroy(this.state === 'ending' ? undefined : error));
    this.stream.on('end', () => this.destroy(undefined));
    this.stream.on('close', () => this.destroy(undefined));
    this.stream.on('data', this.onData);
    const ms = opts.connectTimeoutMs;
    this.timer = setTimeout(() => this.destroy(mqttError(`no CONNACK within ${ms} ms`, { code: 'ETIMEDOUT' })), ms);
    this.timer.unref();
    this.writer.packet(connect);
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Inbound QoS 1/2 messages delivered and not yet acknowledged to the broker. */
  get pendingAcks(): number {
    return this.inbound.pending;
  }

  /** True while reading is paused because maxPendingAcks messages wait for ack(). */
  get readPaused(): boolean {
    return this.inbound.isPaused;
  }

  /** Our QoS 1/2 publishes not yet acknowledged (including those waiting for a Receive Maximum slot). */
  get inflight(): number {
    return this.outbound.size;
  }

  /**
   * QoS 0 resolves once handed to the socket, QoS 1 on PUBACK, QoS 2 on PUBCOMP. A QoS above an MQTT 5
   * server's Maximum QoS is lowered to it and RETAIN dropped when the server has no retain: sending
   * either is a protocol error that would cost the connection (section 3.2.2.3.4, 3.2.2.3.5).
   */
  publish(topic: string, payload: Buffer, opts: LeanPublishOptions): Promise<void> {
    return new Promise((resolve, reject) =>
      this.send(topic, payload, opts, (error) => (error ? reject(error) : resolve())),
    );
  }

  /**
   * publish() with a callback instead of a promise (the bridge's per-message path): `done` runs
   * once, with no error on success. It may run synchronously when the client is not connected or
   * the topic is invalid.
   */
  send(topic: string, payload: Buffer, opts: LeanPublishOptions, done: PublishCallback): void {
    if (this.state !== 'connected') {
      done(connectionClosedError(this.closeError));
      return;
    }
    const qos = Math.min(opts.qos, this.maxQos) as QoS;
    const retain = opts.retain && this.retainAvailable;
    if (qos !== 0) {
      this.outbound.publish(topic, payload, qos, retain, done);
      return;
    }
    try {
      this.writer.publish(topic, payload, 0, retain, false, 0);
    } catch (error) {
      done(error as MqttError);
      return;
    }
    this.writer.flushed(done);
  }

  /** Resolves with the SUBACK codes, one per filter: 0-2 granted QoS, >= 0x80 refused (not an error). */
  subscribe(subs: readonly LeanSubscription[]): Promise<number[]> {
    if (this.state !== 'connected') return Promise.reject(connectionClosedError(this.closeError));
    if (subs.length === 0) return Promise.resolve([]);
    const id = this.ids.allocate();
    if (id === 0) return Promise.reject(new Error('no free packet identifier for SUBSCRIBE'));
    const v5 = this.protocolVersion === 5;
    const subscriptions = subs.map((s) =>
      v5
        ? { topic: s.topic, qos: s.qos, nl: s.nl ?? false, rap: s.rap ?? false, rh: 0 }
        : { topic: s.topic, qos: s.qos },
    );
    try {
      this.writer.packet(
        mqttPacket.generate(
          { cmd: 'subscribe', messageId: id, subscriptions },
          { protocolVersion: this.protocolVersion },
        ),
      );
    } catch (error) {
      this.ids.release(id);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.subscribes.set(id, { resolve, reject }));
  }

  /** Graceful: DISCONNECT, then end the stream (destroyed after 2 s). Otherwise destroy. Idempotent. */
  end(graceful = true): Promise<void> {
    if (this.state === 'closed') return this.closedPromise;
    if (!graceful || this.state === 'connecting') {
      this.destroy(undefined);
    } else if (this.state === 'connected') {
      this.state = 'ending';
      this.keepalive?.stop();
      this.writer.disconnect();
      this.writer.flushNow();
      // Nothing may follow DISCONNECT [MQTT-3.14.4-1]: later acks and publishes are dropped
      this.writer.close(connectionClosedError(undefined));
      this.inbound.close();
      this.stream.end();
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.destroy(undefined), 2_000);
      this.timer.unref();
    }
    return this.closedPromise;
  }

  /** Typed listeners (no EventEmitter 'error' throw); returns an unsubscribe function. A late 'close' still fires. */
  on<E extends keyof LeanClientEvents>(event: E, listener: LeanClientEvents[E]): () => void {
    const set = (event === 'close' ? this.closeListeners : this.errorListeners) as Set<LeanClientEvents[E]>;
    if (this.state === 'closed') {
      const error = this.closeError;
      if (event === 'close') process.nextTick(listener as LeanClientEvents['close'], error);
      else if (error) process.nextTick(listener as LeanClientEvents['error'], error);
      return NOOP;
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.keepalive) this.keepalive.lastReceivedAt = Date.now();
    try {
      this.reader.push(chunk);
    } catch (error) {
      // A throwing onMessage leaves the reader mid-chunk: the connection cannot continue
      this.destroy(mqttError(`handling a packet failed: ${(error as Error).message}`, { cause: error }));
    }
    if (this.state !== 'closed') this.pacer.afterRead(chunk.length);
  };

  /** Reading stops while too many acks are pending or the pacer gathers a batch, and runs otherwise. */
  private readonly applyReadState = (): void => {
    if (this.state === 'closed') return;
    if (this.inbound.isPaused || this.pacer.pausing) this.stream.pause();
    else this.stream.resume();
  };

  /** The hot packets, decoded by PacketReader; the same handling as onPacket gives them. */
  private readonly sink: PacketSink = {
    publish: (topic, payload, qos, retain, dup, id) => {
      if (this.state !== 'connected') {
        if (this.state === 'connecting') this.protocolError('publish');
        return; // after our DISCONNECT: unacked, so the broker keeps it
      }
      const message: LeanMessage = { topic, payload, qos, retain, dup, messageId: id };
      if (qos === 0) {
        this.onMessage(message, NOOP);
        return;
      }
      const ack = this.inbound.receive(id, qos);
      if (ack) this.onMessage(message, ack);
    },
    ack: (type, id, reasonCode) => {
      if (this.state !== 'connected' && this.state !== 'ending') {
        if (this.state === 'connecting') this.protocolError('acknowledgement');
        return;
      }
      if (type === 4) this.outbound.puback(id, reasonCode);
      else if (type === 5) this.outbound.pubrec(id, reasonCode);
      else if (type === 7) this.outbound.pubcomp(id);
      else if (this.state === 'connected') this.inbound.pubrel(id);
    },
    other: (frame) => {
      this.parser.parse(frame);
    },
    malformed: (reason) => {
      this.destroy(mqttError(`malformed packet from the broker: ${reason}`, { code: 'EPROTO' }));
    },
  };

  private protocolError(what: string): void {
    // The first packet from the server must be CONNACK [MQTT-3.2.0-1]
    this.destroy(mqttError(`protocol error: ${what} before CONNACK`, { code: 'EPROTO' }));
  }

  private readonly onPacket = (packet: Packet): void => {
    if (this.state === 'closed') return; // the rest of a chunk after destroy()
    if (this.state === 'connecting' && packet.cmd !== 'connack') {
      // The first packet from the server must be CONNACK [MQTT-3.2.0-1]
      this.destroy(mqttError(`protocol error: ${packet.cmd} before CONNACK`, { code: 'EPROTO' }));
      return;
    }
    const id = packet.messageId ?? 0;
    switch (packet.cmd) {
      case 'publish':
        this.onPublish(packet);
        break;
      case 'puback':
        this.outbound.puback(id, packet.reasonCode);
        break;
      case 'pubrec':
        this.outbound.pubrec(id, packet.reasonCode);
        break;
      case 'pubcomp':
        this.outbound.pubcomp(id);
        break;
      case 'pubrel':
        if (this.state === 'connected') this.inbound.pubrel(id);
        break;
      case 'suback':
        this.onSuback(packet);
        break;
      case 'pingresp':
        break; // onData already noted that something arrived
      case 'connack':
        this.onConnack(packet);
        break;
      case 'disconnect':
        this.onDisconnect(packet);
        break;
      default:
        this.destroy(mqttError(`protocol error: unexpected ${packet.cmd} from the broker`, { code: 'EPROTO' }));
    }
  };

  private onPublish(packet: IPublishPacket): void {
    if (this.state !== 'connected') return; // after our DISCONNECT: unacked, so the broker keeps it
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined && !this.applyTopicAlias(packet, alias)) return;
    const message = packet as unknown as LeanMessage;
    if (packet.qos === 0) {
      this.onMessage(message, NOOP);
      return;
    }
    const ack = this.inbound.receive(packet.messageId ?? 0, packet.qos);
    if (ack) this.onMessage(message, ack);
  }

  /** MQTT 5 topic aliases (section 3.3.2.3.4): a topic with an alias sets it, an empty topic uses it. */
  private applyTopicAlias(packet: IPublishPacket, alias: number): boolean {
    if (packet.topic.length > 0) {
      if (alias === 0) {
        this.destroy(mqttError('protocol error: topic alias 0', { code: 'EPROTO', reasonCode: 0x94 }));
        return false;
      }
      this.aliases.set(alias, packet.topic);
      return true;
    }
    const topic = this.aliases.get(alias);
    if (topic === undefined) {
      this.destroy(mqttError(`protocol error: unknown topic alias ${alias}`, { code: 'EPROTO', reasonCode: 0x94 }));
      return false;
    }
    packet.topic = topic;
    return true;
  }

  private onSuback(packet: ISubackPacket): void {
    const id = packet.messageId ?? 0;
    const pending = this.subscribes.get(id);
    if (!pending) return;
    this.subscribes.delete(id);
    this.ids.release(id);
    pending.resolve(
      (packet.granted as Array<number | { qos: number }>).map((g) => (typeof g === 'number' ? g : g.qos)),
    );
  }

  private onConnack(packet: IConnackPacket): void {
    if (this.state !== 'connecting') {
      this.destroy(mqttError('protocol error: second CONNACK', { code: 'EPROTO' }));
      return;
    }
    const code = packet.reasonCode ?? packet.returnCode ?? 0;
    if (code !== 0) {
      const detail = packet.properties?.reasonString ? `: ${packet.properties.reasonString}` : '';
      const reason = describeReason(code, this.protocolVersion, true);
      this.destroy(mqttError(`broker refused the connection: ${reason}${detail}`, { code, reasonCode: code }));
      return;
    }
    clearTimeout(this.timer);
    this.state = 'connected';
    this.sessionPresent = packet.sessionPresent;
    const props = packet.properties;
    if (props) {
      this.serverProperties = props;
      this.outbound.receiveMaximum = props.receiveMaximum ?? 65535;
      this.maxQos = (props.maximumQoS ?? 2) as QoS;
      this.retainAvailable = props.retainAvailable ?? true;
    }
    const keepaliveSec = props?.serverKeepAlive ?? this.keepaliveSec;
    this.keepalive = new Keepalive(
      keepaliveSec * 1000,
      this.writer,
      () => this.inbound.isPaused,
      () => this.destroy(mqttError(`no answer to PINGREQ within ${keepaliveSec * 1.5} s`, { code: 'ETIMEDOUT' })),
    );
    this.keepalive.start();
    const handshake = this.handshake;
    this.handshake = undefined;
    handshake?.resolve(this);
  }

  /** MQTT 5 server DISCONNECT (section 3.14): the connection ends with its reason code. */
  private onDisconnect(packet: IDisconnectPacket): void {
    const code = packet.reasonCode ?? 0;
    const detail = packet.properties?.reasonString ? `: ${packet.properties.reasonString}` : '';
    this.destroy(mqttError(`broker sent DISCONNECT: ${describeReason(code, 5)}${detail}`, { reasonCode: code }));
  }

  private destroy(error: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeError = error;
    this.reader.stop();
    this.pacer.stop();
    this.stream.destroy();
    clearTimeout(this.timer);
    this.keepalive?.stop();
    const closed = connectionClosedError(error);
    this.writer.close(closed);
    this.inbound.close();
    this.outbound.failAll(closed);
    for (const pending of this.subscribes.values()) pending.reject(closed);
    this.subscribes.clear();
    this.resolveClosed();
    const handshake = this.handshake;
    if (handshake) {
      // Nobody holds this instance yet: the connect() promise is the only report
      this.handshake = undefined;
      handshake.reject(error ?? new Error('closed before CONNACK'));
      return;
    }
    if (error) for (const listener of [...this.errorListeners]) listener(error);
    for (const listener of [...this.closeListeners]) listener(error);
  }
}

function connectPacket(opts: LeanConnectOptions, maxPendingAcks: number): IConnectPacket {
  const password = typeof opts.password === 'string' ? Buffer.from(opts.password) : opts.password;
  const properties: NonNullable<IConnectPacket['properties']> = {
    // Tells a v5 broker to stop at maxPendingAcks unacked messages itself (section 3.1.2.11.3)
    receiveMaximum: Math.min(maxPendingAcks, 65535),
  };
  if (opts.sessionExpirySec !== undefined) properties.sessionExpiryInterval = opts.sessionExpirySec;
  if (opts.topicAliasMaximum) properties.topicAliasMaximum = opts.topicAliasMaximum;
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: opts.protocolVersion,
    clientId: opts.clientId,
    clean: opts.clean,
    keepalive: opts.keepaliveSec,
    ...(opts.username !== undefined ? { username: opts.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(opts.will ? { will: { ...opts.will } } : {}),
    ...(opts.protocolVersion === 5 ? { properties } : {}),
  };
}
