import type { TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import type { BridgeMessage } from '../core/bridge-message.js';
import type { MessageEndpoint, PublishOutcome } from '../core/message-endpoint.js';
import { topicNameProblem } from '../hub/codec/topic-rules.js';
import type { DeadLetterStore } from '../queue/dead-letter-store.js';
import type { MessageQueue, QueuedMessage } from '../queue/message-queue.js';
import { connectionLost, DeliveryFailures, failureKind, neverSent } from './delivery-failures.js';

export interface DispatcherOptions {
  /** The target connection's id, for logs. */
  readonly name: string;
  readonly endpoint: MessageEndpoint;
  readonly queue: MessageQueue;
  readonly logger: Logger;
  /** Publishes awaiting the destination's ack at once. */
  readonly window: number;
  /** Called just before a message goes out (the echo guard remembers it). */
  readonly beforePublish?: (message: BridgeMessage) => void;
  /** Counters carried over from the dispatcher this one replaces (reload), so they never go back. */
  readonly stats?: DispatcherStats;
  /** A message that failed this many times in a row the same way is set aside (`queue.deadletter.after`). */
  readonly deadLetterAfter: number;
  /** Where set-aside messages go; absent with `durability: memory` (they are logged and dropped). */
  readonly deadLetters?: DeadLetterStore;
}

export interface DispatcherStats {
  forwarded: number;
  /** Payload bytes of the forwarded messages. */
  forwardedBytes: number;
  rejected: number;
  retried: number;
  inflight: number;
  /** Messages set aside: refused, invalid topic, or failed `deadLetterAfter` times in a row. */
  deadLettered: number;
}

/**
 * Sends one destination's queue in order through a bounded in-flight window. The queue owns
 * durability; the dispatcher acks a message in the queue only when the destination acked it,
 * and gives it back (ahead of everything newer) when the send failed, so per-topic order
 * survives reconnects.
 *
 * A poison message cannot hold the queue: one the destination refuses, whose topic breaks the
 * spec, or that fails `deadLetterAfter` times in a row the same way goes to the dead letters
 * (listed, re-queued or dropped with `tether-agent deadletters`). A lost connection fails every
 * message in flight, so it blames none of them: the dispatcher then sends those messages again
 * one at a time (window 1) until they are through, and a message that loses the connection
 * while it is alone in flight is the one counted.
 */
/** How long a dispatcher waits before sending again after an endpoint's publish() rejected. */
const REJECTED_RETRY_MS = 1_000;

export class Dispatcher {
  readonly stats: DispatcherStats;
  /** A QoS 0 drop of the current outage was logged (the first one is, at warn; the rest counted). */
  qos0DropLogged = false;
  private inflight = 0;
  private stopped = false;
  private readonly idleWaiters = new Set<() => void>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly failures: DeliveryFailures;
  /** The id of the message sent while nothing else was in flight, or -1 once another joined it. */
  private aloneId = -1;
  /** While > 0, messages up to this id lost a connection together: they go out one at a time. */
  private probeUntil = 0;
  /** Messages waiting for their dead-letter commit (not in flight, not in the queue). */
  private settingAside = 0;
  /** While set, nothing is sent: an endpoint's publish() rejected (see send()). */
  private backoff: NodeJS.Timeout | undefined;

  constructor(private readonly options: DispatcherOptions) {
    this.stats = options.stats ?? {
      forwarded: 0,
      forwardedBytes: 0,
      rejected: 0,
      retried: 0,
      inflight: 0,
      deadLettered: 0,
    };
    this.failures = new DeliveryFailures(options.name, options.deadLetters);
  }

  get endpoint(): MessageEndpoint {
    return this.options.endpoint;
  }

  get window(): number {
    return this.options.window;
  }

  get queue(): MessageQueue {
    return this.options.queue;
  }

  start(): void {
    this.unsubscribe.push(
      this.options.endpoint.onEvent((event) => {
        if (event.type !== 'connected') return;
        this.qos0DropLogged = false;
        this.pump();
      }),
      this.options.queue.onAvailable(() => this.pump()),
    );
    this.pump();
  }

  /**
   * Lets go of the queue and endpoint for good (reload: a new dispatcher takes the same queue).
   * Publishes still in flight settle into the queue: a failed one is given back there in order.
   */
  detach(): void {
    this.stopped = true;
    clearTimeout(this.backoff);
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /**
   * Waits up to `ms` for the in-flight messages (`inflight`: nothing new is sent), or for the
   * whole backlog to go (`backlog`: an in-memory queue's, which would otherwise be lost).
   */
  async drain(ms: number, what: 'inflight' | 'backlog'): Promise<void> {
    const backlogToo = what === 'backlog';
    if (!backlogToo) this.stopped = true;
    const idle = () => this.inflight === 0 && this.settingAside === 0 && (!backlogToo || this.options.queue.size === 0);
    if (idle()) return;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (!idle()) return;
        clearTimeout(timer);
        this.idleWaiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.idleWaiters.delete(check);
        resolve();
      }, ms);
      this.idleWaiters.add(check);
    });
    this.stopped = true;
    clearTimeout(this.backoff);
  }

  private pump(): void {
    const { endpoint, queue } = this.options;
    while (
      !this.stopped &&
      this.backoff === undefined &&
      endpoint.connected &&
      this.inflight < (this.probeUntil > 0 ? 1 : this.options.window)
    ) {
      const entry = queue.take();
      if (!entry) break;
      this.send(entry);
    }
    this.stats.inflight = this.inflight;
    for (const check of this.idleWaiters) check();
  }

  private send(entry: QueuedMessage): void {
    const { endpoint } = this.options;
    // a Topic Name the spec forbids gets the connection dropped by a compliant broker
    // [MQTT-1.5.3-1], [MQTT-1.5.3-2], [MQTT-3.3.2-2], [MQTT-4.7.3-1]: never send it
    const problem = topicNameProblem(entry.message.topic);
    if (problem !== undefined) {
      this.setAside(entry, `invalid topic: ${problem}`, 0, 'TETHER_ERR_PUBLISH');
      return;
    }
    // the retry list is handed out first, oldest first: a newer message means every suspect is through
    if (this.probeUntil > 0 && entry.id > this.probeUntil) this.probeUntil = 0;
    this.aloneId = this.inflight === 0 ? entry.id : -1;
    this.inflight++;
    this.options.beforePublish?.(entry.message);
    if (endpoint.send) {
      endpoint.send(entry.message, (outcome) => this.settled(entry, outcome));
      return;
    }
    endpoint.publish(entry.message).then(
      (outcome) => this.settled(entry, outcome),
      (error: unknown) => {
        // an endpoint never rejects; if one does (a bug), treat it as retryable rather than lose
        // the message, and send again only after a pause: retrying from this promise job would
        // never yield to the event loop (timers, sockets and stop() would starve)
        this.inflight--;
        this.options.logger.error(
          { target: this.options.name, err: error, retryInMs: REJECTED_RETRY_MS },
          'publish threw; sending again after a pause',
        );
        this.backoff ??= setTimeout(() => {
          this.backoff = undefined;
          this.pump();
        }, REJECTED_RETRY_MS);
        this.options.queue.requeue(entry);
      },
    );
  }

  private settled(entry: QueuedMessage, outcome: PublishOutcome): void {
    const { queue } = this.options;
    this.inflight--;
    if (outcome.status === 'acked') {
      this.stats.forwarded++;
      this.stats.forwardedBytes += entry.message.payload.length;
      this.failures.clear(entry);
      queue.ack(entry);
    } else if (outcome.status === 'retryable') {
      this.stats.retried++;
      this.retry(entry, outcome.error);
    } else {
      this.stats.rejected++;
      this.setAside(entry, outcome.error.message, 1, outcome.error.code, 'destination refused a message');
    }
    this.pump();
  }

  /** A failed send: counted when it tells something about the message, then sent again or set aside. */
  private retry(entry: QueuedMessage, error: TetherError): void {
    const { queue, deadLetterAfter } = this.options;
    if (neverSent(error)) {
      queue.requeue(entry);
      return;
    }
    if (connectionLost(error) && this.aloneId !== entry.id) {
      // lost together with others: no one to blame yet, so each goes out alone next
      this.probeUntil = Math.max(this.probeUntil, entry.id);
      queue.requeue(entry);
      return;
    }
    const { logger, name } = this.options;
    const failures = this.failures.record(entry, failureKind(error), (stored, count) => {
      // at most deadLetterAfter - 1 lines per message: one per failure until it is set aside
      if (count >= deadLetterAfter) return;
      const fields = {
        target: name,
        topic: entry.message.topic,
        failures: count,
        after: deadLetterAfter,
        stored,
        reason: error.message,
      };
      // a first failure alone in flight is what every remote restart looks like: info, not a warning
      if (count === 1) {
        logger.info(
          fields,
          'a message failed while alone in flight; it is set aside if it fails queue.deadletter.after times in a row',
        );
      } else {
        logger.warn(fields, 'a message failed again; it is set aside after queue.deadletter.after failures in a row');
      }
    });
    if (failures >= deadLetterAfter) {
      this.setAside(entry, error.message, failures, error.code, `message failed ${failures} times in a row`);
      return;
    }
    // until it is through, it keeps going out alone, so its next failure is its own too
    this.probeUntil = Math.max(this.probeUntil, entry.id);
    queue.requeue(entry);
  }

  /**
   * Moves a message to the dead letters: it leaves the queue once the dead letter is committed
   * (a store failure gives it back to the queue, so nothing is lost). Logged once per message.
   */
  private setAside(entry: QueuedMessage, reason: string, attempts: number, code: string, why = 'invalid topic'): void {
    const { queue, deadLetters, logger, name } = this.options;
    this.stats.deadLettered++;
    const fields = { target: name, topic: entry.message.topic, code, reason, attempts };
    if (!deadLetters) {
      this.failures.clear(entry);
      queue.discard(entry);
      logger.error(fields, `${why}; it is dropped (durability: memory keeps no dead letters)`);
      return;
    }
    this.settingAside++;
    deadLetters.add(name, entry.message, reason, attempts, (error) => {
      this.settingAside--;
      if (error) {
        this.stats.deadLettered--;
        logger.error(
          { ...fields, storeError: error.message },
          `${why}; the dead letter could not be stored, kept queued`,
        );
        queue.requeue(entry);
      } else {
        this.failures.clear(entry);
        queue.discard(entry);
        logger.error(fields, `${why}; moved to the dead letters (tether-agent deadletters list)`);
      }
      this.pump();
    });
  }
}
