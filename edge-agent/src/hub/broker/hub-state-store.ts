import type { TetherError } from '@tether/shared';
import { QueuedStatements } from '../../queue/queued-statements.js';
import { asBuffer, type SqliteStore } from '../../queue/sqlite-store.js';
import type { ProtocolVersion, PublishProperties, QoS, Will } from '../codec/types.js';
import type { Delivery, HubMessage } from './hub-message.js';
import type { SessionSubscription } from './session.js';

/** What the hub reads back at start. */
export interface StoredHubState {
  readonly retained: HubMessage[];
  readonly sessions: Array<{
    clientId: string;
    expirySec: number;
    version: ProtocolVersion;
    /** Date.now() when its client went away (restart counts as away from then). */
    disconnectedAt: number;
    subscriptions: SessionSubscription[];
    deliveries: Delivery[];
    inboundQos2: number[];
  }>;
  /** The wills of clients that were connected (or within their will delay) when the hub stopped. */
  readonly wills: Array<{ clientId: string; will: Will }>;
  /** The next free message id. */
  readonly nextMessageId: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hub_retained (topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL, props TEXT, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hub_sessions (client_id TEXT PRIMARY KEY, expiry_sec INTEGER NOT NULL, version INTEGER NOT NULL, disconnected_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hub_subs (client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL, options INTEGER NOT NULL, sub_id INTEGER, PRIMARY KEY (client_id, filter)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hub_messages (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, props TEXT, expires_at INTEGER NOT NULL, origin TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hub_outbox (client_id TEXT NOT NULL, msg_id INTEGER NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, sub_ids TEXT, released INTEGER NOT NULL, PRIMARY KEY (client_id, msg_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hub_qos2_in (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hub_wills (client_id TEXT PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, props TEXT);
`;

/**
 * The embedded hub's durable state, in the agent's store (same database and group commit as the
 * bridge's queues): retained messages, persistent sessions with their subscriptions, the messages
 * waiting for them and their QoS 2 state. A message bound for many persistent sessions is written
 * once (hub_messages); each session holds a small row that points at it (hub_outbox), so fan-out
 * does not multiply payload writes.
 *
 * Changes are queued as statements and run in the store's next transaction; `afterCommit`
 * callbacks run once that transaction is durable (the hub holds a publisher's ack on them).
 */
export class HubStateStore {
  private readonly pending: QueuedStatements;
  /** Deliveries whose rows wait for the next transaction: removed before it, they are never written. */
  private readonly pendingAdds = new Map<Delivery, { cancelled: boolean }>();
  readonly stats = { deliveriesNeverWritten: 0 };
  private readonly st: ReturnType<typeof statements>;

  constructor(store: SqliteStore) {
    store.exec(SCHEMA);
    this.st = statements(store);
    this.pending = new QueuedStatements(store);
  }

  /** Runs `cb` once everything queued so far is committed (or failed to be). */
  afterCommit(cb: (error: TetherError | undefined) => void): void {
    this.pending.afterCommit(cb);
  }

  private queue(op: () => void): void {
    this.pending.run(op);
  }

  setRetained(m: HubMessage): void {
    this.queue(() => this.st.putRetained.run(m.topic, m.payload, m.qos, props(m.properties), m.expiresAt));
  }

  deleteRetained(topic: string): void {
    this.queue(() => this.st.deleteRetained.run(topic));
  }

  saveSession(clientId: string, expirySec: number, version: ProtocolVersion, disconnectedAt: number): void {
    this.queue(() => this.st.putSession.run(clientId, expirySec, version, disconnectedAt));
  }

  deleteSession(clientId: string): void {
    this.queue(() => {
      this.st.deleteSession.run(clientId);
      this.st.deleteSubs.run(clientId);
      this.st.deleteOutbox.run(clientId);
      this.st.deleteQos2All.run(clientId);
      this.st.deleteWill.run(clientId);
      this.st.deleteUnreferenced.run();
    });
  }

  /** A connected client's will: kept until it is published or discarded, so a crash does not lose it. */
  saveWill(clientId: string, will: Will): void {
    this.queue(() =>
      this.st.putWill.run(clientId, will.topic, will.payload, will.qos, will.retain ? 1 : 0, props(will.properties)),
    );
  }

  deleteWill(clientId: string): void {
    this.queue(() => this.st.deleteWill.run(clientId));
  }

  saveSubscription(clientId: string, s: SessionSubscription): void {
    const options = (s.noLocal ? 1 : 0) | (s.retainAsPublished ? 2 : 0) | (s.retainHandling << 2);
    this.queue(() => this.st.putSub.run(clientId, s.filter, s.qos, options, s.subscriptionId ?? null));
  }

  deleteSubscription(clientId: string, filter: string): void {
    this.queue(() => this.st.deleteSub.run(clientId, filter));
  }

  /**
   * A persistent session's delivery: the message row once, then the session's pointer to it. The
   * rows are written with the next transaction; a delivery acknowledged before that (an online
   * subscriber is often faster than the group commit) is never written at all.
   */
  addDelivery(clientId: string, d: Delivery): void {
    const m = d.message;
    m.refs++;
    d.stored = true;
    const pending = { cancelled: false };
    this.pendingAdds.set(d, pending);
    const subIds = d.subscriptionIds ? d.subscriptionIds.join(',') : null;
    this.queue(() => {
      if (pending.cancelled) return;
      this.pendingAdds.delete(d);
      if (!m.rowWritten) {
        this.st.putMessage.run(
          m.id,
          m.topic,
          m.payload,
          m.qos,
          m.retain ? 1 : 0,
          props(m.properties),
          m.expiresAt,
          m.origin,
        );
        m.rowWritten = true;
      }
      this.st.putOutbox.run(clientId, m.id, d.qos, d.retain ? 1 : 0, subIds, 0);
    });
  }

  /** QoS 2: PUBREC received; after a restart PUBREL is sent, not the PUBLISH again. */
  releaseDelivery(clientId: string, d: Delivery): void {
    if (d.stored) this.queue(() => this.st.releaseOutbox.run(clientId, d.message.id));
  }

  /** Acknowledged, expired or dropped: the pointer goes, and the message with its last pointer. */
  removeDelivery(clientId: string, d: Delivery): void {
    if (!d.stored) return;
    d.stored = false;
    const m = d.message;
    const last = --m.refs === 0;
    const pending = this.pendingAdds.get(d);
    if (pending) {
      // not written yet: nothing to delete either (a row of the message written for another
      // session goes with its own last pointer, or below when this was the last)
      pending.cancelled = true;
      this.pendingAdds.delete(d);
      this.stats.deliveriesNeverWritten++;
      if (last) {
        this.queue(() => {
          if (m.rowWritten) this.st.deleteMessage.run(m.id);
          m.rowWritten = false;
        });
      }
      return;
    }
    this.queue(() => {
      this.st.deleteOutboxRow.run(clientId, m.id);
      if (last) {
        this.st.deleteMessage.run(m.id);
        m.rowWritten = false;
      }
    });
  }

  addInboundQos2(clientId: string, packetId: number): void {
    this.queue(() => this.st.putQos2.run(clientId, packetId));
  }

  removeInboundQos2(clientId: string, packetId: number): void {
    this.queue(() => this.st.deleteQos2.run(clientId, packetId));
  }

  /** Everything kept, as the hub rebuilds it at start. */
  load(): StoredHubState {
    const messages = new Map<number, HubMessage>();
    for (const r of this.st.allMessages.all() as unknown as MessageRow[])
      messages.set(r.id, rowToMessage(r, r.retain === 1));
    const retained = (this.st.allRetained.all() as unknown as RetainedRow[]).map((r) =>
      rowToMessage({ ...r, id: 0, origin: '' }, true),
    );
    const sessions: StoredHubState['sessions'] = [];
    for (const s of this.st.allSessions.all() as unknown as SessionRow[]) {
      const subscriptions = (this.st.subsOf.all(s.client_id) as unknown as SubRow[]).map(
        (r): SessionSubscription => ({
          filter: r.filter,
          qos: r.qos as QoS,
          noLocal: (r.options & 1) !== 0,
          retainAsPublished: (r.options & 2) !== 0,
          retainHandling: ((r.options >> 2) & 3) as 0 | 1 | 2,
          subscriptionId: r.sub_id ?? undefined,
        }),
      );
      const deliveries: Delivery[] = [];
      for (const o of this.st.outboxOf.all(s.client_id) as unknown as OutboxRow[]) {
        const message = messages.get(o.msg_id);
        if (!message) continue;
        message.refs++;
        deliveries.push({
          message,
          qos: o.qos as QoS,
          retain: o.retain === 1,
          subscriptionIds: o.sub_ids ? o.sub_ids.split(',').map(Number) : undefined,
          stored: true,
          sent: true,
          released: o.released === 1,
          packetId: 0,
        });
      }
      const inboundQos2 = (this.st.qos2Of.all(s.client_id) as unknown as Array<{ packet_id: number }>).map(
        (r) => r.packet_id,
      );
      sessions.push({
        clientId: s.client_id,
        expirySec: s.expiry_sec,
        version: s.version as ProtocolVersion,
        disconnectedAt: s.disconnected_at,
        subscriptions,
        deliveries,
        inboundQos2,
      });
    }
    const wills = (this.st.allWills.all() as unknown as WillRow[]).map((r) => ({
      clientId: r.client_id,
      will: {
        topic: r.topic,
        payload: asBuffer(r.payload),
        qos: r.qos as QoS,
        retain: r.retain === 1,
        ...(r.props ? { properties: JSON.parse(r.props, reviveBuffers) as NonNullable<Will['properties']> } : {}),
      },
    }));
    const max = (this.st.maxMessageId.get() as unknown as { id: number | null }).id ?? 0;
    return { retained, sessions, wills, nextMessageId: max + 1 };
  }
}

interface MessageRow {
  id: number;
  topic: string;
  payload: Uint8Array;
  qos: number;
  retain: number;
  props: string | null;
  expires_at: number;
  origin: string;
}
type RetainedRow = Omit<MessageRow, 'id' | 'origin' | 'retain'>;
interface SessionRow {
  client_id: string;
  expiry_sec: number;
  version: number;
  disconnected_at: number;
}
interface WillRow {
  client_id: string;
  topic: string;
  payload: Uint8Array;
  qos: number;
  retain: number;
  props: string | null;
}
interface SubRow {
  filter: string;
  qos: number;
  options: number;
  sub_id: number | null;
}
interface OutboxRow {
  msg_id: number;
  qos: number;
  retain: number;
  sub_ids: string | null;
  released: number;
}

function rowToMessage(r: Omit<MessageRow, 'retain'>, retain: boolean): HubMessage {
  return {
    rowWritten: r.id !== 0,
    id: r.id,
    topic: r.topic,
    payload: asBuffer(r.payload),
    qos: r.qos as QoS,
    retain,
    properties: r.props ? (JSON.parse(r.props, reviveBuffers) as PublishProperties) : undefined,
    expiresAt: r.expires_at,
    origin: r.origin,
    refs: 0,
  };
}

/** Properties as JSON; Buffers (correlation data) as base64. */
function props(p: PublishProperties | Will['properties'] | undefined): string | null {
  if (!p) return null;
  return JSON.stringify(p, (_k, v: unknown) =>
    v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
      ? { $b: Buffer.from((v as { data: number[] }).data).toString('base64') }
      : v,
  );
}

function reviveBuffers(_k: string, v: unknown): unknown {
  return v && typeof v === 'object' && typeof (v as { $b?: unknown }).$b === 'string'
    ? Buffer.from((v as { $b: string }).$b, 'base64')
    : v;
}

function statements(store: SqliteStore) {
  const p = (sql: string) => store.prepare(sql);
  return {
    putRetained: p(
      'INSERT OR REPLACE INTO hub_retained (topic, payload, qos, props, expires_at) VALUES (?, ?, ?, ?, ?)',
    ),
    deleteRetained: p('DELETE FROM hub_retained WHERE topic = ?'),
    allRetained: p('SELECT topic, payload, qos, props, expires_at FROM hub_retained'),
    putSession: p(
      'INSERT OR REPLACE INTO hub_sessions (client_id, expiry_sec, version, disconnected_at) VALUES (?, ?, ?, ?)',
    ),
    deleteSession: p('DELETE FROM hub_sessions WHERE client_id = ?'),
    allSessions: p('SELECT client_id, expiry_sec, version, disconnected_at FROM hub_sessions'),
    putSub: p('INSERT OR REPLACE INTO hub_subs (client_id, filter, qos, options, sub_id) VALUES (?, ?, ?, ?, ?)'),
    deleteSub: p('DELETE FROM hub_subs WHERE client_id = ? AND filter = ?'),
    deleteSubs: p('DELETE FROM hub_subs WHERE client_id = ?'),
    subsOf: p('SELECT filter, qos, options, sub_id FROM hub_subs WHERE client_id = ?'),
    putMessage: p(
      'INSERT OR REPLACE INTO hub_messages (id, topic, payload, qos, retain, props, expires_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    deleteMessage: p('DELETE FROM hub_messages WHERE id = ?'),
    deleteUnreferenced: p('DELETE FROM hub_messages WHERE id NOT IN (SELECT msg_id FROM hub_outbox)'),
    allMessages: p('SELECT id, topic, payload, qos, retain, props, expires_at, origin FROM hub_messages'),
    maxMessageId: p('SELECT max(id) AS id FROM hub_messages'),
    putOutbox: p(
      'INSERT OR REPLACE INTO hub_outbox (client_id, msg_id, qos, retain, sub_ids, released) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    releaseOutbox: p('UPDATE hub_outbox SET released = 1 WHERE client_id = ? AND msg_id = ?'),
    deleteOutboxRow: p('DELETE FROM hub_outbox WHERE client_id = ? AND msg_id = ?'),
    deleteOutbox: p('DELETE FROM hub_outbox WHERE client_id = ?'),
    outboxOf: p('SELECT msg_id, qos, retain, sub_ids, released FROM hub_outbox WHERE client_id = ? ORDER BY msg_id'),
    putQos2: p('INSERT OR IGNORE INTO hub_qos2_in (client_id, packet_id) VALUES (?, ?)'),
    deleteQos2: p('DELETE FROM hub_qos2_in WHERE client_id = ? AND packet_id = ?'),
    deleteQos2All: p('DELETE FROM hub_qos2_in WHERE client_id = ?'),
    qos2Of: p('SELECT packet_id FROM hub_qos2_in WHERE client_id = ?'),
    putWill: p(
      'INSERT OR REPLACE INTO hub_wills (client_id, topic, payload, qos, retain, props) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    deleteWill: p('DELETE FROM hub_wills WHERE client_id = ?'),
    allWills: p('SELECT client_id, topic, payload, qos, retain, props FROM hub_wills'),
  };
}
