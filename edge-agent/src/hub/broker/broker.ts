import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Principal } from '@tether/shared';
import type { Logger } from 'pino';
import { HELD, type InboundHandler, type MessageHold, MessageHolds } from '../../core/message-hold.js';
import { ConnackReturnCode, ReasonCode } from '../codec/reason-codes.js';
import { parseSharedSubscription } from '../codec/topic-rules.js';
import type {
  ConnectPacket,
  DisconnectPacket,
  PublishPacket,
  SubscribePacket,
  UnsubscribePacket,
  Will,
} from '../codec/types.js';
import type { SubscriptionOptions } from '../routing/subscription.js';
import type { SubscriptionIndex } from '../routing/subscription-index.js';
import type { BrokerLimits } from './broker-limits.js';
import { BrokerStats } from './broker-stats.js';
import { ClientConnection } from './client-connection.js';
import { forLog, type HubPolicy, type PeerInfo, RefusalLog } from './connection-context.js';
import { type Delivery, type HubMessage, retainPayload } from './hub-message.js';
import type { HubStateStore } from './hub-state-store.js';
import type { HubStatus } from './hub-status.js';
import { InternalSubscribers } from './internal-subscribers.js';
import { LoginThrottle } from './login-throttle.js';
import { RetainedMessages } from './retained-messages.js';
import { Session, type SessionSubscription } from './session.js';
import { SessionLifecycle } from './session-lifecycle.js';

export interface BrokerOptions {
  readonly limits: BrokerLimits;
  readonly policy: HubPolicy;
  readonly index: SubscriptionIndex;
  /** Durable state; without it sessions and retained messages live in memory only. */
  readonly store: HubStateStore | undefined;
  readonly logger: Logger;
  /** Called with every message a client published and the hub accepted (hub routes). */
  readonly onClientMessage?: (message: HubMessage) => void;
}

/**
 * The hub's core: sessions, who gets which message, and when a publisher may be acknowledged.
 *
 * "Safe to acknowledge" has one home, MessageHolds: a client's QoS 1/2 message is acknowledged
 * once every destination that must not lose it holds it — the store committed the deliveries of
 * persistent sessions, the bridge's queue (an internal subscriber) stored it. Sessions that end
 * with their connection get it in memory only, as MQTT allows.
 */
export class Broker {
  readonly stats = new BrokerStats();
  readonly refusals: RefusalLog;
  readonly limits: BrokerLimits;
  readonly internal = new InternalSubscribers();
  readonly retained: RetainedMessages;
  readonly loginThrottle: LoginThrottle;
  private readonly sessions = new Map<string, Session>();
  private readonly connections = new Map<string, ClientConnection>();
  private readonly open = new Set<ClientConnection>();
  private readonly lifecycle: SessionLifecycle;
  /** Wills read back from the store, waiting for releaseRestoredWills() or their client's return. */
  private readonly restoredWills = new Map<string, Will>();
  private nextMessageId = 1;
  private stopped = false;

  constructor(private readonly options: BrokerOptions) {
    this.limits = options.limits;
    this.refusals = new RefusalLog(options.logger);
    this.retained = new RetainedMessages(options.limits.retainedMessages, options.limits.retainedBytes, this.stats);
    this.loginThrottle = new LoginThrottle(options.limits.loginDelay, this.stats);
    this.lifecycle = new SessionLifecycle({
      publishWill: (session, will) => this.publishWill(session.clientId, will),
      endSession: (session) => this.endSession(session),
      logger: options.logger,
    });
  }

  private publishWill(clientId: string, will: Will): void {
    this.options.store?.deleteWill(clientId);
    this.route(
      this.newMessage(will.topic, will.payload, will.qos, will.retain, willPublishProperties(will), clientId),
      undefined,
    );
  }

  /**
   * Wills of clients the hub lost when it stopped (connected, or inside their will delay): their
   * connections ended without a DISCONNECT, so each goes after its delay [MQTT-3.1.2-8], unless
   * the client is back first [MQTT-3.1.3-9]. Called once the whole agent is up, so the bridge's
   * routes see them too.
   */
  releaseRestoredWills(): void {
    for (const [clientId, will] of this.restoredWills) {
      const delayMs = (will.properties?.willDelayInterval ?? 0) * 1000;
      const send = () => {
        if (this.stopped || this.restoredWills.get(clientId) !== will) return;
        this.restoredWills.delete(clientId);
        this.publishWill(clientId, will);
      };
      if (delayMs === 0) send();
      else setTimeout(send, delayMs).unref();
    }
  }

