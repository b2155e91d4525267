import { type QoS, TetherError } from '@tether/shared';
import pino, { type Logger } from 'pino';
import type { BridgeMessage } from '../../src/core/bridge-message.js';
import {
  ACKED,
  type EndpointEvent,
  type MessageEndpoint,
  type PublishOutcome,
} from '../../src/core/message-endpoint.js';
import { HELD, type InboundHandler } from '../../src/core/message-hold.js';

/** A publish the fake endpoint holds until the test settles it. */
export interface PendingPublish {
  readonly message: BridgeMessage;
  settle(outcome: PublishOutcome): void;
}

/** What a source heard back about one message it handed to the bridge. */
export interface InboundResult {
  /** The handler returned HELD (the ack waits for `hold.release`). */
  readonly held: boolean;
  /** Settled: safe (error undefined) or not (error set); undefined while still held. */
  readonly outcome: { readonly error: unknown } | undefined;
  /** Times the hold was released (must stay at most 1). */
  readonly releases: number;
}

/**
 * A MessageEndpoint under the test's hand: it is online or not when the test says, it keeps
 * every publish pending until the test settles it (or settles it itself with `autoAck`), and it
 * hands messages to the bridge's subscription handlers as a source would, recording what the
 * bridge said about each.
 */
export class FakeEndpoint implements MessageEndpoint {
  connected = false;
  /** Publishes not settled yet, oldest first. */
  readonly pending: PendingPublish[] = [];
  /** Every message published, in the order it went out (resends included). */
  readonly sent: BridgeMessage[] = [];
  /** Most publishes awaiting their outcome at once, over the whole test. */
  maxInFlight = 0;
  /** Ack every publish on its own, on a later turn (as a fast destination would). */
  autoAck = false;
  stopped = false;
  readonly handlers = new Map<string, InboundHandler>();
  readonly subscriptions = new Map<string, QoS>();
  readonly unsubscribed: string[] = [];
  private readonly listeners = new Set<(event: EndpointEvent) => void>();

  /**
   * `withSend`: offer the callback form (the dispatcher prefers it); without it the
   * dispatcher uses `publish()`, of which the first `publishRejects` calls reject (an endpoint
   * bug: the contract says publish never rejects).
   */
  constructor(
    readonly name: string,
    options: { withSend?: boolean; publishRejects?: number } = {},
  ) {
    if (options.withSend !== false) {
      this.send = (message, done) => this.hold(message, (outcome) => setImmediate(() => done(outcome)));
    }
    this.rejectsLeft = options.publishRejects ?? 0;
  }

  /** publish() calls that will still reject. */
  rejectsLeft: number;

  async start(_signal: AbortSignal): Promise<void> {}

  publish(message: BridgeMessage): Promise<PublishOutcome> {
    if (this.rejectsLeft > 0) {
      this.rejectsLeft--;
      this.sent.push(message);
      return Promise.reject(new Error('endpoint bug'));
    }
    return new Promise((resolve) => this.hold(message, resolve));
  }

  /** The callback form; reports on a later turn, never synchronously. */
  send?: (message: BridgeMessage, done: (outcome: PublishOutcome) => void) => void;

  async subscribe(filter: string, qos: QoS, onMessage: InboundHandler): Promise<void> {
    this.subscriptions.set(filter, qos);
    this.handlers.set(filter, onMessage);
  }

  unsubscribe(filter: string): void {
    this.unsubscribed.push(filter);
    this.subscriptions.delete(filter);
    this.handlers.delete(filter);
  }

  onEvent(listener: (event: EndpointEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.connected = false;
  }

  /** Event listeners still registered (a detached dispatcher leaves none). */
  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Comes online and tells the listeners. */
  online(): void {
    this.connected = true;
    this.emit({ type: 'connected', sessionPresent: false });
  }

  /** Goes offline and tells the listeners (pending publishes stay pending: fail them by hand). */
  offline(reason = 'test'): void {
    this.connected = false;
    this.emit({ type: 'disconnected', reason });
  }

  /** Settles the oldest pending publish whose topic is `topic` (or the oldest of all). */
  settle(outcome: PublishOutcome, topic?: string): BridgeMessage {
    const at = topic === undefined ? 0 : this.pending.findIndex((p) => p.message.topic === topic);
    const publish = this.pending[at];
    if (at < 0 || !publish) throw new Error(`no pending publish${topic === undefined ? '' : ` on ${topic}`}`);
    this.pending.splice(at, 1);
    publish.settle(outcome);
    return publish.message;
  }

  ack(topic?: string): BridgeMessage {
    return this.settle(ACKED, topic);
  }

  /** Settles every pending publish with `outcome`, oldest first; returns their topics. */
  settleAll(outcome: PublishOutcome = ACKED): string[] {
    const topics: string[] = [];
    while (this.pending.length > 0) topics.push(this.settle(outcome).topic);
    return topics;
  }

  /** Hands `message` to the handler subscribed with `filter`, as a source would. */
  deliver(filter: string, message: Partial<BridgeMessage> & { topic: string }): InboundResult {
    const handler = this.handlers.get(filter);
    if (!handler) throw new Error(`nothing subscribed ${filter} on ${this.name}`);
    const result = { held: false, outcome: undefined as { error: unknown } | undefined, releases: 0 };
    const full: BridgeMessage = { payload: Buffer.from('p'), qos: 1, retain: false, ...message };
    const returned = handler(full, {
      release(error?: unknown) {
        result.releases++;
        result.outcome ??= { error };
      },
    });
    if (returned === HELD) result.held = true;
    else if (returned instanceof Promise) throw new Error('the bridge handler returned a promise');
    else result.outcome = { error: undefined };
    return result;
  }

  private hold(message: BridgeMessage, settle: (outcome: PublishOutcome) => void): void {
    this.sent.push(message);
    const publish: PendingPublish = { message, settle };
    this.pending.push(publish);
    this.maxInFlight = Math.max(this.maxInFlight, this.pending.length);
    if (this.autoAck) {
      setImmediate(() => {
        const at = this.pending.indexOf(publish);
        if (at < 0) return;
        this.pending.splice(at, 1);
        settle(ACKED);
      });
    }
  }

  private emit(event: EndpointEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** A message as a test writes it. */
export function msg(topic: string, qos: QoS = 1, payload = topic): BridgeMessage {
  return { topic, payload: Buffer.from(payload), qos, retain: false };
}

/** What a destination says when the connection went away before its ack (the transport's ECONNCLOSED). */
export function connectionLost(): PublishOutcome {
  const cause = Object.assign(new Error('connection closed before the broker acknowledged'), { code: 'ECONNCLOSED' });
  return { status: 'retryable', error: new TetherError('TETHER_ERR_PUBLISH', 'publish failed', { cause }) };
}

/** A retryable failure that says something about the message (a timeout, an MQTT 5 reason code). */
export function failedWith(reasonCode = 0x80): PublishOutcome {
  const cause = Object.assign(new Error('unspecified error'), { reasonCode });
  return { status: 'retryable', error: new TetherError('TETHER_ERR_PUBLISH', 'publish failed', { cause }) };
}

/** The destination was offline: the send never happened. */
export function neverSent(): PublishOutcome {
  return { status: 'retryable', error: new TetherError('TETHER_ERR_CONNECT', 'not connected') };
}

export function refused(): PublishOutcome {
  return { status: 'rejected', error: new TetherError('TETHER_ERR_PUBLISH', 'not authorized') };
}

/** Lets every callback scheduled so far (setImmediate, promise jobs) run. */
export async function settleTurns(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A logger whose lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}
