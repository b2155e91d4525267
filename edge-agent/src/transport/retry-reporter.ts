import type { HubClientConfig, TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import type { EndpointEvent } from '../core/message-endpoint.js';
import { Backoff, type BackoffPolicy } from './backoff.js';

/**
 * Reconnect timing and failure reporting shared by every connection: exponential backoff with
 * jitter (Baetyl: 500 ms doubling to `interval`), and each new failure reason logged once per
 * attempt series at error level with the endpoint's name — a remote that stays down does not
 * flood the log, and a changed reason is still seen. It also holds the timer of the next attempt.
 */
export class RetryReporter {
  private readonly backoff: Backoff;
  private reportedReason: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly name: string,
    config: Pick<HubClientConfig, 'backoff' | 'interval'>,
    private readonly logger: Logger,
    private readonly emit: (event: EndpointEvent) => void,
  ) {
    this.backoff = new Backoff(backoffPolicy(config));
  }

  /** A connection is up: the next failure starts a new series at the shortest delay. */
  succeeded(): void {
    this.backoff.reset();
    this.reportedReason = undefined;
  }

  /** Reports a failed attempt (once per reason and series) and returns the delay before the next. */
  private failed(error: TetherError, afterSuccess: boolean): number {
    const delay = this.backoff.next();
    this.emit({ type: 'retrying', error, delayMs: delay });
    if (error.message !== this.reportedReason) {
      this.reportedReason = error.message;
      this.logger.error(
        { endpoint: this.name, code: error.code, reason: error.message, retryInMs: delay, afterSuccess },
        `${this.name}: ${error.message}`,
      );
      this.emit({ type: 'error', error });
    } else {
      this.logger.debug({ endpoint: this.name, code: error.code, retryInMs: delay }, 'still failing');
    }
    return delay;
  }

  /**
   * Reports a failed attempt (as failed()) and calls `attempt` after the delay. The timer does not
   * keep the process alive: a connection that waits to retry is no reason not to exit.
   */
  retryLater(error: TetherError, afterSuccess: boolean, attempt: () => void): void {
    const delay = this.failed(error, afterSuccess);
    this.timer = setTimeout(attempt, delay);
    this.timer.unref();
  }

  /** Cancels the pending retryLater() (stop). */
  cancel(): void {
    clearTimeout(this.timer);
  }
}

/** A connection's `backoff` (Baetyl: 500 ms doubling up to `interval`) as a Backoff policy. */
export function backoffPolicy(config: Pick<HubClientConfig, 'backoff' | 'interval'>): BackoffPolicy {
  const b = config.backoff;
  return { minMs: b?.min ?? 500, maxMs: b?.max ?? config.interval, factor: b?.factor ?? 2, jitter: b?.jitter ?? 0.2 };
}
