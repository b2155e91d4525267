import type { Aedes, PublishPacket } from 'aedes';

/**
 * Feeds the hub's own publishes (in-process link, route copies) into aedes so they reach
 * subscribers in the order they were made.
 *
 * Why: aedes numbers a packet (brokerCounter) when publish() is called, but a QoS>0 or
 * retained packet first passes persistence steps (a few promise hops) while a plain QoS 0
 * one is emitted at once. Issued in the same tick, the later QoS 0 packet overtakes, and
 * each socket client's dedupe (`brokerCounter <= last seen` means duplicate) then silently
 * DROPS the earlier QoS 1 packet (moscajs/aedes#994, open). The steps are pure promise
 * hops with the in-memory persistence, so packets of the same kind keep their order; the
 * sequencer lets a different kind through only in a later tick, after those hops ran.
 */
export class OrderedPublisher {
  private readonly queue: Array<{ packet: PublishPacket; done: (err?: Error) => void }> = [];
  private turn: NodeJS.Immediate | undefined;

  constructor(private readonly broker: () => Aedes) {}

  publish(packet: PublishPacket): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ packet, done: (err) => (err ? reject(err) : resolve()) });
      this.schedule();
    });
  }

  /** Hub stopping: pending publishes fail. */
  close(): void {
    if (this.turn) clearImmediate(this.turn);
    this.turn = undefined;
    for (const item of this.queue.splice(0)) item.done(new Error('hub stopped'));
  }

  /**
   * Always from a setImmediate of our own: nothing else publishes in that tick (a socket
   * client's packets are handled in their own I/O callbacks), and its microtasks, which
   * carry the packets to the emitter, run before the next turn.
   */
  private schedule(): void {
    if (this.turn || this.queue.length === 0) return;
    this.turn = setImmediate(() => {
      this.turn = undefined;
      this.runTurn();
    });
  }

  /** Issues the leading run of packets of one kind, then leaves the rest to the next turn. */
  private runTurn(): void {
    const first = this.queue[0];
    if (!first) return;
    const kind = kindOf(first.packet);
    while (this.queue.length > 0 && kindOf((this.queue[0] as (typeof this.queue)[number]).packet) === kind) {
      const { packet, done } = this.queue.shift() as (typeof this.queue)[number];
      try {
        this.broker().publish(packet, (err) => done(err ?? undefined));
      } catch (err) {
        done(err as Error);
      }
    }
    this.schedule();
  }
}

/** Packets of one kind take the same path through aedes (same number of promise hops). */
function kindOf(packet: PublishPacket): number {
  return (packet.qos > 0 ? 2 : 0) + (packet.retain ? 1 : 0);
}