  /** Rebuilds sessions and retained messages from the store (at start, before any listener). */
  restore(): void {
    const store = this.options.store;
    if (!store) return;
    const state = store.load();
    this.nextMessageId = state.nextMessageId;
    for (const w of state.wills) this.restoredWills.set(w.clientId, w.will);
    for (const m of state.retained) this.retained.restore(m);
    const now = Date.now();
    for (const s of state.sessions) {
      const session = new Session(s.clientId, s.expirySec, s.version);
      for (const sub of s.subscriptions) {
        session.subscriptions.set(sub.filter, sub);
        this.options.index.add(s.clientId, sub.filter, optionsOf(sub));
      }
      for (const id of s.inboundQos2) session.inboundQos2.add(id);
      session.requeueFront(s.deliveries);
      this.sessions.set(s.clientId, session);
      // the clock of an offline session runs from when its client went away (or the hub stopped)
      this.lifecycle.offline(session, Math.max(0, s.expirySec * 1000 - (now - s.disconnectedAt)));
    }
    this.stats.sessionsRestored = state.sessions.length;
  }

  status(): HubStatus {
    let queued = 0;
    for (const s of this.sessions.values()) queued += s.queue.length + s.inflight.size;
    return {
      clientsConnected: this.connections.size,
      sessions: this.sessions.size,
      retained: this.retained.size,
      queued,
      stats: this.stats,
      deliveriesNeverWritten: this.options.store?.stats.deliveriesNeverWritten ?? 0,
    };
  }

  /** A new socket from a listener. Over `limits.connections` it is closed at once. */
  accept(stream: Duplex, peer: PeerInfo): void {
    if (this.stopped || this.open.size >= this.limits.maxConnections) {
      this.stats.refusedConnections++;
      this.refusals.warn(peer.address, { limit: this.limits.maxConnections }, 'connection refused: limits.connections');
      stream.destroy();
      return;
    }
    const conn = new ClientConnection(stream, peer, this, this.options.logger);
    this.open.add(conn);
  }

