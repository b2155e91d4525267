import { isIP } from 'node:net';

/** `limits.logindelay`: the refusal of a failed password login from an address waits this long. */
export interface LoginDelayConfig {
  /** The first failure's delay; 0 turns the throttle off. */
  readonly minMs: number;
  /** The delay doubles per failure up to this. */
  readonly maxMs: number;
  /** An address with no failure for this long starts again from `minMs`. */
  readonly forgetMs: number;
}

export interface LoginDelayStats {
  loginDelays: number;
  loginDelayMs: number;
}

/** Addresses remembered at once; the longest quiet go first beyond it. */
const MAX_PEERS = 10_000;

interface PeerFailures {
  failures: number;
  last: number;
}

/**
 * Slows password guessing from one address: each failed password login from it is answered (the
 * refusing CONNACK) only after a delay that doubles per failure, from `minMs` up to `maxMs`, and is
 * forgotten after `forgetMs` without failures. A login that succeeds is never delayed, and
 * certificate logins are not counted: the caller asks only for a failed password check. The delay
 * is a timer before the CONNACK, never a wait in the event loop, so other clients go on; with at
 * most `limits.connections` sockets open, one address gets at most that many guesses per `maxMs`.
 */
export class LoginThrottle {
  private readonly peers = new Map<string, PeerFailures>();

  constructor(
    private readonly config: LoginDelayConfig,
    /** Counters it adds to: failed password logins answered late, and their delay in total. */
    private readonly stats: LoginDelayStats = { loginDelays: 0, loginDelayMs: 0 },
    private readonly now: () => number = Date.now,
  ) {}

  /** A password login from `address` (`ip:port`) failed: records it and returns its delay in ms. */
  failed(address: string): number {
    if (this.config.minMs <= 0) return 0;
    const now = this.now();
    this.forgetQuiet(now);
    const key = peerIp(address);
    const peer = this.peers.get(key);
    const failures = (peer?.failures ?? 0) + 1;
    // re-inserted so the map stays ordered by last failure (oldest first)
    this.peers.delete(key);
    this.peers.set(key, { failures, last: now });
    const delay = Math.min(this.config.maxMs, this.config.minMs * 2 ** Math.min(failures - 1, 30));
    this.stats.loginDelays++;
    this.stats.loginDelayMs += delay;
    return delay;
  }

  /** Resolves after the delay for a failed login from `address` (at once when off). */
  hold(address: string): Promise<number> {
    const delay = this.failed(address);
    if (delay === 0) return Promise.resolve(0);
    return new Promise((resolve) => setTimeout(resolve, delay, delay).unref());
  }

  /** Addresses currently remembered (for tests and status). */
  get size(): number {
    return this.peers.size;
  }

  private forgetQuiet(now: number): void {
    for (const [key, peer] of this.peers) {
      if (now - peer.last < this.config.forgetMs && this.peers.size < MAX_PEERS) break;
      this.peers.delete(key);
    }
  }
}

/** The IP of `ip:port` or `[v6]:port`; anything else (a transport's own name) is its own key. */
function peerIp(address: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(address);
  if (bracketed) return bracketed[1] as string;
  const at = address.lastIndexOf(':');
  const host = at > 0 ? address.slice(0, at) : address;
  return isIP(host) !== 0 ? host : address;
}
