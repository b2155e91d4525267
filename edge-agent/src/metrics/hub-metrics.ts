import { Counter, Gauge, type Registry } from 'prom-client';
import type { HubStatus } from '../hub/broker/hub-status.js';

/**
 * The embedded hub's metrics, read from its counters at scrape time (the per-message path pays
 * nothing). Names follow Mosquitto's $SYS tree where it has one, as Prometheus names.
 */
export function registerHubMetrics(registry: Registry, status: () => HubStatus | undefined): void {
  const gauge = (name: string, help: string, read: (s: HubStatus) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const s = status();
        if (s) this.set(read(s));
      },
    });
  const counter = (name: string, help: string, read: (s: HubStatus) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const s = status();
        if (s) this.inc(read(s));
      },
    });
  gauge('tether_hub_clients_connected', 'Clients connected to the embedded hub.', (s) => s.clientsConnected);
  gauge('tether_hub_sessions', 'Sessions the hub holds, connected or not.', (s) => s.sessions);
  gauge('tether_hub_retained_messages', 'Retained messages the hub holds.', (s) => s.retained);
  gauge(
    'tether_hub_queued_messages',
    'Messages waiting for sessions (offline or behind their window).',
    (s) => s.queued,
  );
  counter('tether_hub_messages_received_total', 'PUBLISH packets received from clients.', (s) => s.stats.received);
  counter('tether_hub_messages_sent_total', 'PUBLISH packets sent to clients.', (s) => s.stats.sent);
  counter('tether_hub_connects_total', 'CONNECTs accepted.', (s) => s.stats.connects);
  counter(
    'tether_hub_refused_total',
    'CONNECTs refused (credentials, client id) and sockets refused over limits.connections.',
    (s) => s.stats.refusedConnects + s.stats.refusedConnections,
  );
  counter(
    'tether_hub_malformed_total',
    'Connections closed for a malformed or oversized packet.',
    (s) => s.stats.malformed + s.stats.tooLarge,
  );
  counter(
    'tether_hub_login_delays_total',
    'Failed password logins whose refusal was delayed (limits.logindelay).',
    (s) => s.stats.loginDelays,
  );
  counter(
    'tether_hub_login_delay_seconds_total',
    'Time failed password logins waited for their refusal, in total.',
    (s) => s.stats.loginDelayMs / 1000,
  );
  counter(
    'tether_hub_slow_disconnects_total',
    'Clients disconnected because they stopped reading.',
    (s) => s.stats.slowDisconnects,
  );
  new Counter({
    name: 'tether_hub_dropped_total',
    help: 'Messages the hub did not deliver to someone, by reason (not-authorized, offline-qos0, slow-client, queue-full, expired, too-large-for-client, retained-full).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      const s = status();
      if (s) for (const [reason, n] of s.stats.drops) this.inc({ reason }, n);
    },
  });
}