  /** CONNECT: authenticate, take over or resume the session, CONNACK. Resolves true once connected. */
  async connect(conn: ClientConnection, packet: ConnectPacket): Promise<boolean> {
    const v5 = packet.protocolVersion === 5;
    const refuse = (v4code: number, v5code: number, why: string) => {
      this.stats.refusedConnects++;
      this.refusals.warn(
        conn.peer.address,
        { clientId: forLog(packet.clientId), username: forLog(packet.username), why },
        'hub refused CONNECT',
      );
      conn.write(conn.wire.connack(false, v5 ? v5code : v4code));
      conn.close(why);
      return false;
    };
    let clientId = packet.clientId;
    let assigned = false;
    if (clientId === '') {
      // [MQTT-3.1.3-8]: 3.1.1 refuses an empty id with a persistent session; otherwise one is assigned
      if (!v5 && !packet.cleanStart) {
        return refuse(
          ConnackReturnCode.IdentifierRejected,
          ReasonCode.ClientIdentifierNotValid,
          'empty client id without clean session',
        );
      }
      clientId = `tether-${randomBytes(9).toString('base64url')}`;
      assigned = true;
    }
    const principal = await this.options.policy
      .authenticate(packet.username, packet.password, conn.peer.certificateCN)
      .catch(() => undefined);
    if (this.stopped) return refuse(ConnackReturnCode.ServerUnavailable, ReasonCode.ServerShuttingDown, 'hub stopping');
    if (!principal) {
      const noPassword = packet.password === undefined;
      // a failed password login is answered late, later each time from the same address
      if (!noPassword) await this.loginThrottle.hold(conn.peer.address);
      return refuse(
        noPassword ? ConnackReturnCode.NotAuthorized : ConnackReturnCode.BadUserNameOrPassword,
        noPassword ? ReasonCode.NotAuthorized : ReasonCode.BadUserNameOrPassword,
        'bad credentials',
      );
    }
    const maxKeepAlive = this.limits.maxKeepAliveSec;
    if (!v5 && maxKeepAlive > 0 && packet.keepAlive > maxKeepAlive) {
      // 3.1/3.1.1 have no Server Keep Alive to tell the client, so, like Mosquitto, refuse it
      return refuse(
        ConnackReturnCode.IdentifierRejected,
        ReasonCode.UnspecifiedError,
        `keep alive ${packet.keepAlive}s over limits.keepalive (${maxKeepAlive}s)`,
      );
    }
    if (packet.will) {
      const why = this.options.policy.publishRefusal(principal, packet.will.topic, packet.will.payload.length);
      if (why) return refuse(ConnackReturnCode.NotAuthorized, ReasonCode.NotAuthorized, `will refused: ${why}`);
    }
    // [MQTT-3.1.4-3]: an existing connection with this client id is closed first
    const previous = this.connections.get(clientId);
    if (previous) {
      this.stats.takeovers++;
      previous.close('session taken over', ReasonCode.SessionTakenOver);
    }
    const expirySec = v5
      ? (packet.properties?.sessionExpiryInterval ?? 0)
      : packet.cleanStart
        ? 0
        : Math.round(this.limits.sessionExpiryMs / 1000);
    let session = this.sessions.get(clientId);
    // every stored session is in memory (restore()), so only one that was persistent has rows
    const wasPersistent = session?.persistent ?? false;
    if (session && packet.cleanStart) {
      this.endSession(session);
      session = undefined;
    }
    const sessionPresent = session !== undefined;
    if (!session) {
      session = new Session(clientId, expirySec, packet.protocolVersion);
      this.sessions.set(clientId, session);
    }
    session.expirySec = expirySec;
    session.version = packet.protocolVersion;
    // a will kept across a restart is not sent: its client is back [MQTT-3.1.3-9]
    const hadWill = session.will !== undefined || this.restoredWills.delete(clientId);
    session.will = packet.will;
    // the will outlives the read chunk it came in
    if (packet.will) packet.will.payload = Buffer.from(packet.will.payload);
    this.lifecycle.online(session);
    if (session.persistent) this.options.store?.saveSession(clientId, expirySec, packet.protocolVersion, Date.now());
    else if (wasPersistent && sessionPresent) this.options.store?.deleteSession(clientId);
    if (packet.will) this.options.store?.saveWill(clientId, packet.will);
    else if (hadWill) this.options.store?.deleteWill(clientId);
    this.connections.set(clientId, conn);
    const topicAliasMaximum = v5 ? this.limits.topicAliasMaximum : 0;
    conn.accepted(clientId, principal, packet, topicAliasMaximum, effectiveKeepAlive(packet, maxKeepAlive));
    conn.write(
      conn.wire.connack(
        sessionPresent,
        0,
        v5 ? this.connackProperties(packet, assigned ? clientId : undefined) : undefined,
      ),
    );
    this.stats.connects++;
    this.options.logger.debug(
      {
        clientId: forLog(clientId),
        username: forLog(principal.username),
        peer: conn.peer.address,
        listener: conn.peer.listener,
        sessionPresent,
      },
      'client connected',
    );
    // [MQTT-4.4.0-1]: unacknowledged messages go again first, with their packet ids
    const resend = [...session.inflight.values()];
    session.inflight.clear();
    for (const d of resend) d.packetId = 0;
    session.requeueFront(resend);
    return true; // the connection pumps the session once it is connected (ClientConnection.connect)
  }

  private connackProperties(packet: ConnectPacket, assignedId: string | undefined) {
    const keepAlive = effectiveKeepAlive(packet, this.limits.maxKeepAliveSec);
    return {
      receiveMaximum: this.limits.inflight,
      maximumPacketSize: this.limits.packetSize,
      topicAliasMaximum: this.limits.topicAliasMaximum,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
      ...(assignedId ? { assignedClientIdentifier: assignedId } : {}),
      // [MQTT-3.2.2-21]: the client must use the Server Keep Alive we send
      ...(keepAlive !== packet.keepAlive ? { serverKeepAlive: keepAlive } : {}),
    };
  }

