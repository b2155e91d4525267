/**
 * Packet identifiers for our outgoing QoS 1/2 PUBLISH and SUBSCRIBE. They are 1..65535 and a new one
 * must not equal one still in flight [MQTT-2.2.1-3]; the space is shared by all packet types.
 * A flat table keeps allocate/release O(1) without a Map entry per message.
 */
export class PacketIds {
  private readonly used = new Uint8Array(65536);
  private cursor = 0;
  private count = 0;

  get inUse(): number {
    return this.count;
  }

  /** A free id, or 0 when all 65535 are in flight (0 is never a valid id). */
  allocate(): number {
    if (this.count >= 65535) return 0;
    let id = this.cursor;
    // Round-robin rather than lowest-free: an id just released is not reused at once, which keeps
    // a late duplicate ack from a broker from being matched to a newer message.
    do {
      id = id >= 65535 ? 1 : id + 1;
    } while (this.used[id] === 1);
    this.used[id] = 1;
    this.cursor = id;
    this.count++;
    return id;
  }

  release(id: number): void {
    if (this.used[id] !== 1) return;
    this.used[id] = 0;
    this.count--;
  }

  has(id: number): boolean {
    return this.used[id] === 1;
  }
}
