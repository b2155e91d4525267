import { createHash } from 'node:crypto';

/**
 * Loop prevention for a rule that bridges the same topic both ways. When a connection
 * publishes a message that its own subscriptions could match, the broker sends it back;
 * MQTT 5's No Local flag stops that, MQTT 3.1.1 has nothing. So the bridge remembers what
 * it published (topic + payload digest) and drops the first identical message that comes
 * back. Bounded in entries and age, so an echo that never comes cannot grow it.
 */
export class EchoGuard {
  private readonly pending = new Map<string, { count: number; expires: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Note a message this connection is about to publish. */
  remember(topic: string, payload: Buffer): void {
    const key = fingerprint(topic, payload);
    const entry = this.pending.get(key);
    const expires = this.now() + this.ttlMs;
    if (entry) {
      entry.count++;
      entry.expires = expires;
      return;
    }
    if (this.pending.size >= this.maxEntries) this.evictOldest();
    this.pending.set(key, { count: 1, expires });
  }

  /** True when `topic`/`payload` is the echo of something remembered (and consumes it). */
  isEcho(topic: string, payload: Buffer): boolean {
    if (this.pending.size === 0) return false;
    const key = fingerprint(topic, payload);
    const entry = this.pending.get(key);
    if (!entry) return false;
    if (entry.expires < this.now()) {
      this.pending.delete(key);
      return false;
    }
    if (--entry.count === 0) this.pending.delete(key);
    return true;
  }

  get size(): number {
    return this.pending.size;
  }

  private evictOldest(): void {
    // Map keeps insertion order: the first key is the oldest
    const oldest = this.pending.keys().next();
    if (!oldest.done) this.pending.delete(oldest.value);
  }
}

function fingerprint(topic: string, payload: Buffer): string {
  return `${topic}\u0000${createHash('sha1').update(payload).digest('base64')}`;
}