  /** A client's PUBLISH (topic resolved from its alias). */
  clientPublish(conn: ClientConnection, packet: PublishPacket, topic: string): void {
    const session = this.sessions.get(conn.clientId);
    const principal = conn.principal as Principal;
    if (!session) return;
    this.stats.received++;
    const qos = packet.qos;
    const id = packet.packetId ?? 0;
    if (qos === 2 && session.inboundQos2.has(id)) {
      // [MQTT-4.3.3-10]: a resent QoS 2 PUBLISH before PUBREL is not delivered again
      conn.write(conn.wire.ack(5, id, 0));
      return;
    }
    const refusal = this.options.policy.publishRefusal(principal, topic, packet.payload.length);
    if (refusal) {
      // like Mosquitto: acknowledged and dropped, the connection stays (5.0 says why) [MQTT-3.3.5-2]
      this.stats.dropped('not-authorized');
      this.refusals.warn(
        conn.peer.address,
        { clientId: forLog(conn.clientId), topic: forLog(topic), reason: forLog(refusal, 200) },
        'hub refused PUBLISH',
      );
      const code = refusal.includes('message.length.max') ? ReasonCode.PacketTooLarge : ReasonCode.NotAuthorized;
      if (qos === 1) conn.write(conn.wire.ack(4, id, code));
      if (qos === 2) conn.write(conn.wire.ack(5, id, code));
      return;
    }
    const props = packet.properties;
    const properties = props && conn.version === 5 ? stripAlias(props) : undefined;
    const message = this.newMessage(topic, packet.payload, qos, packet.retain, properties, conn.clientId);
    if (qos === 0) {
      this.route(message, undefined);
      this.options.onClientMessage?.(message);
      return;
    }
    if (qos === 2) {
      session.inboundQos2.add(id);
      if (session.persistent) this.options.store?.addInboundQos2(conn.clientId, id);
    }
    // 5.0: more unacknowledged QoS 1/2 than the Receive Maximum we announced [MQTT-3.3.4-9]
    if (conn.version === 5 && conn.inboundInflight >= this.limits.inflight) {
      conn.close('receive maximum exceeded', ReasonCode.ReceiveMaximumExceeded);
      return;
    }
    conn.inboundInflight++;
    const ackType = qos === 1 ? 4 : 5;
    const holds = new MessageHolds({
      release: (error) => {
        if (error === undefined) {
          // QoS 2 stays in flight until its PUBCOMP (released())
          if (qos === 1) conn.inboundInflight--;
          conn.write(conn.wire.ack(ackType, id, 0));
          return;
        }
        // not stored: no ack, the connection closes, the client sends it again
        if (qos === 2) session.inboundQos2.delete(id);
        this.options.logger.warn(
          { clientId: forLog(conn.clientId), topic: forLog(topic), reason: String(error) },
          'message not stored; not acknowledged',
        );
        conn.close('store failed', ReasonCode.UnspecifiedError);
      },
    });
    this.route(message, holds);
    this.options.onClientMessage?.(message);
    holds.release();
  }

  /**
   * Publishes as the hub itself (the bridge's downlink, hub routes, wills): delivered like a
   * client's message. `hold`, when given, is released once every persistent destination has it.
   */
  publishAsHub(
    topic: string,
    payload: Buffer,
    qos: 0 | 1 | 2,
    retain: boolean,
    properties: HubMessage['properties'],
    origin: string,
    hold?: MessageHold,
  ): void {
    const message = this.newMessage(topic, payload, qos, retain, properties, origin);
    if (!hold) {
      this.route(message, undefined);
      return;
    }
    const holds = new MessageHolds(hold);
    this.route(message, holds);
    holds.release();
  }

  private newMessage(
    topic: string,
    payload: Buffer,
    qos: 0 | 1 | 2,
    retain: boolean,
    properties: HubMessage['properties'],
    origin: string,
  ): HubMessage {
    const expiry = properties?.messageExpiryInterval;
    return {
      id: 0,
      topic,
      payload,
      qos,
      retain,
      properties,
      expiresAt: expiry !== undefined ? Date.now() + expiry * 1000 : 0,
      origin,
      refs: 0,
    };
  }

