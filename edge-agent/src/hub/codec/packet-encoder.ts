import { PropertiesEncoder, varintSize, writeVarint } from './properties-encoder.js';
import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  DisconnectPacket,
  ProtocolVersion,
  PublishPacket,
  ServerPacket,
  SubackPacket,
  UnsubackPacket,
} from './types.js';

const MAX_REMAINING = 268_435_455; // largest four-byte Variable Byte Integer (section 1.5.5)
const ACK_HEADERS = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const; // PUBREL: [MQTT-3.6.1-1]
const PINGRESP = Buffer.from([0xd0, 0x00]);

const connackProps = new PropertiesEncoder('connack');
const publishProps = new PropertiesEncoder('publish');
const ackProps = new PropertiesEncoder('ack');
const subackProps = new PropertiesEncoder('suback');
const unsubackProps = new PropertiesEncoder('unsuback');
const disconnectProps = new PropertiesEncoder('disconnect');
const authProps = new PropertiesEncoder('auth');

/**
 * Encoders of what the hub sends (one Buffer each, sized exactly, one allocation). They trust
 * their input: topics and properties come from packets the decoders checked, or from the server.
 * Sizes: packetSize() in packet-size.ts; call fitToMaximumPacketSize first where the client set a
 * Maximum Packet Size [MQTT-3.1.2-24].
 */
export function encodePacket(packet: ServerPacket, version: ProtocolVersion): Buffer {
  switch (packet.type) {
    case 'connack':
      return encodeConnack(packet, version);
    case 'publish':
      return encodePublish(packet, version);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return encodeAck(packet, version);
    case 'suback':
      return encodeSuback(packet, version);
    case 'unsuback':
      return encodeUnsuback(packet, version);
    case 'pingresp':
      return encodePingresp();
    case 'disconnect':
      return encodeDisconnect(packet, version);
    case 'auth':
      return encodeAuth(packet, version);
  }
}

/** Remaining Length of `packet` (everything after the fixed header), as the encoders write it. */
export function remainingLength(packet: ServerPacket, version: ProtocolVersion): number {
  const v5 = version === 5;
  switch (packet.type) {
    case 'connack':
      return v5 ? 2 + block(connackProps.length(packet.properties)) : 2;
    case 'publish':
      return publishVariable(packet, v5, Buffer.byteLength(packet.topic)) + packet.payload.length;
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return reasonTail(v5, packet.reasonCode, ackProps.length(packet.properties), 2);
    case 'suback':
      return 2 + (v5 ? block(subackProps.length(packet.properties)) : 0) + packet.reasonCodes.length;
    case 'unsuback':
      return v5 ? 2 + block(unsubackProps.length(packet.properties)) + packet.reasonCodes.length : 2;
    case 'pingresp':
      return 0;
    case 'disconnect':
      return reasonTail(v5, packet.reasonCode, disconnectProps.length(packet.properties), 0);
    case 'auth':
      return reasonTail(v5, packet.reasonCode, authProps.length(packet.properties), 0);
  }
}

/** CONNACK (section 3.2): 3.1/3.1.1 return code, or 5.0 reason code and properties. */
export function encodeConnack(packet: ConnackPacket, version: ProtocolVersion): Buffer {
  const v5 = version === 5;
  const propsLength = v5 ? connackProps.length(packet.properties) : 0;
  const remaining = v5 ? 2 + block(propsLength) : 2;
  const { buf, at } = start(0x20, remaining);
  // Session Present only with success [MQTT-3.2.2-4] (5.0: [MQTT-3.2.2-6]); 3.1 has a reserved byte here
  buf[at] = packet.sessionPresent && packet.reasonCode === 0 && version !== 3 ? 1 : 0;
  buf[at + 1] = packet.reasonCode;
  if (v5) connackProps.write(buf, at + 2, packet.properties, propsLength);
  return buf;
}

/** PUBLISH (section 3.3) in one buffer, the payload copied once. */
export function encodePublish(packet: PublishPacket, version: ProtocolVersion): Buffer {
  const payload = packet.payload;
  const { buf, at } = publishHeader(packet, version, payload.length);
  payload.copy(buf, at);
  return buf;
}

/**
 * PUBLISH up to and without its payload (the Remaining Length counts it): for a writev of
 * [header, payload], so a large payload is never copied by the codec.
 */
export function encodePublishHeader(packet: PublishPacket, version: ProtocolVersion): Buffer {
  return publishHeader(packet, version, 0).buf;
}

function publishHeader(packet: PublishPacket, version: ProtocolVersion, room: number): { buf: Buffer; at: number } {
  const v5 = version === 5;
  const topic = packet.topic;
  const topicLength = Buffer.byteLength(topic);
  if (topicLength > 65_535) throw new RangeError('Topic Name longer than 65535 bytes');
  const qos = packet.qos;
  if (qos > 0 && !packet.packetId) throw new RangeError('PUBLISH at QoS > 0 needs a non-zero Packet Identifier');
  const propsLength = v5 && packet.properties !== undefined ? publishProps.length(packet.properties) : 0;
  const variable = 2 + topicLength + (qos > 0 ? 2 : 0) + (v5 ? varintSize(propsLength) + propsLength : 0);
  const remaining = variable + packet.payload.length;
  if (remaining > MAX_REMAINING) throw new RangeError('PUBLISH larger than the MQTT maximum of 256 MiB');
  const headerSize = 1 + varintSize(remaining) + variable;
  const buf = Buffer.allocUnsafe(headerSize + room);
  buf[0] = 0x30 | (packet.dup ? 0x08 : 0) | (qos << 1) | (packet.retain ? 0x01 : 0);
  let at = writeVarint(buf, 1, remaining);
  buf[at++] = topicLength >> 8;
  buf[at++] = topicLength & 0xff;
  // byteLength === length only for pure ASCII, which latin1 writes faster
  at += buf.write(topic, at, topicLength === topic.length ? 'latin1' : 'utf8');
  if (qos > 0) {
    const id = packet.packetId as number;
    buf[at++] = id >> 8;
    buf[at++] = id & 0xff;
  }
  if (v5) at = publishProps.write(buf, at, packet.properties, propsLength);
  return { buf, at };
}

