import type { Logger } from 'pino';
import type { MessageEndpoint } from '../core/message-endpoint.js';

/** Publishes a retained message on the hub; resolves once the hub has it (or could not take it). */
export type HubStatePublisher = (topic: string, payload: Buffer) => Promise<void>;

export interface StateTopic {
  /** The remote connection's id. */
  readonly id: string;
  readonly endpoint: MessageEndpoint;
  /** Where its state goes on the hub (`notifications.hubtopic`, client id filled in). */
  readonly topic: string;
}

const UP = Buffer.from('1');
const DOWN = Buffer.from('0');

/**
 * Mosquitto's bridge notifications on the hub side: a retained `1` on each remote's state topic
 * while its connection is up, `0` while it is down (from the start until the first connect, and
 * when the agent stops), so local clients see whether the cloud is reachable.
 */
export class ConnectionStateTopics {
  private readonly followed = new Map<string, { topic: StateTopic; off: () => void }>();

  constructor(
    private readonly publish: HubStatePublisher,
    private readonly logger: Logger,
  ) {}

  /** Follows exactly these connections from now on (start and every reload). */
  follow(topics: readonly StateTopic[]): void {
    const wanted = new Map(topics.map((t) => [t.id, t]));
    for (const [id, f] of this.followed) {
      const next = wanted.get(id);
      if (next && next.endpoint === f.topic.endpoint && next.topic === f.topic.topic) continue;
      f.off();
      this.followed.delete(id);
      // a connection that is gone, or whose topic moved, is down at its old topic
      if (!next || next.topic !== f.topic.topic) void this.send(f.topic.topic, DOWN);
    }
    for (const topic of topics) {
      if (this.followed.has(topic.id)) continue;
      const off = topic.endpoint.onEvent((event) => {
        if (event.type === 'connected') void this.send(topic.topic, UP);
        else if (event.type === 'disconnected') void this.send(topic.topic, DOWN);
      });
      this.followed.set(topic.id, { topic, off });
      void this.send(topic.topic, topic.endpoint.connected ? UP : DOWN);
    }
  }

  /** The agent stops: every remote is down from the hub's point of view. */
  async allDown(): Promise<void> {
    const topics = [...this.followed.values()].map((f) => f.topic.topic);
    for (const f of this.followed.values()) f.off();
    this.followed.clear();
    await Promise.all(topics.map((topic) => this.send(topic, DOWN)));
  }

  private send(topic: string, payload: Buffer): Promise<void> {
    return this.publish(topic, payload).catch((error: unknown) =>
      this.logger.warn({ topic, reason: (error as Error).message }, 'state topic not published on the hub'),
    );
  }
}

/**
 * State topics on an external hub (Mosquitto, EMQX, Baetyl-Hub) through the bridge's own hub
 * connection: the latest value per topic is kept and sent again once that connection is back.
 */
export function externalHubPublisher(hubEndpoint: () => MessageEndpoint | undefined): HubStatePublisher {
  const pending = new Map<string, Buffer>();
  const watched = new WeakSet<MessageEndpoint>();
  const flush = async (endpoint: MessageEndpoint): Promise<void> => {
    for (const [topic, payload] of [...pending]) {
      if (!endpoint.connected) return;
      const outcome = await endpoint.publish({ topic, payload, qos: 1, retain: true });
      // a newer value may have come meanwhile: keep that one
      if (outcome.status !== 'retryable' && pending.get(topic) === payload) pending.delete(topic);
      if (outcome.status === 'rejected') throw outcome.error;
    }
  };
  return (topic, payload) => {
    pending.set(topic, payload);
    const endpoint = hubEndpoint();
    if (!endpoint) return Promise.resolve();
    if (!watched.has(endpoint)) {
      watched.add(endpoint);
      endpoint.onEvent((event) => {
        if (event.type === 'connected') void flush(endpoint).catch(() => {});
      });
    }
    return endpoint.connected ? flush(endpoint) : Promise.resolve();
  };
}