  /** Retained store, every matching session, the internal subscribers. */
  private route(message: HubMessage, holds: MessageHolds | undefined): void {
    const store = this.options.store;
    // a retained message is safe once its row is committed, like a persistent session's delivery
    let stored = message.retain && this.retained.publish(message, store);
    // No Local [MQTT-3.8.3-3] is the index's: it leaves out the publisher's own No Local subscriptions
    const matches = this.options.index.match(message.topic, message.origin || undefined, this.isOnline);
    for (const match of matches) {
      const session = this.sessions.get(match.clientId);
      if (!session) continue;
      const qos = Math.min(message.qos, match.qos) as 0 | 1 | 2;
      const d: Delivery = {
        message,
        qos,
        // [MQTT-3.3.1-12]: 3.1.1 and 5.0 without Retain As Published clear retain on live messages
        retain: match.retainAsPublished && message.retain,
        subscriptionIds: match.subscriptionIds.length > 0 ? [...match.subscriptionIds] : undefined,
        stored: false,
        sent: false,
        released: false,
        packetId: 0,
      };
      if (qos > 0 && session.persistent && store) {
        if (message.id === 0) message.id = this.nextMessageId++;
        store.addDelivery(session.clientId, d);
        stored = true;
      }
      this.deliver(session, d);
    }
    if (stored && holds) {
      holds.handTo(this.waitForCommit, message);
    }
    this.internal.deliver(message, holds);
  }

  private readonly isOnline = (clientId: string): boolean => this.connections.has(clientId);

  /** A handler that holds the publisher's ack until the store committed. */
  private readonly waitForCommit: InboundHandler = (_m, hold) => {
    this.options.store?.afterCommit((error) => hold.release(error));
    return HELD;
  };

  /** To a session: at once when its connection can take it, else into its queue (QoS 0: dropped when offline). */
  private deliver(session: Session, d: Delivery): void {
    const conn = this.connections.get(session.clientId);
    if (d.qos === 0) {
      if (!conn?.writable) {
        this.stats.dropped(conn ? 'slow-client' : 'offline-qos0');
        return;
      }
      if (conn.sendPublish(d, d.message.topic)) this.stats.sent++;
      else this.stats.dropped('too-large-for-client');
      return;
    }
    if (conn && session.queue.length === 0 && this.roomInFlight(session, conn)) {
      this.sendQueued(session, conn, d);
      return;
    }
    retainPayload(d.message);
    const dropped = session.enqueue(d, this.limits.queue);
    if (dropped) {
      this.stats.dropped('queue-full');
      this.options.store?.removeDelivery(session.clientId, dropped);
    }
  }

  private roomInFlight(session: Session, conn: ClientConnection): boolean {
    return conn.writable && session.inflight.size < Math.min(this.limits.inflight, conn.receiveMaximum);
  }

  private sendQueued(session: Session, conn: ClientConnection, d: Delivery): void {
    if (d.message.expiresAt > 0 && d.message.expiresAt <= Date.now()) {
      // [MQTT-3.3.2-5]: expired before it could be sent
      this.stats.dropped('expired');
      this.options.store?.removeDelivery(session.clientId, d);
      return;
    }
    if (d.packetId === 0) d.packetId = session.allocatePacketId();
    session.inflight.set(d.packetId, d);
    if (d.released) {
      conn.write(conn.wire.ack(6, d.packetId, 0));
      return;
    }
    if (conn.sendPublish(d, d.message.topic)) {
      this.stats.sent++;
    } else {
      session.inflight.delete(d.packetId);
      this.stats.dropped('too-large-for-client');
      this.options.store?.removeDelivery(session.clientId, d);
    }
  }

  /** Sends what waits while the window and the socket allow. */
  private pump(session: Session): void {
    const conn = this.connections.get(session.clientId);
    if (!conn?.isConnected) return;
    while (session.queue.length > 0 && this.roomInFlight(session, conn)) {
      this.sendQueued(session, conn, session.dequeue() as Delivery);
    }
  }

