import type { ByteReader } from './byte-reader.js';
import { DecodeError, malformed, protocolError } from './decode-error.js';
import { readProperties } from './properties-decoder.js';
import { ConnackReturnCode, ReasonCode } from './reason-codes.js';
import type { ConnectPacket, ConnectProperties, ProtocolVersion, QoS, WillProperties } from './types.js';

const CLEAN = 0x02;
const WILL = 0x04;
const WILL_RETAIN = 0x20;
const PASSWORD = 0x40;
const USERNAME = 0x80;

/**
 * CONNECT (section 3.1), the body after the fixed header. The Protocol Name and Level decide the
 * version for the rest of the connection. A refusal carries the version once it is known, so the
 * server can answer with the CONNACK of that version before closing [MQTT-3.1.4-1]; a bad level
 * carries the 3.1.1 return code 0x01 [MQTT-3.1.2-2] and a refused client id 0x02 [MQTT-3.1.3-8].
 */
export function decodeConnect(r: ByteReader): ConnectPacket {
  const nameLength = r.u16('Protocol Name');
  if (r.remaining < nameLength) throw malformed('packet ends inside Protocol Name');
  const name = r.buf.toString('latin1', r.pos, r.pos + nameLength);
  r.pos += nameLength;
  if (name !== 'MQTT' && name !== 'MQIsdp') {
    // the server MAY close without a CONNACK [MQTT-3.1.2-1]
    throw malformed(`Protocol Name ${JSON.stringify(name)} is neither MQTT nor MQIsdp [MQTT-3.1.2-1]`);
  }
  const level = r.u8('Protocol Level');
  const version = versionOf(name, level);
  if (version === undefined) {
    throw new DecodeError(
      `Protocol Level ${level} with Protocol Name ${name} is not supported [MQTT-3.1.2-2]`,
      ReasonCode.UnsupportedProtocolVersion,
      ConnackReturnCode.UnacceptableProtocolVersion,
    );
  }
  try {
    return decodeRest(r, name as ConnectPacket['protocolName'], version);
  } catch (error) {
    if (!(error instanceof DecodeError) || error.protocolVersion !== undefined) throw error;
    throw new DecodeError(error.message, error.reasonCode, error.connackReturnCode, version);
  }
}

function versionOf(name: string, level: number): ProtocolVersion | undefined {
  if (name === 'MQIsdp') return level === 3 ? 3 : undefined;
  return level === 4 || level === 5 ? level : undefined;
}

function decodeRest(
  r: ByteReader,
  protocolName: ConnectPacket['protocolName'],
  version: ProtocolVersion,
): ConnectPacket {
  const v5 = version === 5;
  const flags = r.u8('Connect Flags');
  // Clause ids: 3.1.1's, then 5.0's where they differ
  if ((flags & 0x01) !== 0) throw malformed('Connect Flags reserved bit is 1 [MQTT-3.1.2-3]');
  const willQoS = (flags >> 3) & 0x03;
  if ((flags & WILL) === 0) {
    if (willQoS !== 0) throw malformed('Will QoS is not 0 without a Will [MQTT-3.1.2-13] (5.0: [MQTT-3.1.2-11])');
    if ((flags & WILL_RETAIN) !== 0) {
      throw malformed('Will Retain is 1 without a Will [MQTT-3.1.2-15] (5.0: [MQTT-3.1.2-13])');
    }
  } else if (willQoS === 3) {
    throw malformed('Will QoS is 3 [MQTT-3.1.2-14] (5.0: [MQTT-3.1.2-12])');
  }
  if (!v5 && (flags & PASSWORD) !== 0 && (flags & USERNAME) === 0) {
    throw malformed('Password Flag without User Name Flag [MQTT-3.1.2-22]'); // 5.0 allows it (3.1.2.9)
  }
  const cleanStart = (flags & CLEAN) !== 0;
  const keepAlive = r.u16('Keep Alive');
  let properties: ConnectProperties | undefined;
  if (v5) {
    properties = readProperties(r, 'connect', 'CONNECT') as ConnectProperties | undefined;
    if (properties?.authenticationData !== undefined && properties.authenticationMethod === undefined) {
      throw protocolError('CONNECT has Authentication Data without Authentication Method (3.1.2.11.10)');
    }
  }
  const clientId = r.utf8('Client Identifier');
  if (clientId.length === 0 && (version === 3 || (version === 4 && !cleanStart))) {
    throw new DecodeError(
      version === 3
        ? 'empty Client Identifier on MQTT 3.1 (1 to 23 characters)'
        : 'empty Client Identifier with Clean Session 0 [MQTT-3.1.3-8]',
      ReasonCode.ClientIdentifierNotValid,
      ConnackReturnCode.IdentifierRejected,
    );
  }
  const packet: ConnectPacket = {
    type: 'connect',
    protocolName,
    protocolVersion: version,
    cleanStart,
    keepAlive,
    clientId,
  };
  if (properties !== undefined) packet.properties = properties;
  if ((flags & WILL) !== 0) {
    const willProperties = v5 ? (readProperties(r, 'will', 'Will') as WillProperties | undefined) : undefined;
    if (willProperties?.responseTopic !== undefined) checkResponseTopic(willProperties.responseTopic);
    const topic = r.utf8('Will Topic', true);
    if (topic.length === 0) throw new DecodeError('empty Will Topic [MQTT-4.7.3-1]', ReasonCode.TopicNameInvalid);
    const payload = r.binary('Will Payload');
    packet.will = { topic, payload, qos: willQoS as QoS, retain: (flags & WILL_RETAIN) !== 0 };
    if (willProperties !== undefined) packet.will.properties = willProperties;
  }
  if ((flags & USERNAME) !== 0) packet.username = r.utf8('User Name');
  if ((flags & PASSWORD) !== 0) packet.password = r.binary('Password');
  r.expectEnd('CONNECT');
  return packet;
}

/** A Response Topic is a Topic Name: no wildcards [MQTT-3.3.2-14] (its UTF-8 was checked on read). */
export function checkResponseTopic(topic: string): void {
  if (topic.length === 0 || topic.includes('+') || topic.includes('#')) {
    throw protocolError(`Response Topic ${JSON.stringify(topic)} is not a valid Topic Name [MQTT-3.3.2-14]`);
  }
}
