import type { HubClientConfig, TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import type { PublishOutcome } from '../core/message-endpoint.js';
import { Backoff } from './backoff.js';
import { backoffPolicy } from './retry-reporter.js';

/**
 * What a PUBACK (or PUBREC) reason code >= 0x80 means for the message [MQTT-3.4.2.1]:
 *
 * - `final`: sending the same message again can never succeed — 0x87 not authorized, 0x90 topic
 *   name invalid, 0x95 packet too large, 0x99 payload format invalid, 0x9A retain not supported,
 *   0x9B QoS not supported, 0x9E/0xA2 shared/wildcard not supported. The message is dropped
 *   (`rejected`) and counted.
 * - `transient`: the broker refuses it now — 0x80 unspecified error, 0x83 implementation specific
 *   error, 0x89 server busy, 0x91 packet identifier in use, 0x96 message rate too high, 0x97 quota
 *   exceeded, and any code not listed. The message goes back to the queue after a backoff.
 *
 * AWS IoT Core answers a publish over its per-connection or account throughput quota with 0x97
 * ("AWS IoT Core message broker and protocol limits and quotas"; MQTT 5 reason codes in the
 * developer guide's "MQTT 5 features" page). A code we do not know is kept, not dropped: the
 * cost of that is a retried message, the cost of the other is a lost one.
 */
export type RefusalKind = 'final' | 'transient';

const FINAL_REASONS: ReadonlySet<number> = new Set([0x87, 0x90, 0x95, 0x99, 0x9a, 0x9b, 0x9e, 0xa2]);

export function refusalKind(reasonCode: number): RefusalKind {
  return FINAL_REASONS.has(reasonCode) ? 'final' : 'transient';
}

interface Held {
  readonly timer: NodeJS.Timeout;
  readonly report: () => void;
}

/**
 * The transient refusals of one connection: each is reported `retryable` only after a backoff delay
 * (the connection's `backoff`: `min` doubling up to `max`, default 500 ms to `interval`), so the
 * dispatcher, which re-sends a `retryable` message at once, sends it again no sooner. The delay
 * grows with each refusal and starts over after a publish is acknowledged. Refusals are counted
 * (`count`, the metric tether_publish_refused_transient_total) and logged once per series.
 */
export class TransientRefusals {
  /** Transient refusals since start. */
  count = 0;
  private readonly backoff: Backoff;
  private readonly held = new Set<Held>();
  private reported = false;

  constructor(
    private readonly name: string,
    config: Pick<HubClientConfig, 'backoff' | 'interval'>,
    private readonly logger: Logger,
  ) {
    this.backoff = new Backoff(backoffPolicy(config));
  }

  /** A publish was acknowledged: the next refusal waits the shortest delay again. */
  acked(): void {
    // per acked message: nothing to reset unless a refusal came since (hold() sets `reported`)
    if (!this.reported) return;
    this.backoff.reset();
    this.reported = false;
  }

  /** Reports `retryable` with `error` to `done` after the backoff delay (or at flush()). */
  hold(error: TetherError, done: (outcome: PublishOutcome) => void): void {
    this.count++;
    const delay = this.backoff.next();
    if (!this.reported) {
      this.reported = true;
      this.logger.warn(
        { endpoint: this.name, code: error.code, reason: error.message, retryInMs: delay },
        `${error.message}; the message stays queued and is sent again after a backoff`,
      );
    } else {
      this.logger.debug({ endpoint: this.name, reason: error.message, retryInMs: delay }, 'publish refused again');
    }
    let settled = false;
    const report = () => {
      if (settled) return;
      settled = true;
      clearTimeout(entry.timer);
      this.held.delete(entry);
      done({ status: 'retryable', error });
    };
    const entry: Held = { timer: setTimeout(report, delay), report };
    entry.timer.unref();
    this.held.add(entry);
  }

  /** Refusals still waiting out their delay. */
  get holding(): number {
    return this.held.size;
  }

  /** Reports every held refusal now (the connection is gone or stopping: the dispatcher waits anyway). */
  flush(): void {
    for (const entry of [...this.held]) entry.report();
  }
}
