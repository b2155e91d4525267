import type { PacketIds } from './packet-ids.js';
import { type PacketWriter, PUBREL } from './packet-writer.js';
import { describeReason } from './reason-codes.js';
import { type MqttError, mqttError } from './types.js';

/** Runs once: without an error when the broker acknowledged, with one when it refused or the connection closed. */
export type PublishCallback = (error?: MqttError) => void;

interface Pending {
  readonly qos: 1 | 2;
  readonly done: PublishCallback;
}

interface Queued extends Pending {
  readonly topic: string;
  readonly payload: Buffer;
  readonly retain: boolean;
}

/**
 * Our QoS 1/2 publishes until the broker acknowledges them: PUBACK for QoS 1, PUBREC → PUBREL →
 * PUBCOMP for QoS 2 (sections 4.3.2, 4.3.3). No retries and no offline queue: on a lost connection everything
 * rejects and the caller (which owns durability and order) sends again on the next connection.
 *
 * The one local queue is flow control inside a live connection: an MQTT 5 server's Receive Maximum
 * caps the unacknowledged QoS 1/2 PUBLISHes we may have out (MQTT 5 section 3.3.4), and ids are finite.
 */
export class OutboundInflight {
  /** From the CONNACK (MQTT 5 Receive Maximum); 65535 when the server sets none (section 3.2.2.3.3). */
  receiveMaximum = 65535;
  private readonly pending = new Map<number, Pending>();
  private waiting: Array<Queued | undefined> = [];
  private waitHead = 0;

  constructor(
    private readonly ids: PacketIds,
    private readonly writer: PacketWriter,
  ) {}

  /** Publishes sent and not yet acknowledged, plus those waiting for a Receive Maximum slot. */
  get size(): number {
    return this.pending.size + this.waiting.length - this.waitHead;
  }

  publish(topic: string, payload: Buffer, qos: 1 | 2, retain: boolean, done: PublishCallback): void {
    if (this.waitHead < this.waiting.length || !this.trySend(topic, payload, qos, retain, done)) {
      this.waiting.push({ topic, payload, qos, retain, done });
    }
  }

  puback(id: number, reasonCode: number | undefined): void {
    const entry = this.pending.get(id);
    if (entry?.qos !== 1) return; // unknown id or a QoS 2 id: a broker error, nothing of ours to settle
    this.settle(id, entry, reasonCode, 'PUBACK');
  }

  pubrec(id: number, reasonCode: number | undefined): void {
    const entry = this.pending.get(id);
    if (entry?.qos !== 2) return;
    // A PUBREC reason >= 0x80 ends the exchange: no PUBREL follows (MQTT 5 section 4.3.3)
    if (reasonCode !== undefined && reasonCode >= 0x80) {
      this.settle(id, entry, reasonCode, 'PUBREC');
      return;
    }
    // A repeated PUBREC (the broker did not see our PUBREL) gets PUBREL again
    this.writer.ack(PUBREL, id);
  }

  pubcomp(id: number): void {
    const entry = this.pending.get(id);
    if (entry?.qos !== 2) return;
    this.settle(id, entry, undefined, 'PUBCOMP');
  }

  /** Rejects everything (connection closed); the instance is not used afterwards. */
  failAll(error: MqttError): void {
    const pending = [...this.pending.values()];
    const waiting = this.waiting.slice(this.waitHead) as Queued[];
    this.pending.clear();
    this.waiting = [];
    this.waitHead = 0;
    for (const p of pending) p.done(error);
    for (const q of waiting) q.done(error);
  }

  private settle(id: number, entry: Pending, reasonCode: number | undefined, what: string): void {
    this.pending.delete(id);
    this.ids.release(id);
    if (reasonCode !== undefined && reasonCode >= 0x80) {
      entry.done(mqttError(`broker refused the publish: ${what} ${describeReason(reasonCode, 5)}`, { reasonCode }));
    } else {
      entry.done();
    }
    this.pump();
  }

  private trySend(topic: string, payload: Buffer, qos: 1 | 2, retain: boolean, done: PublishCallback): boolean {
    if (this.pending.size >= this.receiveMaximum) return false;
    const id = this.ids.allocate();
    if (id === 0) return false;
    try {
      this.writer.publish(topic, payload, qos, retain, false, id);
    } catch (error) {
      this.ids.release(id);
      done(error as MqttError);
      return true;
    }
    this.pending.set(id, { qos, done });
    return true;
  }

  /** Sends waiting publishes, in order, while slots are free. */
  private pump(): void {
    while (this.waitHead < this.waiting.length) {
      const q = this.waiting[this.waitHead] as Queued;
      if (!this.trySend(q.topic, q.payload, q.qos, q.retain, q.done)) return;
      this.waiting[this.waitHead] = undefined; // let the payload be collected
      this.waitHead++;
    }
    this.waiting = [];
    this.waitHead = 0;
  }
}
