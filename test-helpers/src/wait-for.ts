/** Bounded waiting: every wait here ends, with an error that says what was being waited for. */

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

export interface WaitForOptions {
  /** What is being waited for, for the error message ("broker to accept connections"). */
  what: string;
  /** Overall limit. Default 5000 ms. */
  timeoutMs?: number;
  /** Pause between attempts. Default 50 ms. */
  intervalMs?: number;
  /** Gives up early, rejecting with the signal's reason (e.g. "the process exited"). */
  signal?: AbortSignal;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves with `promise`, or rejects with a `TimeoutError` naming `what` after `ms` milliseconds.
 * The timer is always cleared. It cannot cancel the underlying work: clean that up separately.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Calls `predicate` until it returns a truthy value (which is returned) or `timeoutMs` passes.
 * A predicate that throws counts as "not yet"; its last error is included in the timeout message.
 * Each attempt is itself bounded by the time left, so a hanging predicate cannot stall the wait.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  { what, timeoutMs = 5_000, intervalMs = 50, signal }: WaitForOptions,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    if (signal?.aborted)
      throw signal.reason instanceof Error ? signal.reason : new Error(`Gave up waiting for ${what}`);
    const left = deadline - Date.now();
    if (left <= 0) break;
    attempts++;
    try {
      const value = await withTimeout(Promise.resolve().then(predicate), left, `one check for ${what}`);
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    const pause = Math.min(intervalMs, deadline - Date.now());
    if (pause <= 0) break;
    await sleep(pause);
  }
  const last = lastError === undefined ? '' : ` (last error: ${errorText(lastError)})`;
  throw new TimeoutError(`Timed out after ${timeoutMs} ms waiting for ${what}; ${attempts} checks${last}`);
}
