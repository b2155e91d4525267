import { type PacketWriter, PUBACK, PUBCOMP, PUBREC } from './packet-writer.js';

/** QoS 2 receive state per packet id. */
const NONE = 0;
/** Delivered to the caller, not acked yet: a DUP re-send is swallowed, PUBREC goes out on ack(). */
const DELIVERED = 1;
/** PUBREC sent, waiting for PUBREL (section 4.3.3): a re-send gets PUBREC again, not a second delivery. */
const RECEIVED = 2;

/**
 * Inbound QoS 1/2 acknowledgements. The caller acks each message when it is durably stored, which
 * can be in any order (parallel writes, group commits), but PUBACKs must leave in the order the
 * PUBLISHes arrived [MQTT-4.6.0-2] and PUBRECs likewise [MQTT-4.6.0-3]. So every QoS 1/2 message gets a
 * sequence number in one FIFO and an ack releases the acked prefix of the FIFO.
 *
 * The FIFO is a ring of typed arrays indexed by `seq & mask`, so the hot path allocates nothing but
 * the ack closure. The parser keeps reading while acks are pending; once `max` are pending the
 * `onPressure(true)` callback pauses the socket, and `onPressure(false)` resumes it.
 */
export class InboundAcks {
  private ids = new Uint16Array(64);
  private qos = new Uint8Array(64);
  private done = new Uint8Array(64);
  private mask = 63;
  /** Absolute sequence numbers: `head` is the oldest unreleased message, `tail` the next to come. */
  private head = 0;
  private tail = 0;
  private readonly qos2 = new Uint8Array(65536);
  private paused = false;
  private closed = false;

  constructor(
    private readonly writer: PacketWriter,
    private readonly max: number,
    private readonly onPressure: (paused: boolean) => void,
  ) {}

  /** Messages delivered and not yet acked to the broker (including acked ones held back by order). */
  get pending(): number {
    return this.tail - this.head;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Registers a QoS 1/2 PUBLISH. Returns the ack function to hand to the caller, or undefined when the
   * message must not be delivered: a QoS 2 re-send of an id still awaiting PUBREL.
   */
  receive(id: number, qos: 1 | 2): (() => void) | undefined {
    if (qos === 2) {
      const state = this.qos2[id];
      if (state === RECEIVED) {
        this.writer.ack(PUBREC, id);
        return undefined;
      }
      if (state === DELIVERED) return undefined;
      this.qos2[id] = DELIVERED;
    }
    if (this.tail - this.head > this.mask) this.grow();
    const seq = this.tail++;
    const slot = seq & this.mask;
    this.ids[slot] = id;
    this.qos[slot] = qos;
    this.done[slot] = 0;
    if (!this.paused && this.tail - this.head >= this.max) {
      this.paused = true;
      this.onPressure(true);
    }
    return () => this.ack(seq);
  }

  /** PUBREL ends a QoS 2 exchange with PUBCOMP (section 4.3.3). */
  pubrel(id: number): void {
    // A PUBREL for an id we no longer know (PUBREC sent on an earlier connection) still gets PUBCOMP
    // so the broker can finish; one for a message not yet PUBREC'd is a broker error we tolerate.
    if (this.qos2[id] === RECEIVED) this.qos2[id] = NONE;
    this.writer.ack(PUBCOMP, id);
  }

  /** After the connection is gone acks are meaningless: the broker re-sends unacked messages. */
  close(): void {
    this.closed = true;
  }

  private ack(seq: number): void {
    if (this.closed || seq < this.head) return;
    this.done[seq & this.mask] = 1;
    if (seq !== this.head) return;
    const { writer, ids, qos, done, mask } = this;
    let head = this.head;
    while (head < this.tail && done[head & mask] === 1) {
      const slot = head & mask;
      const id = ids[slot] as number;
      if (qos[slot] === 1) {
        writer.ack(PUBACK, id);
      } else {
        writer.ack(PUBREC, id);
        this.qos2[id] = RECEIVED;
      }
      done[slot] = 0;
      head++;
    }
    this.head = head;
    if (this.paused && this.tail - head < this.max) {
      this.paused = false;
      this.onPressure(false);
    }
  }

  private grow(): void {
    const size = (this.mask + 1) * 2;
    const mask = size - 1;
    const ids = new Uint16Array(size);
    const qos = new Uint8Array(size);
    const done = new Uint8Array(size);
    for (let seq = this.head; seq < this.tail; seq++) {
      const from = seq & this.mask;
      const to = seq & mask;
      ids[to] = this.ids[from] as number;
      qos[to] = this.qos[from] as number;
      done[to] = this.done[from] as number;
    }
    this.ids = ids;
    this.qos = qos;
    this.done = done;
    this.mask = mask;
  }
}