function publishVariable(packet: PublishPacket, v5: boolean, topicLength: number): number {
  const propsLength = v5 ? publishProps.length(packet.properties) : 0;
  return 2 + topicLength + (packet.qos > 0 ? 2 : 0) + (v5 ? block(propsLength) : 0);
}

/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP (sections 3.4-3.7). 5.0: the reason code is left off when it is
 * 0x00 and there are no properties, the Property Length when there are none (section 3.4.2.1).
 */
export function encodeAck(packet: AckPacket, version: ProtocolVersion): Buffer {
  const v5 = version === 5;
  const propsLength = v5 ? ackProps.length(packet.properties) : 0;
  const remaining = reasonTail(v5, packet.reasonCode, propsLength, 2);
  const { buf, at } = start(ACK_HEADERS[packet.type], remaining);
  buf[at] = packet.packetId >> 8;
  buf[at + 1] = packet.packetId & 0xff;
  if (remaining > 2) buf[at + 2] = packet.reasonCode;
  if (remaining > 3) ackProps.write(buf, at + 3, packet.properties, propsLength);
  return buf;
}

/** SUBACK (section 3.9): one code per filter, in order [MQTT-3.8.4-6]. */
export function encodeSuback(packet: SubackPacket, version: ProtocolVersion): Buffer {
  return idAndCodes(0x90, packet, version === 5, subackProps, true);
}

/** UNSUBACK (section 3.11): 5.0 has a code per filter [MQTT-3.11.3-1]; 3.1.1 only the Packet Identifier. */
export function encodeUnsuback(packet: UnsubackPacket, version: ProtocolVersion): Buffer {
  return idAndCodes(0xb0, packet, version === 5, unsubackProps, version === 5);
}

/** PINGRESP (section 3.13): a shared constant; do not modify it. */
export function encodePingresp(): Buffer {
  return PINGRESP;
}

/** DISCONNECT (5.0 section 3.14.2); a 3.1.1 server has none to send (it closes the connection). */
export function encodeDisconnect(packet: DisconnectPacket, version: ProtocolVersion): Buffer {
  if (version !== 5) throw new RangeError('a server sends DISCONNECT only on MQTT 5');
  return reasonOnly(0xe0, packet.reasonCode, packet.properties, disconnectProps);
}

/** AUTH (5.0 section 3.15). */
export function encodeAuth(packet: AuthPacket, version: ProtocolVersion): Buffer {
  if (version !== 5) throw new RangeError('AUTH exists only in MQTT 5');
  return reasonOnly(0xf0, packet.reasonCode, packet.properties, authProps);
}

function idAndCodes(
  header: number,
  packet: SubackPacket | UnsubackPacket,
  v5: boolean,
  props: PropertiesEncoder,
  withCodes: boolean,
): Buffer {
  const propsLength = v5 ? props.length(packet.properties) : 0;
  const codes = withCodes ? packet.reasonCodes : [];
  const { buf, at } = start(header, 2 + (v5 ? block(propsLength) : 0) + codes.length);
  buf[at] = packet.packetId >> 8;
  buf[at + 1] = packet.packetId & 0xff;
  let pos = v5 ? props.write(buf, at + 2, packet.properties, propsLength) : at + 2;
  for (const code of codes) buf[pos++] = code;
  return buf;
}

/** DISCONNECT and AUTH: Remaining Length 0 for success without properties, 1 for a bare reason code. */
function reasonOnly(
  header: number,
  reasonCode: number,
  properties: object | undefined,
  props: PropertiesEncoder,
): Buffer {
  const propsLength = props.length(properties);
  const remaining = reasonTail(true, reasonCode, propsLength, 0);
  const { buf, at } = start(header, remaining);
  if (remaining > 0) buf[at] = reasonCode;
  if (remaining > 1) props.write(buf, at + 1, properties, propsLength);
  return buf;
}

/** Bytes after a fixed part of `base` bytes: reason code and properties only as far as needed. */
function reasonTail(v5: boolean, reasonCode: number, propsLength: number, base: number): number {
  if (!v5 || (reasonCode === 0 && propsLength === 0)) return base;
  return propsLength === 0 ? base + 1 : base + 1 + block(propsLength);
}

/** A properties block: its Property Length, then the properties. */
function block(propsLength: number): number {
  return varintSize(propsLength) + propsLength;
}

/** Allocates the packet and writes its fixed header; `at` is where the variable header goes. */
function start(header: number, remaining: number): { buf: Buffer; at: number } {
  if (remaining > MAX_REMAINING) throw new RangeError('packet larger than the MQTT maximum of 256 MiB');
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  buf[0] = header;
  return { buf, at: writeVarint(buf, 1, remaining) };
}
