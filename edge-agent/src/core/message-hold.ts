import type { BridgeMessage } from './bridge-message.js';

/**
 * "The message is safe" — stored durably, or already delivered — has one home: this file. A
 * source acknowledges a message (PUBACK) only once every destination that holds it says so.
 *
 * One verb: a holder calls `release()` once, with nothing when the message is safe, or with the
 * error that kept it from being stored (the source then leaves it unacknowledged and the sender
 * sends it again). An object with a method, not a closure: one allocation per message, not two.
 */
export interface MessageHold {
  release(error?: unknown): void;
}

/** What a handler returns when it holds the message and will call `hold.release()`. */
export const HELD: unique symbol = Symbol('held');

/**
 * Called for every message a subscription receives. The source is acknowledged once the message
 * is safe: at once when the handler returns nothing, when its promise resolves, or, when it
 * returns HELD, when it calls `hold.release()`. A rejection or `release(error)` leaves it
 * unacknowledged.
 */
export type InboundHandler = (message: BridgeMessage, hold: MessageHold) => void | Promise<void> | typeof HELD;

/**
 * The one fan-in counter: the holders still holding one message. `target` is released once
 * every one of them is done, with the first error if any reported one — so a failure is
 * reported once the others are done too, and the message is left unacknowledged as a whole.
 * One count belongs to the caller's loop, so a holder that is done at once cannot settle the
 * message before the others were even handed it. `target` is released at most once, whatever
 * the holders do.
 */
export class MessageHolds implements MessageHold {
  private count = 1;
  private failure: { error: unknown } | undefined;
  private settled = false;

  constructor(private readonly target: MessageHold) {}

  /** One more holder, which will call release() once (a queue taking the message, say). */
  add(): void {
    this.count++;
  }

  /** Hands `message` to `handler` and counts it until the handler is done. */
  handTo(handler: InboundHandler, message: BridgeMessage): void {
    this.count++;
    let result: ReturnType<InboundHandler>;
    try {
      result = handler(message, this);
    } catch (error) {
      this.release(error ?? new Error('message handler threw'));
      return;
    }
    if (result === HELD) return;
    if (result instanceof Promise) {
      result.then(
        () => this.release(),
        (error: unknown) => this.release(error ?? new Error('message handler rejected')),
      );
    } else {
      this.release();
    }
  }

  /** One holder is done (`error` null or absent: safe); the caller's loop calls it once more after its last handTo(). */
  release(error?: unknown): void {
    if (error !== undefined && error !== null) this.failure ??= { error };
    if (--this.count > 0 || this.settled) return;
    this.settled = true;
    try {
      this.target.release(this.failure?.error);
    } catch (thrown) {
      // this may run inside the store's commit loop, whose other messages must still be reported:
      // the failure surfaces as an uncaught exception (as the promise contract's did) after it
      queueMicrotask(() => {
        throw thrown;
      });
    }
  }
}
