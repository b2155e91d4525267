import type { Duplex } from 'node:stream';

/** Fixed headers of the two-byte-id acks; PUBREL's flags must be 0010 [MQTT-3.6.1-1]. */
export const PUBACK = 0x40;
export const PUBREC = 0x50;
export const PUBREL = 0x62;
export const PUBCOMP = 0x70;
const PINGREQ = Buffer.from([0xc0, 0x00]);
/** Remaining Length 0 is a valid DISCONNECT in 3.1.1 and in 5 (reason 0x00, no properties: 3.14.2.1). */
const DISCONNECT = Buffer.from([0xe0, 0x00]);
const SCRATCH_BYTES = 16 * 1024;
/** Payloads up to this size are copied next to their header instead of becoming a chunk of their own. */
const INLINE_PAYLOAD = 256;
/** Bytes in Node's write buffer up to which a QoS 0 send completes without waiting for 'drain'. */
const QOS0_BUFFERED = 1024 * 1024;
const MAX_REMAINING = 268_435_455; // largest four-byte Variable Byte Integer (section 1.5.5)

function flushTick(writer: PacketWriter): void {
  writer.flushNow();
}

/**
 * Coalesces every packet queued in one tick into a single `write()`: under load a data chunk of a
 * hundred PUBLISHes produces a hundred PUBACKs, and one syscall instead of a hundred is the speed-up.
 * Small packets (acks, PUBLISH headers, small payloads) are encoded straight into a scratch buffer, so
 * an ack costs no allocation; large payloads are kept as their own chunk and copied once at flush.
 * The flush runs on process.nextTick, which Node runs after the microtask queue drains, so acks
 * released from a batch of resolved promises (a group commit) still share one write.
 */
export class PacketWriter {
  /** Date.now() of the last socket write, for keepalive ("nothing sent for keepalive seconds"). */
  lastWriteAt = Date.now();
  private chunks: Buffer[] = [];
  private bytes = 0;
  private scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  private scratchStart = 0;
  private scratchEnd = 0;
  private scratchUsed = false;
  private scheduled = false;
  private flushWaiters: Array<(error?: Error) => void> = [];
  /** QoS 0 senders waiting for the socket to drain below its high-water mark. */
  private drainWaiters: Array<(error?: Error) => void> = [];
  private closedWith: Error | undefined;

  constructor(
    private readonly stream: Duplex,
    private readonly protocolVersion: 4 | 5,
  ) {}

  /** PUBACK, PUBREC, PUBREL or PUBCOMP with success: the 4-byte form, valid in v5 too (sections 3.4.2.1-3.7.2.1). */
  ack(header: number, id: number): void {
    if (this.closedWith) return;
    const at = this.reserve(4);
    const s = this.scratch;
    s[at] = header;
    s[at + 1] = 2;
    s[at + 2] = id >> 8;
    s[at + 3] = id & 0xff;
    this.schedule();
  }

  pingreq(): void {
    this.packet(PINGREQ);
  }

  disconnect(): void {
    this.packet(DISCONNECT);
  }

