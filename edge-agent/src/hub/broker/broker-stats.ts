/** Why the hub did not deliver a message to someone; `tether_hub_dropped_total{reason}`. */
export type DropReason =
  | 'not-authorized'
  | 'offline-qos0'
  | 'slow-client'
  | 'queue-full'
  | 'expired'
  | 'too-large-for-client'
  | 'retained-full';

/** The hub's counters, read by /metrics and $SYS at scrape or report time. */
export class BrokerStats {
  connects = 0;
  refusedConnects = 0;
  /** Sockets closed at accept: over limits.connections. */
  refusedConnections = 0;
  takeovers = 0;
  /** PUBLISH packets received from clients. */
  received = 0;
  /** PUBLISH packets sent to clients. */
  sent = 0;
  malformed = 0;
  tooLarge = 0;
  /** Clients disconnected because they stopped reading. */
  slowDisconnects = 0;
  sessionsRestored = 0;
  /** Failed password logins refused late (limits.logindelay), and their delay in total. */
  loginDelays = 0;
  loginDelayMs = 0;
  readonly drops = new Map<DropReason, number>();

  dropped(reason: DropReason): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }
}
