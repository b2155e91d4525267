import type { MemberAvailable, Subscription } from './subscription.js';

/**
 * The members of one shared subscription, (share name, topic filter): each message goes to one
 * of them (MQTT 5 section 4.8.2), in turn. A client is a member at most once; subscribing again
 * replaces its options in place and keeps its turn [MQTT-3.8.4-3].
 */
export class SharedGroup {
  readonly #members: Subscription[] = [];
  #next = 0;

  constructor(
    readonly group: string,
    readonly topicFilter: string,
  ) {}

  get size(): number {
    return this.#members.length;
  }

  /** Adds or replaces the client's membership; true when it replaced one. */
  set(subscription: Subscription): boolean {
    const i = this.#indexOf(subscription.clientId);
    if (i >= 0) {
      this.#members[i] = subscription;
      return true;
    }
    this.#members.push(subscription);
    return false;
  }

  delete(clientId: string): boolean {
    const i = this.#indexOf(clientId);
    if (i < 0) return false;
    this.#members.splice(i, 1);
    // keep the turn on the member that was next
    if (i < this.#next) this.#next--;
    if (this.#next >= this.#members.length) this.#next = 0;
    return true;
  }

  /**
   * The next member in turn that `isAvailable` accepts (all are, without it). When none is,
   * the next in turn anyway, flagged, so the caller chooses between queueing in that member's
   * session and dropping. Undefined only for an empty group.
   */
  pick(isAvailable: MemberAvailable | undefined): { member: Subscription; available: boolean } | undefined {
    const n = this.#members.length;
    if (n === 0) return undefined;
    for (let k = 0; k < n; k++) {
      const i = (this.#next + k) % n;
      const member = this.#members[i] as Subscription;
      if (isAvailable === undefined || isAvailable(member.clientId)) {
        this.#next = (i + 1) % n;
        return { member, available: true };
      }
    }
    const member = this.#members[this.#next] as Subscription;
    this.#next = (this.#next + 1) % n;
    return { member, available: false };
  }

  #indexOf(clientId: string): number {
    for (let i = 0; i < this.#members.length; i++) if (this.#members[i]?.clientId === clientId) return i;
    return -1;
  }
}
