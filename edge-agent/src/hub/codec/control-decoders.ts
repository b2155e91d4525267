import type { ByteReader } from './byte-reader.js';
import { malformed, protocolError } from './decode-error.js';
import { readProperties } from './properties-decoder.js';
import { AUTH_REASONS, DISCONNECT_REASONS, PUBLISH_ACK_REASONS, RELEASE_REASONS } from './reason-codes.js';
import type {
  AckPacket,
  AckType,
  AuthPacket,
  AuthProperties,
  DisconnectPacket,
  DisconnectProperties,
  ProtocolVersion,
  ReasonProperties,
} from './types.js';

/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP (sections 3.4-3.7). 3.1.1: exactly a Packet Identifier. 5.0:
 * the reason code and the properties may be left off, Remaining Length 2 meaning 0x00 Success
 * and under 4 meaning no properties (section 3.4.2.1).
 */
export function decodeAck(r: ByteReader, type: AckType, version: ProtocolVersion): AckPacket {
  const name = type.toUpperCase();
  const packetId = r.u16('Packet Identifier');
  // Packet Identifiers are non-zero (2.2.1): an ack of 0 answers nothing this server sent
  if (packetId === 0) throw protocolError(`${name} with Packet Identifier 0 (section 2.2.1)`);
  let reasonCode = 0;
  let properties: ReasonProperties | undefined;
  if (version === 5 && r.remaining > 0) {
    reasonCode = r.u8('Reason Code');
    const allowed = type === 'puback' || type === 'pubrec' ? PUBLISH_ACK_REASONS : RELEASE_REASONS;
    if (!allowed.has(reasonCode)) throw protocolError(`${name} with reason code 0x${reasonCode.toString(16)}`);
    if (r.remaining > 0) properties = readProperties(r, 'ack', name) as ReasonProperties | undefined;
  }
  r.expectEnd(name);
  return { type, packetId, reasonCode, properties };
}

/** DISCONNECT (section 3.14): 3.1.1 has no body; 5.0's reason code and properties may be left off. */
export function decodeDisconnect(r: ByteReader, version: ProtocolVersion): DisconnectPacket {
  let reasonCode = 0;
  let properties: DisconnectProperties | undefined;
  if (version === 5 && r.remaining > 0) {
    reasonCode = r.u8('Reason Code');
    if (!DISCONNECT_REASONS.has(reasonCode)) {
      throw protocolError(`DISCONNECT with reason code 0x${reasonCode.toString(16)} [MQTT-3.14.2-1]`);
    }
    if (r.remaining > 0) properties = readProperties(r, 'disconnect', 'DISCONNECT') as DisconnectProperties | undefined;
  }
  // Session Expiry non-zero after a CONNECT with 0 is a Protocol Error [MQTT-3.14.2-2]: the session checks it
  r.expectEnd('DISCONNECT');
  return { type: 'disconnect', reasonCode, properties };
}

/** AUTH (5.0 section 3.15); Remaining Length 0 means 0x00 Success without properties (3.15.2.1). */
export function decodeAuth(r: ByteReader): AuthPacket {
  let reasonCode = 0;
  let properties: AuthProperties | undefined;
  if (r.remaining > 0) {
    reasonCode = r.u8('Reason Code');
    if (!AUTH_REASONS.has(reasonCode)) {
      throw protocolError(`AUTH with reason code 0x${reasonCode.toString(16)} [MQTT-3.15.2-1]`);
    }
    if (r.remaining > 0) properties = readProperties(r, 'auth', 'AUTH') as AuthProperties | undefined;
  }
  if (properties?.authenticationData !== undefined && properties.authenticationMethod === undefined) {
    throw protocolError('AUTH has Authentication Data without Authentication Method (3.15.2.2.3)');
  }
  r.expectEnd('AUTH');
  return { type: 'auth', reasonCode, properties };
}

/** PINGREQ (section 3.12) has no variable header and no payload. */
export function decodePingreq(r: ByteReader): void {
  if (r.remaining !== 0) throw malformed(`PINGREQ with Remaining Length ${r.remaining}, not 0`);
}
