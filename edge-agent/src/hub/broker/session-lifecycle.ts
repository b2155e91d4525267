import type { Logger } from 'pino';
import type { Will } from '../codec/types.js';
import type { Session } from './session.js';

export interface LifecycleActions {
  publishWill(session: Session, will: Will): void;
  endSession(session: Session): void;
  readonly logger: Logger;
}

/** 5.0's "never expires" (0xFFFFFFFF seconds) [MQTT-3.1.2-?, section 3.1.2.11.2]. */
const NEVER_SEC = 0xffff_ffff;
/** setTimeout's longest delay; longer waits are re-armed. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The timers of sessions whose client is gone: the will after its delay (5.0 Will Delay
 * Interval, or at once), and the end of the session after its expiry. A client that comes back
 * in time cancels both [MQTT-3.1.3-9]; a session that ends first sends its will then.
 */
export class SessionLifecycle {
  private readonly timers = new Map<Session, { will?: Timer; end?: Timer }>();

  constructor(private readonly actions: LifecycleActions) {}

  online(session: Session): void {
    this.forget(session);
  }

  offline(session: Session, expiryMs: number): void {
    this.forget(session);
    const timers: { will?: Timer; end?: Timer } = {};
    this.timers.set(session, timers);
    const will = session.will;
    const never = session.expirySec === NEVER_SEC;
    if (will) {
      const delayMs = (will.properties?.willDelayInterval ?? 0) * 1000;
      if (delayMs === 0) {
        session.will = undefined;
        this.actions.publishWill(session, will);
      } else if (never || delayMs < expiryMs) {
        timers.will = later(delayMs, () => {
          session.will = undefined;
          this.actions.publishWill(session, will);
        });
      }
      // else the session ends first, and its end sends the will [MQTT-3.1.3-9]
    }
    if (never) return;
    if (expiryMs <= 0) {
      this.timers.delete(session);
      this.end(session);
      return;
    }
    timers.end = later(expiryMs, () => {
      this.timers.delete(session);
      this.actions.logger.debug({ clientId: session.clientId }, 'session expired');
      this.end(session);
    });
  }

  /** The session ends: a will still waiting goes now. */
  private end(session: Session): void {
    const pending = session.will;
    session.will = undefined;
    if (pending) this.actions.publishWill(session, pending);
    this.actions.endSession(session);
  }

  forget(session: Session): void {
    const t = this.timers.get(session);
    if (!t) return;
    t.will?.cancel();
    t.end?.cancel();
    this.timers.delete(session);
  }

  stop(): void {
    for (const t of this.timers.values()) {
      t.will?.cancel();
      t.end?.cancel();
    }
    this.timers.clear();
  }
}

interface Timer {
  cancel(): void;
}

/** A timer that may wait longer than setTimeout can (re-armed in steps); unref'd. */
function later(ms: number, run: () => void): Timer {
  const at = Date.now() + ms;
  let handle: NodeJS.Timeout;
  const arm = (): void => {
    const left = at - Date.now();
    handle = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(run, Math.max(0, left));
    handle.unref();
  };
  arm();
  return { cancel: () => clearTimeout(handle) };
}
