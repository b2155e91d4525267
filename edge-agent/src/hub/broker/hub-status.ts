import type { BrokerStats } from './broker-stats.js';

/** What the hub tells /metrics and $SYS about itself. */
export interface HubStatus {
  readonly clientsConnected: number;
  readonly sessions: number;
  readonly retained: number;
  /** Messages waiting in sessions' queues and in flight. */
  readonly queued: number;
  readonly stats: BrokerStats;
  /** Persistent sessions' deliveries acknowledged before their commit, so never written. */
  readonly deliveriesNeverWritten: number;
}
