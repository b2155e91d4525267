import { ByteReader } from './byte-reader.js';
import { decodeConnect } from './connect-decoder.js';
import { decodeAck, decodeAuth, decodeDisconnect, decodePingreq } from './control-decoders.js';
import { DecodeError, malformed, protocolError } from './decode-error.js';
import { decodePublish } from './publish-decoder.js';
import { decodeSubscribe, decodeUnsubscribe } from './subscribe-decoders.js';
import type {
  AckPacket,
  AuthPacket,
  ClientPacket,
  ConnectPacket,
  DisconnectPacket,
  ProtocolVersion,
  PublishPacket,
  SubscribePacket,
  UnsubscribePacket,
} from './types.js';

/** Where the reader hands what it decoded. Calls are synchronous, in stream order; none after a failure. */
export interface HubPacketSink {
  connect(packet: ConnectPacket): void;
  publish(packet: PublishPacket): void;
  puback(packet: AckPacket): void;
  pubrec(packet: AckPacket): void;
  pubrel(packet: AckPacket): void;
  pubcomp(packet: AckPacket): void;
  subscribe(packet: SubscribePacket): void;
  unsubscribe(packet: UnsubscribePacket): void;
  pingreq(): void;
  disconnect(packet: DisconnectPacket): void;
  auth(packet: AuthPacket): void;
  /**
   * The stream cannot be read on; the connection must close. `reasonCode` is the 5.0 code for a
   * CONNACK (before a CONNECT was accepted) or DISCONNECT; `connackReturnCode` the 3.1.1 CONNACK
   * code a refused CONNECT is owed, when one applies. FrameReader.protocolVersion says which to use.
   */
  malformed(reason: string, reasonCode: number, connackReturnCode: number | undefined): void;
  /** A packet of `size` bytes (fixed header included) is over the limit; its body was not read (0x95). */
  tooLarge(size: number): void;
}

export interface FrameReaderOptions {
  /**
   * Largest packet accepted, in bytes including the fixed header (5.0 section 3.1.2.11.4 counts it
   * so); what the server announces as Maximum Packet Size in CONNACK.
   * @default 268435460 (the protocol's largest: a four-byte Remaining Length of 268435455)
   */
  readonly maximumPacketSize?: number;
}

const MAX_PACKET = 268_435_455 + 5;
const CONNECT = 1;
const PUBLISH = 3;
const AUTH = 15;
/** Fixed-header flags each client packet type must carry (table 2.2) [MQTT-2.2.2-1] (5.0: [MQTT-2.1.3-1]). */
const FLAGS: ReadonlyArray<number | undefined> = [
  undefined,
  0,
  undefined,
  undefined,
  0,
  0,
  0b0010,
  0,
  0b0010,
  undefined,
  0b0010,
  undefined,
  0,
  undefined,
  0,
  0,
];
const TYPE_NAMES = [
  'reserved type 0',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'AUTH',
];
const ACK_TYPES = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp' } as const;
const PINGREQ_PACKET = { type: 'pingreq' } as const;

/**
 * The hub's side of one connection's byte stream: splits it into packets (fixed header, section
 * 2.1), refuses what it must from the fixed header alone (the first packet not a CONNECT
 * [MQTT-3.1.0-1], a second CONNECT [MQTT-3.1.0-2], wrong flags, a packet over the size limit,
 * before its body is buffered), and decodes each packet with the version the CONNECT chose.
 *
 * Like the lean client's PacketReader: a packet inside one chunk is decoded in place (payloads
 * are views of the chunk), and one split across chunks is assembled once in a buffer of its final
 * size, so a large payload in many chunks is copied once.
 */
export class FrameReader {
  private version: ProtocolVersion | undefined;
  private connected = false;
  private stopped = false;
  private head: Buffer | undefined;
  private frame: Buffer | undefined;
  private filled = 0;
  private bodyStart = 0;
  private readonly reader = new ByteReader();
  private readonly maximumPacketSize: number;

  constructor(
    private readonly sink: HubPacketSink,
    options: FrameReaderOptions = {},
  ) {
    this.maximumPacketSize = options.maximumPacketSize ?? MAX_PACKET;
  }

