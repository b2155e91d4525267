/**
 * The wait of a stopping endpoint for its in-flight publishes: done once `drained()` holds (no
 * publish left at the broker, or the connection gone) or the time is up. The endpoint calls
 * `changed()` wherever what `drained()` reads changes, so the wait ends at that moment instead
 * of at the next tick of a poll.
 */
export class DrainWaiter {
  private readonly checks = new Set<() => void>();

  /** Resolves once `drained()` returns true (checked now and at each `changed()`), or after `ms`. Never rejects. */
  until(drained: () => boolean, ms: number): Promise<void> {
    if (ms <= 0 || drained()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.checks.delete(check);
        resolve();
      };
      const check = (): void => {
        if (drained()) finish();
      };
      const timer = setTimeout(finish, ms);
      this.checks.add(check);
    });
  }

  /** Something `drained()` reads has changed: the waits check again. Called per settled publish. */
  changed(): void {
    if (this.checks.size === 0) return; // not stopping: no copy, no allocation on the message path
    for (const check of [...this.checks]) check();
  }
}
