import type { Duplex } from 'node:stream';
import type { Principal } from '@tether/shared';
import type { Logger } from 'pino';
import { FrameReader, type HubPacketSink } from '../codec/frame-reader.js';
import { ReasonCode } from '../codec/reason-codes.js';
import type {
  AckPacket,
  AuthPacket,
  ConnectPacket,
  DisconnectPacket,
  ProtocolVersion,
  PublishPacket,
  SubscribePacket,
  UnsubscribePacket,
} from '../codec/types.js';
import type { Broker } from './broker.js';
import { forLog, type PeerInfo } from './connection-context.js';
import type { Delivery } from './hub-message.js';
import { Wire } from './wire.js';

type State = 'awaiting-connect' | 'authenticating' | 'connected' | 'closed';

/**
 * One client socket: bytes in through the FrameReader, packets to the broker, packets out with
 * one socket write per turn (writes within a turn are corked together). Enforces what is per
 * connection: the CONNECT timeout, keep alive [MQTT-3.1.2-24], topic aliases, the client's
 * Maximum Packet Size and Receive Maximum, and the bounded outgoing buffer.
 */
export class ClientConnection implements HubPacketSink {
  clientId = '';
  principal: Principal | undefined;
  version: ProtocolVersion = 4;
  /** 5.0: the client's Receive Maximum [MQTT-3.3.4-7]; bounds the session's in-flight window. */
  receiveMaximum = 65_535;
  /** 5.0: the largest packet the client accepts [MQTT-3.1.2-24]; 0 = no limit. */
  clientMaxPacket = 0;
  /** QoS 1/2 messages received and not yet acknowledged (QoS 2: until PUBCOMP), against our Receive Maximum. */
  inboundInflight = 0;
  /** Set by DISCONNECT 0x00: the will is not sent [MQTT-3.1.2-10]. */
  cleanDisconnect = false;
  wire: Wire = new Wire(4);
  private state: State = 'awaiting-connect';
  private readonly reader: FrameReader;
  /** Topic aliases the client set (client → hub), bounded by the Topic Alias Maximum we announced. */
  private readonly aliases = new Map<number, string>();
  private topicAliasMaximum = 0;
  /** Topic aliases we set in the client (hub → client), up to the Topic Alias Maximum it announced. */
  private readonly outAliases = new Map<string, number>();
  private clientAliasMaximum = 0;
  /** The keep alive in force: the client's, or the hub's Server Keep Alive (5.0). */
  private keepAliveSec = 0;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private writeTimer: NodeJS.Timeout | undefined;
  private lastRead = Date.now();
  private corked = false;
  /** Packets that arrived while the CONNECT was being authenticated, handled once it is accepted. */
  private held: Array<() => void> = [];

  constructor(
    readonly stream: Duplex,
    readonly peer: PeerInfo,
    private readonly broker: Broker,
    private readonly logger: Logger,
  ) {
    this.reader = new FrameReader(this, { maximumPacketSize: broker.limits.packetSize });
    this.connectTimer = setTimeout(() => this.close('no CONNECT in time'), broker.limits.connectTimeoutMs);
    stream.on('data', (chunk: Buffer) => {
      this.lastRead = Date.now();
      this.reader.push(chunk);
    });
    stream.on('drain', () => this.drained());
    stream.on('error', (err: Error) => this.logger.debug({ peer: peer.address, err: err.message }, 'socket error'));
    stream.on('close', () => this.closed('connection lost'));
  }

  get isConnected(): boolean {
    return this.state === 'connected';
  }

  /** Bytes waiting in the socket's buffer are under the hub's bound: more may be written. */
  get writable(): boolean {
    return this.state === 'connected' && this.stream.writableLength < this.broker.limits.outBufferBytes;
  }

