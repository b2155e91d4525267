import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Dispatcher } from '../bridge/dispatcher.js';
import type { MessageEndpoint } from '../core/message-endpoint.js';
import type { HubStatus } from '../hub/broker/hub-status.js';
import type { StoreStats } from '../queue/sqlite-store.js';
import { registerHubMetrics } from './hub-metrics.js';

export interface MetricsSources {
  readonly dispatchers: () => ReadonlyMap<string, Dispatcher>;
  readonly connections: () => ReadonlyMap<string, MessageEndpoint>;
  readonly qos0Dropped: () => number;
  /** The durable store's counters; undefined with `durability: memory`. */
  readonly store?: () => StoreStats | undefined;
  /** The embedded hub's, when it runs in this process. */
  readonly hub?: () => HubStatus | undefined;
  /** Reconnects and failed attempts per connection id. */
  readonly connectionStates?: () => ReadonlyArray<{ id: string; reconnects: number; failedAttempts: number }>;
  /** Seconds the oldest message of a destination's queue has waited. */
  readonly oldestAgeSeconds?: (dispatcher: Dispatcher) => number;
}

/** The one label name for a destination (a connection id such as `remote/cloud/edge-1`) in every metric. */
export const DESTINATION_LABEL = 'connection';

/**
 * Prometheus metrics of the agent. Every value is read from the parts' own counters when
 * scraped, so the per-message path pays nothing for metrics.
 */
export function createAgentMetrics(sources: MetricsSources): Registry {
  const registry = new Registry();
  // process_* and nodejs_* (CPU, memory, open fds, event loop lag, GC): read at scrape time
  collectDefaultMetrics({ register: registry });
  const perQueue = (name: string, help: string, read: (d: Dispatcher) => number, type: 'gauge' | 'counter') => {
    const Metric = type === 'gauge' ? Gauge : Counter;
    new Metric({
      name,
      help,
      labelNames: [DESTINATION_LABEL],
      registers: [registry],
      collect() {
        this.reset();
        for (const [connection, d] of sources.dispatchers()) {
          if (type === 'gauge') (this as Gauge).set({ connection }, read(d));
          else (this as Counter).inc({ connection }, read(d));
        }
      },
    });
  };
  perQueue(
    'tether_queue_messages',
    'Messages stored for a destination and not yet acknowledged by it.',
    (d) => d.queue.size,
    'gauge',
  );
  perQueue('tether_queue_bytes', 'Payload bytes stored for a destination.', (d) => d.queue.bytes, 'gauge');
  perQueue(
    'tether_inflight_messages',
    'Publishes awaiting the destination acknowledgement.',
    (d) => d.stats.inflight,
    'gauge',
  );
  perQueue(
    'tether_queue_appended_total',
    'Messages stored for a destination.',
    (d) => d.queue.stats.appended,
    'counter',
  );
  perQueue(
    'tether_forwarded_total',
    'Messages acknowledged by their destination.',
    (d) => d.stats.forwarded,
    'counter',
  );
  perQueue(
    'tether_forwarded_bytes_total',
    'Payload bytes acknowledged by their destination.',
    (d) => d.stats.forwardedBytes,
    'counter',
  );
  if (sources.oldestAgeSeconds) {
    const age = sources.oldestAgeSeconds;
    perQueue(
      'tether_queue_oldest_age_seconds',
      "How long the oldest message of the queue has waited (0 when empty; a previous run's backlog counts from this start).",
      (d) => age(d),
      'gauge',
    );
  }
  perQueue(
    'tether_queue_dropped_total',
    'Messages dropped because the queue was full (drop-oldest).',
    (d) => d.queue.stats.dropped,
    'counter',
  );
  perQueue(
    'tether_dead_letters_total',
    'Messages set aside as dead letters: refused, invalid topic, or failed queue.deadletter.after times in a row.',
    (d) => d.stats.deadLettered,
    'counter',
  );
  perQueue(
    'tether_redelivered_total',
    'Messages sent again after a lost connection or a restart: possible duplicates downstream.',
    (d) => d.queue.stats.redelivered,
    'counter',
  );
  perQueue(
    'tether_queue_unwritten_total',
    'Messages the destination acknowledged before their group commit: never written to disk.',
    (d) => d.queue.stats.unwritten,
    'counter',
  );
  perQueue(
    'tether_rejected_total',
    'Messages the destination refused for good (dropped).',
    (d) => d.stats.rejected,
    'counter',
  );
  new Gauge({
    name: 'tether_connection_up',
    help: '1 when the connection to the hub or remote is up.',
    labelNames: [DESTINATION_LABEL],
    registers: [registry],
    collect() {
      this.reset();
      for (const [connection, e] of sources.connections()) this.set({ connection }, e.connected ? 1 : 0);
    },
  });
  if (sources.connectionStates) {
    const states = sources.connectionStates;
    const perConnection = (
      name: string,
      help: string,
      read: (s: { reconnects: number; failedAttempts: number }) => number,
    ) =>
      new Counter({
        name,
        help,
        labelNames: [DESTINATION_LABEL],
        registers: [registry],
        collect() {
          this.reset();
          for (const s of states()) this.inc({ connection: s.id }, read(s));
        },
      });
    perConnection('tether_reconnects_total', 'Times a lost connection came back.', (s) => s.reconnects);
    perConnection('tether_connect_failures_total', 'Failed connect attempts.', (s) => s.failedAttempts);
  }
  new Counter({
    name: 'tether_publish_refused_transient_total',
    help: 'Publishes the destination refused for now (PUBACK 0x97 quota exceeded, 0x96 rate too high…): queued again after a backoff.',
    labelNames: ['connection'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [connection, e] of sources.connections()) this.inc({ connection }, e.refusedTransient ?? 0);
    },
  });
  new Counter({
    name: 'tether_qos0_dropped_total',
    help: 'QoS 0 messages dropped because their destination was offline (queue.qos0: drop).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.qos0Dropped());
    },
  });
  const storeCounter = (name: string, help: string, read: (s: StoreStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const stats = sources.store?.();
        if (stats) this.inc(read(stats));
      },
    });
  storeCounter(
    'tether_store_commits_total',
    'Group commits of the durable queue (SQLite transactions).',
    (s) => s.commits,
  );
  storeCounter('tether_store_writes_total', 'Messages written to the durable queue.', (s) => s.writes);
  if (sources.hub) registerHubMetrics(registry, sources.hub);
  return registry;
}
