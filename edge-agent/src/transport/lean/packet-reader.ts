/** Where the reader hands what it decoded. Calls are synchronous, in stream order. */
export interface PacketSink {
  /** A PUBLISH without MQTT 5 properties (section 3.3): the hot path. `payload` is a view of the input. */
  publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, dup: boolean, id: number): void;
  /** PUBACK (4), PUBREC (5), PUBREL (6) or PUBCOMP (7) with its packet id and MQTT 5 reason code. */
  ack(type: number, id: number, reasonCode: number | undefined): void;
  /** Any other complete packet (CONNACK, SUBACK, DISCONNECT, a PUBLISH with properties, ...), for mqtt-packet. */
  other(frame: Buffer): void;
  /** The stream cannot be read on: the connection must close. */
  malformed(reason: string): void;
}

const PUBLISH = 3;

/**
 * Splits the byte stream from the broker into MQTT packets (fixed header: type, flags, Remaining
 * Length, section 2.1) and decodes the packets a bridge sees per message — PUBLISH and the four
 * acks — by hand: no packet object, no BufferList, the payload a view of the input chunk. The rare
 * packets go whole to mqtt-packet's parser, which then only ever sees complete frames.
 *
 * A frame split across chunks is assembled in one buffer of its final size, so a large payload
 * arriving in many chunks is copied once, not once per chunk.
 */
export class PacketReader {
  /** Bytes of an unfinished fixed header (at most 4) waiting for the next chunk. */
  private head: Buffer | undefined;
  /** An unfinished frame: its buffer (final size) and how much of it is filled. */
  private frame: Buffer | undefined;
  private filled = 0;
  /** Where the unfinished frame's body starts (after its fixed header). */
  private bodyStart = 0;
  private stopped = false;

  constructor(
    private readonly v5: boolean,
    private readonly sink: PacketSink,
  ) {}

  /** No more calls to the sink (the connection is closing); later input is ignored. */
  stop(): void {
    this.stopped = true;
    this.head = undefined;
    this.frame = undefined;
  }

  push(chunk: Buffer): void {
    if (this.stopped) return;
    let input = chunk;
    let at = 0;
    if (this.frame) {
      const frame = this.frame;
      const take = Math.min(frame.length - this.filled, input.length);
      input.copy(frame, this.filled, 0, take);
      this.filled += take;
      if (this.filled < frame.length) return;
      this.frame = undefined;
      this.decode(frame, 0, this.bodyStart, frame.length);
      at = take;
    } else if (this.head) {
      input = Buffer.concat([this.head, input]);
      this.head = undefined;
    }
    const end = input.length;
    while (at < end && !this.stopped) {
      // fixed header: one byte of type and flags, then 1-4 bytes of Remaining Length
      let length = 0;
      let multiplier = 1;
      let pos = at + 1;
      let complete = false;
      for (let n = 0; n < 4 && pos < end; n++) {
        const byte = input[pos++] as number;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (pos - at >= 5) {
          this.fail('Remaining Length longer than four bytes');
          return;
        }
        this.head = Buffer.from(input.subarray(at)); // copy: the chunk need not stay alive for it
        return;
      }
      const frameEnd = pos + length;
      if (frameEnd > end) {
        this.keepPartial(input, at, frameEnd - at, pos - at);
        return;
      }
      this.decode(input, at, pos, frameEnd);
      at = frameEnd;
    }
  }

  private keepPartial(input: Buffer, at: number, size: number, bodyStart: number): void {
    this.bodyStart = bodyStart;
    const frame = Buffer.allocUnsafe(size);
    const have = input.length - at;
    input.copy(frame, 0, at);
    this.frame = frame;
    this.filled = have;
  }

  /** One complete frame: `input[start]` is its first byte, `body` the byte after its fixed header, `end` one past its last. */
  private decode(input: Buffer, start: number, body: number, end: number): void {
    const first = input[start] as number;
    const type = first >> 4;
    const pos = body;
    if (type === PUBLISH) {
      this.publish(input, first, pos, start, end);
      return;
    }
    if (type >= 4 && type <= 7) {
      if (end - pos < 2) {
        this.fail(`acknowledgement of type ${type} shorter than two bytes`);
        return;
      }
      const id = ((input[pos] as number) << 8) | (input[pos + 1] as number);
      // MQTT 5: a reason code may follow; absent means 0x00 Success (section 3.4.2.1)
      const reason = this.v5 && end - pos > 2 ? (input[pos + 2] as number) : undefined;
      this.sink.ack(type, id, reason);
      return;
    }
    this.sink.other(input.subarray(start, end));
  }

  private publish(input: Buffer, first: number, pos: number, start: number, end: number): void {
    const qos = (first >> 1) & 3;
    if (qos === 3) {
      this.fail('PUBLISH with QoS 3'); // [MQTT-3.3.1-4]
      return;
    }
    if (end - pos < 2) {
      this.fail('PUBLISH without a topic length');
      return;
    }
    const topicLength = ((input[pos] as number) << 8) | (input[pos + 1] as number);
    const topicStart = pos + 2;
    pos = topicStart + topicLength;
    let id = 0;
    if (qos > 0) {
      id = ((input[pos] as number) << 8) | (input[pos + 1] as number);
      pos += 2;
    }
    if (pos > end) {
      this.fail('PUBLISH shorter than its topic and packet id');
      return;
    }
    if (this.v5) {
      // Property Length 0 is the common case; anything else (topic alias, user properties, ...) goes to mqtt-packet
      if (pos >= end || input[pos] !== 0) {
        this.sink.other(input.subarray(start, end));
        return;
      }
      pos++;
    }
    const topic = input.toString('utf8', topicStart, topicStart + topicLength);
    this.sink.publish(topic, input.subarray(pos, end), qos as 0 | 1 | 2, (first & 1) === 1, (first & 8) === 8, id);
  }

  private fail(reason: string): void {
    this.stop();
    this.sink.malformed(reason);
  }
}
