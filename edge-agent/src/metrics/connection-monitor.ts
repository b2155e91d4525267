import type { Logger } from 'pino';
import type { EndpointEvent, MessageEndpoint } from '../core/message-endpoint.js';

/** Every minute while a connection is down, one summary line (not one per attempt). */
export const OUTAGE_SUMMARY_MS = 60_000;

export interface ConnectionState {
  readonly id: string;
  readonly connected: boolean;
  /** When the connection last went up or down (ms since the epoch); the start time before either. */
  readonly sinceMs: number;
  /** Times it came back after being lost. */
  readonly reconnects: number;
  /** Failed connect attempts since start. */
  readonly failedAttempts: number;
  readonly lastError?: { readonly message: string; readonly code: string; readonly atMs: number };
}

interface Tracked {
  endpoint: MessageEndpoint;
  connected: boolean;
  everConnected: boolean;
  sinceMs: number;
  reconnects: number;
  failedAttempts: number;
  outageAttempts: number;
  lastError: ConnectionState['lastError'];
  summary: NodeJS.Timeout | undefined;
  off: () => void;
}

/**
 * Follows every bridge connection's events: state, reconnects and last error for /status,
 * /readyz and the metrics, and the outage log: a warning when a connection is lost (or its
 * first connect fails), a summary every minute while it stays down (attempts, last error,
 * queued messages), and a line when it is back.
 */
export class ConnectionMonitor {
  private readonly tracked = new Map<string, Tracked>();
  /** Counters of replaced connections, carried to their successors (a reload keeps the history). */
  private readonly retired = new Map<string, Tracked>();

  constructor(
    private readonly logger: Logger,
    /** Messages waiting for this connection, for the outage lines. */
    private readonly queued: (id: string) => number,
    private readonly summaryMs = OUTAGE_SUMMARY_MS,
  ) {}

  /** Follows exactly these endpoints from now on (start and every reload). */
  follow(endpoints: ReadonlyMap<string, MessageEndpoint>): void {
    for (const [id, t] of this.tracked) {
      if (endpoints.get(id) === t.endpoint) continue;
      this.unfollow(id, t);
    }
    for (const [id, endpoint] of endpoints) {
      if (this.tracked.has(id)) continue;
      const before = this.retired.get(id);
      const t: Tracked = {
        endpoint,
        connected: endpoint.connected,
        everConnected: before?.everConnected ?? false,
        sinceMs: Date.now(),
        reconnects: before?.reconnects ?? 0,
        failedAttempts: before?.failedAttempts ?? 0,
        outageAttempts: 0,
        lastError: before?.lastError,
        summary: undefined,
        off: () => {},
      };
      t.off = endpoint.onEvent((event) => this.onEvent(id, t, event));
      this.tracked.set(id, t);
    }
  }

  states(): ConnectionState[] {
    return [...this.tracked].map(([id, t]) => ({
      id,
      connected: t.endpoint.connected,
      sinceMs: t.sinceMs,
      reconnects: t.reconnects,
      failedAttempts: t.failedAttempts,
      ...(t.lastError ? { lastError: t.lastError } : {}),
    }));
  }

  stop(): void {
    for (const [id, t] of this.tracked) this.unfollow(id, t);
  }

  private unfollow(id: string, t: Tracked): void {
    t.off();
    clearInterval(t.summary);
    this.tracked.delete(id);
    this.retired.set(id, t);
  }

  private onEvent(id: string, t: Tracked, event: EndpointEvent): void {
    const now = Date.now();
    if (event.type === 'connected') {
      if (t.everConnected) t.reconnects++;
      const outage = t.summary !== undefined || (!t.connected && t.outageAttempts > 0);
      if (outage) {
        this.logger.info(
          { connection: id, downForSeconds: Math.round((now - t.sinceMs) / 1000), attempts: t.outageAttempts },
          'connection back: outage over',
        );
      }
      clearInterval(t.summary);
      t.summary = undefined;
      t.everConnected = true;
      t.connected = true;
      t.sinceMs = now;
      t.outageAttempts = 0;
    } else if (event.type === 'disconnected') {
      if (!t.connected) return;
      t.connected = false;
      t.sinceMs = now;
      this.startOutage(id, t);
    } else if (event.type === 'retrying') {
      t.failedAttempts++;
      t.outageAttempts++;
      t.lastError = { message: event.error.message, code: event.error.code, atMs: now };
      // a first connect that fails is an outage too
      if (t.summary === undefined && !t.connected) this.startOutage(id, t);
    } else {
      t.lastError = { message: event.error.message, code: event.error.code, atMs: now };
    }
  }

  private startOutage(id: string, t: Tracked): void {
    if (t.summary !== undefined) return;
    // the reason is in the connection's own error line just before (once per reason)
    this.logger.warn(
      { connection: id, queued: this.queued(id) },
      t.everConnected ? 'connection lost: outage started' : 'cannot connect: outage started',
    );
    t.summary = setInterval(() => {
      this.logger.warn(
        {
          connection: id,
          downForSeconds: Math.round((Date.now() - t.sinceMs) / 1000),
          attempts: t.outageAttempts,
          lastError: t.lastError?.message,
          queued: this.queued(id),
        },
        'outage continues',
      );
    }, this.summaryMs);
    t.summary.unref();
  }
}
