import type { Principal } from '@tether/shared';
import type { Logger } from 'pino';

/** Who is on the other end of a socket, as far as the transport knows. */
export interface PeerInfo {
  /** `ip:port` (or what the transport gives), for logs. */
  readonly address: string;
  /** CN of a client certificate the TLS layer verified, if any. */
  readonly certificateCN: string | undefined;
  /** The listener it came in on, e.g. `tcp://0.0.0.0:1883`. */
  readonly listener: string;
}

/** The hub's decisions a connection asks for: one rule for sockets and the in-process link. */
export interface HubPolicy {
  authenticate(
    username: string | undefined,
    password: Buffer | undefined,
    certificateCN: string | undefined,
  ): Promise<Principal | undefined>;
  /** Why `principal` may not publish this, or undefined when it may. */
  publishRefusal(principal: Principal, topic: string, payloadBytes: number): string | undefined;
  canSubscribe(principal: Principal, filter: string): boolean;
}

/** Strings a client sent, cut for a log line: a 64 KiB username must not become a 64 KiB log line. */
export function forLog(text: string | undefined, max = 128): string | undefined {
  if (text === undefined) return undefined;
  return text.length <= max ? text : `${text.slice(0, max)}…(${text.length} chars)`;
}

/**
 * Refusal logging bounded per peer: the first few of each kind are logged, then one summary per
 * minute with the count, so a client that loops on a refused CONNECT cannot flood the log.
 */
export class RefusalLog {
  private readonly seen = new Map<string, { count: number; since: number; logged: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly perMinute = 5,
  ) {}

  warn(peer: string, fields: Record<string, unknown>, message: string): void {
    const key = `${peer}\u0000${message}`;
    const now = Date.now();
    let entry = this.seen.get(key);
    if (!entry || now - entry.since > 60_000) {
      if (entry && entry.count > entry.logged) {
        this.logger.warn(
          { peer, suppressed: entry.count - entry.logged },
          `${message} (repeated; earlier lines suppressed)`,
        );
      }
      entry = { count: 0, since: now, logged: 0 };
      if (this.seen.size > 10_000) this.seen.clear(); // bounded: a scan of many peers
      this.seen.set(key, entry);
    }
    entry.count++;
    if (entry.logged < this.perMinute) {
      entry.logged++;
      this.logger.warn({ peer, ...fields }, message);
    }
  }
}