  /**
   * Encodes a PUBLISH without properties (section 3.3); the hot path, so no intermediate object and
   * no mqtt-packet call. Byte-for-byte equal to mqttPacket.generate (see packet-writer.test.ts).
   * Throws on an invalid topic before anything is queued.
   */
  publish(topic: string, payload: Buffer, qos: number, retain: boolean, dup: boolean, id: number): void {
    if (this.closedWith) return;
    // Topic Names have at least one character and no wildcards [MQTT-4.7.3-1], [MQTT-3.3.2-2]
    if (topic.length === 0 || topic.includes('+') || topic.includes('#')) {
      throw new Error(`invalid topic name for PUBLISH: ${JSON.stringify(topic)}`);
    }
    const topicBytes = Buffer.byteLength(topic);
    if (topicBytes > 65535) throw new Error('topic name longer than 65535 bytes');
    const variable = 2 + topicBytes + (qos > 0 ? 2 : 0) + (this.protocolVersion === 5 ? 1 : 0);
    const remaining = variable + payload.length;
    if (remaining > MAX_REMAINING) throw new Error('PUBLISH larger than the MQTT maximum of 256 MB');
    const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
    const inline = payload.length <= INLINE_PAYLOAD;
    const size = 1 + lengthBytes + variable + (inline ? payload.length : 0);
    let at = this.reserve(size);
    const s = this.scratch;
    s[at++] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0);
    let n = remaining;
    do {
      let byte = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) byte |= 0x80;
      s[at++] = byte;
    } while (n > 0);
    s[at++] = topicBytes >> 8;
    s[at++] = topicBytes & 0xff;
    at += s.write(topic, at, 'utf8');
    if (qos > 0) {
      s[at++] = id >> 8;
      s[at++] = id & 0xff;
    }
    if (this.protocolVersion === 5) s[at++] = 0; // Property Length 0
    if (inline) payload.copy(s, at);
    else this.pushChunk(payload);
    this.schedule();
  }

  /** A packet already encoded (mqttPacket.generate for the rare ones: CONNECT, SUBSCRIBE). */
  packet(buffer: Buffer): void {
    if (this.closedWith) return;
    this.pushChunk(buffer);
    this.schedule();
  }

  /**
   * QoS 0 "sent": `done` runs once what is queued now was handed to the socket and Node's
   * write buffer holds less than 1 MiB, else at its 'drain' (or when the connection failed). Waiting
   * keeps a fast QoS 0 sender from piling up unbounded data in Node's write buffer: the backlog
   * stays in the caller's bounded queue instead.
   */
  flushed(done: (error?: Error) => void): void {
    if (this.closedWith) done(this.closedWith);
    else if (this.bytes === 0) done();
    else this.flushWaiters.push(done);
  }

  flushNow(): void {
    this.scheduled = false;
    if (this.closedWith || this.bytes === 0) return;
    this.seal();
    const chunks = this.chunks;
    // A lone external chunk (a big payload, CONNECT) goes as is; anything holding scratch is copied
    // out by concat so the scratch buffer can be reused from offset 0.
    const data = chunks.length === 1 && !this.scratchUsed ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    this.scratchStart = 0;
    this.scratchEnd = 0;
    this.scratchUsed = false;
    this.lastWriteAt = Date.now();
    // up to QOS0_BUFFERED bytes may wait in Node's buffer: the socket stays busy between drains
    const below = this.stream.write(data) || this.stream.writableLength < QOS0_BUFFERED;
    if (this.flushWaiters.length > 0) {
      const waiters = this.flushWaiters;
      this.flushWaiters = [];
      if (below && this.drainWaiters.length === 0) {
        for (const done of waiters) done();
      } else {
        if (this.drainWaiters.length === 0) this.stream.once('drain', this.onDrain);
        for (const done of waiters) this.drainWaiters.push(done);
      }
    }
  }

  private readonly onDrain = (): void => {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const done of waiters) done();
  };

  /** Drops what is queued; later writes are ignored and QoS 0 waiters reject with `error`. */
  close(error: Error): void {
    if (this.closedWith) return;
    this.closedWith = error;
    this.chunks = [];
    this.bytes = 0;
    const waiters = [...this.flushWaiters, ...this.drainWaiters];
    this.flushWaiters = [];
    this.drainWaiters = [];
    this.stream.off('drain', this.onDrain);
    for (const done of waiters) done(error);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(flushTick, this);
  }

  private reserve(size: number): number {
    if (this.scratchEnd + size > this.scratch.length) {
      // The filled scratch is still referenced by queued chunks: start a fresh one
      this.seal();
      this.scratch = Buffer.allocUnsafe(Math.max(SCRATCH_BYTES, size));
      this.scratchStart = 0;
      this.scratchEnd = 0;
    }
    const at = this.scratchEnd;
    this.scratchEnd += size;
    this.bytes += size;
    this.scratchUsed = true;
    return at;
  }

  private pushChunk(buffer: Buffer): void {
    this.seal();
    this.chunks.push(buffer);
    this.bytes += buffer.length;
  }

  /** Moves the scratch bytes written since the last seal into the chunk list, keeping packet order. */
  private seal(): void {
    if (this.scratchEnd === this.scratchStart) return;
    this.chunks.push(this.scratch.subarray(this.scratchStart, this.scratchEnd));
    this.scratchStart = this.scratchEnd;
  }
}