  /** PUBACK / PUBREC / PUBCOMP from a client. */
  acked(conn: ClientConnection, packetId: number, kind: 'puback' | 'pubrec' | 'pubrec-refused' | 'pubcomp'): void {
    const session = this.sessions.get(conn.clientId);
    const d = session?.inflight.get(packetId);
    if (!session || !d) return; // [MQTT-4.3.2-?]: an ack for nothing in flight is ignored
    if (kind === 'pubrec') {
      d.released = true;
      this.options.store?.releaseDelivery(session.clientId, d);
      conn.write(conn.wire.ack(6, packetId, 0));
      return;
    }
    session.inflight.delete(packetId);
    this.options.store?.removeDelivery(session.clientId, d);
    this.pump(session);
  }

  /** PUBREL: the QoS 2 packet id is free again; PUBCOMP [MQTT-4.3.3-11]. */
  released(conn: ClientConnection, packetId: number): void {
    const session = this.sessions.get(conn.clientId);
    const known = session?.inboundQos2.delete(packetId) ?? false;
    if (known && conn.inboundInflight > 0) conn.inboundInflight--;
    if (known && session?.persistent) this.options.store?.removeInboundQos2(conn.clientId, packetId);
    conn.write(conn.wire.ack(7, packetId, known || conn.version !== 5 ? 0 : ReasonCode.PacketIdentifierNotFound));
  }

  subscribe(conn: ClientConnection, packet: SubscribePacket): void {
    const session = this.sessions.get(conn.clientId);
    const principal = conn.principal as Principal;
    if (!session) return;
    const codes: number[] = [];
    const subscriptionId = packet.properties?.subscriptionIdentifier;
    const retainedToSend: Array<[SessionSubscription, boolean]> = [];
    for (const s of packet.subscriptions) {
      if (s.noLocal && s.filter.startsWith('$share/')) {
        // [MQTT-3.8.3-4]: No Local on a shared subscription is a protocol error
        conn.close('No Local on a shared subscription', ReasonCode.ProtocolError);
        return;
      }
      // a shared subscription is authorized on the filter it shares (MQTT 5 section 4.8.2)
      const aclFilter = parseSharedSubscription(s.filter)?.filter ?? s.filter;
      if (!this.options.policy.canSubscribe(principal, aclFilter)) {
        this.refusals.warn(
          conn.peer.address,
          { clientId: forLog(conn.clientId), filter: forLog(s.filter) },
          'hub refused SUBSCRIBE',
        );
        codes.push(conn.version === 5 ? ReasonCode.NotAuthorized : 0x80);
        continue;
      }
      const existed = session.subscriptions.has(s.filter);
      if (!existed && session.subscriptions.size >= this.limits.maxSubscriptions) {
        codes.push(conn.version === 5 ? ReasonCode.QuotaExceeded : 0x80);
        continue;
      }
      const sub: SessionSubscription = { ...s, subscriptionId };
      // [MQTT-3.8.4-3]: a subscription to the same filter replaces the old one
      session.subscriptions.set(s.filter, sub);
      this.options.index.add(conn.clientId, sub.filter, optionsOf(sub));
      if (session.persistent) this.options.store?.saveSubscription(conn.clientId, sub);
      codes.push(s.qos);
      if (!s.filter.startsWith('$share/')) retainedToSend.push([sub, existed]);
    }
    conn.write(conn.wire.suback(packet.packetId, codes));
    // [MQTT-3.3.1-6]/[MQTT-3.8.4-4]: matching retained messages follow the SUBACK, per Retain Handling
    for (const [sub, existed] of retainedToSend) {
      if (sub.retainHandling === 2 || (sub.retainHandling === 1 && existed)) continue;
      for (const m of this.retained.matching(sub.filter)) {
        this.deliver(session, {
          message: m,
          qos: Math.min(m.qos, sub.qos) as 0 | 1 | 2,
          retain: true,
          subscriptionIds: sub.subscriptionId ? [sub.subscriptionId] : undefined,
          stored: false,
          sent: false,
          released: false,
          packetId: 0,
        });
      }
    }
  }