  /** The accepted CONNECT's version; after a refused CONNECT, the version it claimed if that was known. */
  get protocolVersion(): ProtocolVersion | undefined {
    return this.version;
  }

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
      if (!this.acceptType(input[at] as number)) return;
      // Remaining Length: a Variable Byte Integer of 1 to 4 bytes (section 2.2.3)
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
          this.fail(malformed('Remaining Length longer than four bytes'));
          return;
        }
        this.head = Buffer.from(input.subarray(at)); // copy: the chunk need not stay alive for it
        return;
      }
      const size = pos - at + length;
      if (size > this.maximumPacketSize) {
        this.stop();
        this.sink.tooLarge(size);
        return;
      }
      const frameEnd = pos + length;
      if (frameEnd > end) {
        this.keepPartial(input, at, size, pos - at);
        return;
      }
      this.decode(input, at, pos, frameEnd);
      at = frameEnd;
    }
  }

  /** The checks the first byte alone decides: done as soon as it arrives, before any body is read. */
  private acceptType(first: number): boolean {
    const type = first >> 4;
    const flags = first & 0x0f;
    if (!this.connected) {
      if (type === CONNECT && flags === 0) return true;
      this.fail(
        type === CONNECT
          ? malformed('CONNECT with fixed header flags not 0 [MQTT-2.2.2-1]')
          : protocolError(`${TYPE_NAMES[type]} before CONNECT [MQTT-3.1.0-1]`),
      );
      return false;
    }
    if (type === PUBLISH) return true;
    if (type === CONNECT) {
      this.fail(protocolError('second CONNECT [MQTT-3.1.0-2]'));
      return false;
    }
    const expected = FLAGS[type];
    if (expected === undefined || (type === AUTH && this.version !== 5)) {
      // 0 and (before 5.0) 15 are reserved; 2, 9, 11 and 13 go only from server to client
      const serverOnly = type === 2 || type === 9 || type === 11 || type === 13;
      this.fail((serverOnly ? protocolError : malformed)(`${TYPE_NAMES[type]} sent to the server`));
      return false;
    }
    // MQTT 3.1 set DUP (0x08) on a resent PUBREL, SUBSCRIBE or UNSUBSCRIBE; 3.1.1 made the bits fixed
    const seen = this.version === 3 && expected === 0b0010 ? flags & 0x07 : flags;
    if (seen !== expected) {
      // [MQTT-3.6.1-1] PUBREL, [MQTT-3.8.1-1] SUBSCRIBE, [MQTT-3.10.1-1] UNSUBSCRIBE
      this.fail(
        malformed(`${TYPE_NAMES[type]} with fixed header flags ${flags.toString(2).padStart(4, '0')} [MQTT-2.2.2-1]`),
      );
      return false;
    }
    return true;
  }

  private keepPartial(input: Buffer, at: number, size: number, bodyStart: number): void {
    this.bodyStart = bodyStart;
    const frame = Buffer.allocUnsafe(size);
    input.copy(frame, 0, at);
    this.frame = frame;
    this.filled = input.length - at;
  }

  /** One complete packet: `input[start]` its first byte, `body` the byte after its fixed header, `end` one past its last. */
  private decode(input: Buffer, start: number, body: number, end: number): void {
    const first = input[start] as number;
    const r = this.reader.reset(input, body, end);
    let packet: ClientPacket;
    try {
      packet = this.decodeBody(first, r);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      if (!this.connected && error.protocolVersion !== undefined) this.version = error.protocolVersion;
      this.fail(error);
      return;
    }
    this.deliver(packet);
  }

  private decodeBody(first: number, r: ByteReader): ClientPacket {
    const type = first >> 4;
    const version = this.version ?? 4;
    switch (type) {
      case CONNECT:
        return decodeConnect(r);
      case PUBLISH:
        return decodePublish(r, first & 0x0f, version);
      case 4:
      case 5:
      case 6:
      case 7:
        return decodeAck(r, ACK_TYPES[type], version);
      case 8:
        return decodeSubscribe(r, version);
      case 10:
        return decodeUnsubscribe(r, version);
      case 12:
        decodePingreq(r);
        return PINGREQ_PACKET;
      case 14:
        return decodeDisconnect(r, version);
      default:
        return decodeAuth(r); // acceptType let only AUTH on 5.0 through
    }
  }

  private deliver(packet: ClientPacket): void {
    const sink = this.sink;
    switch (packet.type) {
      case 'publish':
        sink.publish(packet);
        return;
      case 'puback':
        sink.puback(packet);
        return;
      case 'pubrec':
        sink.pubrec(packet);
        return;
      case 'pubrel':
        sink.pubrel(packet);
        return;
      case 'pubcomp':
        sink.pubcomp(packet);
        return;
      case 'pingreq':
        sink.pingreq();
        return;
      case 'subscribe':
        sink.subscribe(packet);
        return;
      case 'unsubscribe':
        sink.unsubscribe(packet);
        return;
      case 'connect':
        this.connected = true;
        this.version = packet.protocolVersion;
        sink.connect(packet);
        return;
      case 'disconnect':
        this.stop(); // nothing may follow a DISCONNECT [MQTT-3.14.4-1]
        sink.disconnect(packet);
        return;
      case 'auth':
        sink.auth(packet);
        return;
    }
  }

  private fail(error: DecodeError): void {
    this.stop();
    this.sink.malformed(error.message, error.reasonCode, error.connackReturnCode);
  }
}
