/** The delays of a Backoff (from a connection's `backoff` block: retry-reporter.ts backoffPolicy). */
export interface BackoffPolicy {
  readonly minMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** 0..1: each delay is drawn uniformly from [d·(1−jitter), d]. */
  readonly jitter: number;
}

/**
 * Exponential backoff with jitter, for reconnects (RetryReporter) and for publishes refused for
 * now (TransientRefusals). Baetyl starts at 500 ms and doubles up to `interval`; jitter spreads a
 * fleet's reconnects so a cloud outage does not end in a thundering herd.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next attempt; grows until reset(). */
  next(): number {
    const { minMs, maxMs, factor, jitter } = this.policy;
    const ceiling = Math.min(maxMs, minMs * factor ** this.attempt);
    if (ceiling < maxMs) this.attempt++;
    const delay = ceiling * (1 - jitter * this.random());
    return Math.max(0, Math.round(delay));
  }

  reset(): void {
    this.attempt = 0;
  }
}
