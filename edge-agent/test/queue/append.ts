import type { BridgeMessage } from '../../src/core/bridge-message.js';
import type { MessageQueue } from '../../src/queue/message-queue.js';

/**
 * The promise form of MessageQueue.offer(), for tests and the store bench, which await: undefined
 * when safe at once, else resolves once stored (or delivered) and rejects when it cannot be. The
 * agent itself never awaits per message.
 *
 * offer() may release the hold before it returns (a listener told of the message takes and acks
 * it at once, so it is delivered before it was written): that outcome is kept until the promise
 * exists, not lost.
 */
export function append(queue: MessageQueue, message: BridgeMessage): Promise<void> | undefined {
  let early: { error?: unknown } | undefined;
  let settle: ((error?: unknown) => void) | undefined;
  const safeNow = queue.offer(message, {
    release: (error) => {
      if (settle) settle(error);
      else early = { error };
    },
  });
  if (safeNow) return undefined;
  return new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
    if (early) settle(early.error);
  });
}
