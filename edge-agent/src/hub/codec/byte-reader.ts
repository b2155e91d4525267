import { malformed } from './decode-error.js';
import { readUtf8 } from './utf8.js';

const EMPTY = Buffer.alloc(0);

/**
 * A cursor over one packet's body, `buf[pos, end)`, for the decoders: every read is bounds-checked
 * against the packet's end (not the chunk's), and running short is a malformed packet. One instance
 * per FrameReader, reset per packet, so decoding allocates no cursor.
 */
export class ByteReader {
  buf: Buffer = EMPTY;
  pos = 0;
  end = 0;

  reset(buf: Buffer, pos: number, end: number): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(field: string): number {
    if (this.pos >= this.end) throw short(field);
    return this.buf[this.pos++] as number;
  }

  u16(field: string): number {
    const at = this.pos;
    if (at + 2 > this.end) throw short(field);
    this.pos = at + 2;
    return ((this.buf[at] as number) << 8) | (this.buf[at + 1] as number);
  }

  u32(field: string): number {
    const at = this.pos;
    if (at + 4 > this.end) throw short(field);
    this.pos = at + 4;
    return this.buf.readUInt32BE(at);
  }

  /** A Variable Byte Integer (section 1.5.5): at most four bytes. */
  varint(field: string): number {
    let value = 0;
    let multiplier = 1;
    for (let n = 0; n < 4; n++) {
      const byte = this.u8(field);
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return value;
      multiplier *= 128;
    }
    throw malformed(`${field}: Variable Byte Integer longer than four bytes`);
  }

  /** A UTF-8 Encoded String (section 1.5.4), checked; `topicName` also refuses wildcards. */
  utf8(field: string, topicName = false): string {
    const length = this.u16(field);
    const at = this.pos;
    if (at + length > this.end) throw short(field);
    this.pos = at + length;
    return readUtf8(this.buf, at, at + length, field, topicName);
  }

  /** Binary Data (section 1.5.6): a view of the input, not a copy. */
  binary(field: string): Buffer {
    const length = this.u16(field);
    const at = this.pos;
    if (at + length > this.end) throw short(field);
    this.pos = at + length;
    return this.buf.subarray(at, at + length);
  }

  /** The rest of the packet (a PUBLISH or Will payload), as a view. */
  rest(): Buffer {
    const view = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return view;
  }

  /** The packet's fields must fill its Remaining Length exactly. */
  expectEnd(packet: string): void {
    if (this.pos !== this.end) throw malformed(`${packet} has ${this.end - this.pos} bytes after its last field`);
  }
}

function short(field: string) {
  return malformed(`packet ends inside ${field}`);
}