  /** Queues bytes for the socket; writes of one turn leave as one. */
  write(buf: Buffer): void {
    if (this.state === 'closed') return;
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(this.uncork);
    }
    this.stream.write(buf);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.stream.uncork();
    if (this.stream.writableLength >= this.broker.limits.outBufferBytes) this.armWriteTimeout();
  };

  /** Sends one delivery (QoS 0, or QoS 1/2 with its packet id). False if it was too large for the client. */
  sendPublish(d: Delivery, topic: string): boolean {
    const m = d.message;
    let properties = m.properties;
    let topicForWire = topic;
    let newAlias = 0;
    if (this.version === 5) {
      const alias = this.outgoingAlias(topic);
      if (m.expiresAt > 0 || d.subscriptionIds || alias !== 0) {
        properties = { ...properties };
        // [MQTT-3.3.2-6]: the expiry sent is what is left of it
        if (m.expiresAt > 0) {
          properties.messageExpiryInterval = Math.max(0, Math.ceil((m.expiresAt - Date.now()) / 1000));
        }
        if (d.subscriptionIds) properties.subscriptionIdentifiers = d.subscriptionIds;
      }
      if (alias > 0) {
        // a known alias: the topic name goes as zero length (MQTT 5 section 3.3.2.3.4)
        properties = { ...properties, topicAlias: alias };
        topicForWire = '';
      } else if (alias < 0) {
        // a new alias: sent with the topic name, which sets the mapping in the client
        newAlias = -alias;
        properties = { ...properties, topicAlias: newAlias };
      }
    }
    const packet = this.wire.publish(
      topicForWire,
      m.payload,
      d.qos,
      d.retain,
      d.sent && d.qos > 0,
      d.packetId,
      this.version === 5 ? properties : undefined,
    );
    // [MQTT-3.1.2-25]: a packet over the client's Maximum Packet Size is not sent, as if delivered
    if (this.clientMaxPacket > 0 && packet.length > this.clientMaxPacket) return false;
    if (newAlias > 0) this.outAliases.set(topic, newAlias);
    d.sent = true;
    this.write(packet);
    return true;
  }

  /**
   * The topic alias for `topic` toward this client: > 0 a mapping it already has, < 0 a new one to
   * set (its negation), 0 none. The first Topic Alias Maximum topics get one and keep it for the
   * connection; never more than the client allows [MQTT-3.3.2-10], and none when it allows none
   * [MQTT-3.3.2-11]. Mappings die with the connection [MQTT-3.3.2-7].
   */
  private outgoingAlias(topic: string): number {
    if (this.clientAliasMaximum === 0) return 0;
    const known = this.outAliases.get(topic);
    if (known !== undefined) return known;
    return this.outAliases.size < this.clientAliasMaximum ? -(this.outAliases.size + 1) : 0;
  }

  /** Server-initiated close: 5.0 gets a DISCONNECT with the reason first [MQTT-3.14.2-1]. */
  close(why: string, reasonCode?: number): void {
    if (this.state === 'closed') return;
    if (this.version === 5 && reasonCode !== undefined && this.state === 'connected') {
      this.write(this.wire.disconnect(reasonCode, why));
    }
    this.logger.debug({ peer: this.peer.address, clientId: forLog(this.clientId), why }, 'closing connection');
    this.stream.end();
    // a peer that does not read its socket must not keep it open
    setTimeout(() => this.stream.destroy(), 1_000).unref();
    this.closed(why);
  }

  // ---- HubPacketSink: called by the FrameReader, in stream order

  connect(packet: ConnectPacket): void {
    clearTimeout(this.connectTimer);
    this.version = packet.protocolVersion;
    this.wire = new Wire(packet.protocolVersion);
    this.state = 'authenticating';
    this.stream.pause(); // what follows the CONNECT waits for the verdict
    this.broker.connect(this, packet).then(
      (accepted) => {
        if (!accepted || this.state === 'closed') return;
        this.state = 'connected';
        this.startKeepalive(this.keepAliveSec);
        this.broker.writable(this); // what the session kept goes out first [MQTT-4.4.0-1]
        const held = this.held;
        this.held = [];
        for (const run of held) if (this.state === 'connected') run();
        this.stream.resume();
      },
      (err: unknown) => this.close(`CONNECT failed: ${String(err)}`),
    );
  }

  /** The broker accepted the CONNECT: this connection's per-client settings. */
  accepted(
    clientId: string,
    principal: Principal,
    packet: ConnectPacket,
    topicAliasMaximum: number,
    keepAliveSec: number,
  ): void {
    this.clientId = clientId;
    this.keepAliveSec = keepAliveSec;
    this.principal = principal;
    this.topicAliasMaximum = topicAliasMaximum;
    const p = packet.properties;
    if (p?.receiveMaximum) this.receiveMaximum = p.receiveMaximum;
    if (p?.maximumPacketSize) this.clientMaxPacket = p.maximumPacketSize;
    // bounded by ours too: a client may announce 65,535, each alias holds a topic string
    if (p?.topicAliasMaximum) this.clientAliasMaximum = Math.min(p.topicAliasMaximum, topicAliasMaximum);
  }

  publish(packet: PublishPacket): void {
    if (this.whileConnecting(() => this.publish(packet))) return;
    let topic = packet.topic;
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined) {
      // [MQTT-3.3.2-8]/[MQTT-3.3.2-9]: 0 or over our Topic Alias Maximum is a protocol error
      if (alias === 0 || alias > this.topicAliasMaximum) {
        this.close(`topic alias ${alias} out of range`, ReasonCode.TopicAliasInvalid);
        return;
      }
      if (topic === '') {
        const known = this.aliases.get(alias);
        if (known === undefined) {
          this.close(`unknown topic alias ${alias}`, ReasonCode.ProtocolError);
          return;
        }
        topic = known;
      } else {
        this.aliases.set(alias, topic);
      }
    } else if (topic === '') {
      this.close('empty topic without an alias', ReasonCode.ProtocolError);
      return;
    }
    this.broker.clientPublish(this, packet, topic);
  }

  puback(packet: AckPacket): void {
    if (this.whileConnecting(() => this.puback(packet))) return;
    this.broker.acked(this, packet.packetId, 'puback');
  }

  pubrec(packet: AckPacket): void {
    if (this.whileConnecting(() => this.pubrec(packet))) return;
    this.broker.acked(this, packet.packetId, packet.reasonCode >= 0x80 ? 'pubrec-refused' : 'pubrec');
  }

  pubrel(packet: AckPacket): void {
    if (this.whileConnecting(() => this.pubrel(packet))) return;
    this.broker.released(this, packet.packetId);
  }

  pubcomp(packet: AckPacket): void {
    if (this.whileConnecting(() => this.pubcomp(packet))) return;
    this.broker.acked(this, packet.packetId, 'pubcomp');
  }

  subscribe(packet: SubscribePacket): void {
    if (this.whileConnecting(() => this.subscribe(packet))) return;
    this.broker.subscribe(this, packet);
  }

  unsubscribe(packet: UnsubscribePacket): void {
    if (this.whileConnecting(() => this.unsubscribe(packet))) return;
    this.broker.unsubscribe(this, packet);
  }

  pingreq(): void {
    if (this.whileConnecting(() => this.pingreq())) return;
    this.write(this.wire.pingresp());
  }

  disconnect(packet: DisconnectPacket): void {
    if (this.whileConnecting(() => this.disconnect(packet))) return;
    // [MQTT-3.14.4-3]: a normal DISCONNECT discards the will; 0x04 asks for it (5.0)
    this.cleanDisconnect = packet.reasonCode !== 0x04;
    this.broker.disconnecting(this, packet);
    this.stream.end();
    this.closed('client disconnected');
  }

  auth(_packet: AuthPacket): void {
    // no authentication method is offered, so an AUTH is a protocol error [MQTT-4.12.0-1]
    this.close('AUTH without an authentication method', ReasonCode.ProtocolError);
  }

  malformed(reason: string, reasonCode: number, connackReturnCode: number | undefined): void {
    this.broker.stats.malformed++;
    this.broker.refusals.warn(this.peer.address, { clientId: forLog(this.clientId), reason }, 'malformed packet');
    if (this.state === 'awaiting-connect' || this.state === 'authenticating') {
      // a refused CONNECT gets a CONNACK where one exists for the case [MQTT-3.1.4-2], [MQTT-3.2.2-5]
      const version = this.reader.protocolVersion;
      if (version === 5) this.write(new Wire(5).connack(false, reasonCode));
      else if (connackReturnCode !== undefined) this.write(new Wire(4).connack(false, connackReturnCode));
      this.stream.end();
      this.closed(reason);
      return;
    }
    this.close(reason, reasonCode);
  }

  tooLarge(size: number): void {
    this.broker.stats.tooLarge++;
    this.broker.refusals.warn(
      this.peer.address,
      { clientId: forLog(this.clientId), size, limit: this.broker.limits.packetSize },
      'packet over the hub packet size limit',
    );
    // 5.0: DISCONNECT 0x95 [MQTT-3.2.2-15]; 3.1.1: close
    this.close(`packet of ${size} bytes over limits.packetsize`, ReasonCode.PacketTooLarge);
  }

  // ----

  /** Before the CONNECT is accepted, packets wait (bounded by the paused socket: one chunk). */
  private whileConnecting(run: () => void): boolean {
    if (this.state === 'connected') return false;
    if (this.state === 'authenticating') this.held.push(run);
    return true;
  }

  private startKeepalive(keepAliveSec: number): void {
    if (keepAliveSec === 0) return;
    // [MQTT-3.1.2-24]: one and a half keep alive periods without a packet closes the connection
    const limitMs = keepAliveSec * 1500;
    const check = () => {
      if (this.state !== 'connected') return;
      const idle = Date.now() - this.lastRead;
      if (idle >= limitMs) return this.close('keep alive timeout', ReasonCode.KeepAliveTimeout);
      this.keepaliveTimer = setTimeout(check, limitMs - idle);
      this.keepaliveTimer.unref();
    };
    this.keepaliveTimer = setTimeout(check, limitMs);
    this.keepaliveTimer.unref();
  }

  private armWriteTimeout(): void {
    if (this.writeTimer || this.state === 'closed') return;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = undefined;
      if (this.stream.writableLength >= this.broker.limits.outBufferBytes) {
        this.broker.stats.slowDisconnects++;
        this.logger.warn(
          { peer: this.peer.address, clientId: forLog(this.clientId), buffered: this.stream.writableLength },
          'client does not read; disconnected',
        );
        this.close('socket unwritable past limits.writetimeout');
        this.stream.destroy();
      }
    }, this.broker.limits.writeTimeoutMs);
    this.writeTimer.unref();
  }

  private drained(): void {
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    if (this.state === 'connected') this.broker.writable(this);
  }

  private closed(why: string): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.reader.stop();
    clearTimeout(this.connectTimer);
    clearTimeout(this.keepaliveTimer);
    clearTimeout(this.writeTimer);
    this.held = [];
    this.broker.connectionClosed(this, wasConnected, why);
  }
}