  unsubscribe(conn: ClientConnection, packet: UnsubscribePacket): void {
    const session = this.sessions.get(conn.clientId);
    if (!session) return;
    const codes = packet.filters.map((filter) => {
      const had = session.subscriptions.delete(filter);
      if (had) {
        this.options.index.remove(conn.clientId, filter);
        if (session.persistent) this.options.store?.deleteSubscription(conn.clientId, filter);
      }
      return had ? 0 : ReasonCode.NoSubscriptionExisted;
    });
    conn.write(conn.wire.unsuback(packet.packetId, codes));
  }

  /** DISCONNECT: 5.0 may change the session expiry, except from 0 [MQTT-3.14.2-2]. */
  disconnecting(conn: ClientConnection, packet: DisconnectPacket): void {
    const session = this.sessions.get(conn.clientId);
    const expiry = packet.properties?.sessionExpiryInterval;
    if (!session || expiry === undefined) return;
    if (session.expirySec === 0 && expiry > 0) {
      this.options.logger.debug({ clientId: forLog(conn.clientId) }, 'DISCONNECT may not raise a session expiry of 0');
      return;
    }
    session.expirySec = expiry;
  }

  /** The socket is gone: the will (unless a clean DISCONNECT), the session kept or ended. */
  connectionClosed(conn: ClientConnection, wasConnected: boolean, why: string): void {
    this.open.delete(conn);
    if (!wasConnected || this.connections.get(conn.clientId) !== conn) return;
    this.connections.delete(conn.clientId);
    const session = this.sessions.get(conn.clientId);
    this.options.logger.debug({ clientId: forLog(conn.clientId), why }, 'client disconnected');
    if (!session) return;
    if (conn.cleanDisconnect && session.will) {
      session.will = undefined;
      this.options.store?.deleteWill(session.clientId);
    }
    if (session.persistent) {
      this.options.store?.saveSession(session.clientId, session.expirySec, session.version, Date.now());
    }
    this.lifecycle.offline(session, session.expirySec * 1000);
  }

  /** The socket drained: what waits may go now. */
  writable(conn: ClientConnection): void {
    const session = this.sessions.get(conn.clientId);
    if (session) this.pump(session);
  }

  private endSession(session: Session): void {
    this.lifecycle.forget(session);
    this.sessions.delete(session.clientId);
    this.options.index.removeClient(session.clientId);
    if (session.persistent || session.queue.length > 0) this.options.store?.deleteSession(session.clientId);
    for (const d of session.queue) this.options.store?.removeDelivery(session.clientId, d);
    for (const d of session.inflight.values()) this.options.store?.removeDelivery(session.clientId, d);
  }

  /** Closes every connection (5.0: DISCONNECT 0x8B); sessions stay in the store. */
  stop(): void {
    this.stopped = true;
    this.lifecycle.stop();
    for (const conn of [...this.open]) conn.close('hub stopping', ReasonCode.ServerShuttingDown);
  }
}

/**
 * The keep alive the connection runs on: a 5.0 client asking for none or more than the hub's
 * maximum gets the maximum, sent as Server Keep Alive [MQTT-3.2.2-21] (Mosquitto's max_keepalive).
 */
function effectiveKeepAlive(packet: ConnectPacket, maxSec: number): number {
  if (packet.protocolVersion !== 5 || maxSec === 0) return packet.keepAlive;
  return packet.keepAlive === 0 || packet.keepAlive > maxSec ? maxSec : packet.keepAlive;
}

/** A will's properties as its PUBLISH carries them: Will Delay Interval is the hub's, not the message's (3.1.3.2). */
function willPublishProperties(will: Will): HubMessage['properties'] {
  if (!will.properties) return undefined;
  const { willDelayInterval: _delay, ...rest } = will.properties;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

function optionsOf(s: SessionSubscription): SubscriptionOptions {
  return {
    qos: s.qos,
    noLocal: s.noLocal,
    retainAsPublished: s.retainAsPublished,
    retainHandling: s.retainHandling,
    ...(s.subscriptionId !== undefined ? { subscriptionId: s.subscriptionId } : {}),
  };
}

function stripAlias(p: NonNullable<PublishPacket['properties']>): HubMessage['properties'] {
  if (p.topicAlias === undefined && p.subscriptionIdentifiers === undefined) return p;
  const { topicAlias: _a, subscriptionIdentifiers: _s, ...rest } = p;
  return rest;
}
