import type { BridgeMessage } from '../../src/core/bridge-message.js';
import type { MessageQueue } from '../../src/queue/message-queue.js';

/**
 * The promise form of MessageQueue.offer(), for tests and the store bench, which await: undefined
 * when safe at once, else resolves once stored (or delivered) and rejects when it cannot be. The
 * agent itself never awaits per message.
 */
export function append(queue: MessageQueue, message: BridgeMessage): Promise<void> | undefined {
  let settle: ((error?: unknown) => void) | undefined;
  const safeNow = queue.offer(message, { release: (error) => settle?.(error) });
  if (safeNow) return undefined;
  return new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
}
