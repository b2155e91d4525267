import { remainingLength } from './packet-encoder.js';
import { varintSize } from './properties-encoder.js';
import type { ProtocolVersion, ServerPacket } from './types.js';

/** Bytes `packet` takes on the wire, fixed header included (what Maximum Packet Size counts, 3.1.2.11.4). */
export function packetSize(packet: ServerPacket, version: ProtocolVersion): number {
  const remaining = remainingLength(packet, version);
  return 1 + varintSize(remaining) + remaining;
}

/**
 * `packet` as it may be sent to a client whose CONNECT set Maximum Packet Size `maximum`
 * (undefined: no limit) [MQTT-3.1.2-24]. Over the limit, the Reason String goes first, then the
 * User Properties: each packet's section forbids sending them if they would make the packet too
 * large (CONNACK [MQTT-3.2.2-19], [MQTT-3.2.2-20]; PUBACK [MQTT-3.4.2-2], [MQTT-3.4.2-3]; PUBREC,
 * PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and AUTH alike). A PUBLISH is never trimmed (its
 * properties belong to the message, forwarded unaltered): undefined means discard it and behave
 * as if it had been sent [MQTT-3.1.2-25]; for other packets, that nothing fits.
 */
export function fitToMaximumPacketSize<T extends ServerPacket>(
  packet: T,
  version: ProtocolVersion,
  maximum: number | undefined,
): T | undefined {
  if (maximum === undefined || packetSize(packet, version) <= maximum) return packet;
  if (packet.type === 'publish' || packet.type === 'pingresp' || version !== 5) return undefined;
  const properties = (packet as unknown as { properties?: Record<string, unknown> }).properties;
  if (properties === undefined) return undefined;
  const { reasonString: _reason, ...withoutReason } = properties;
  const trimmed = { ...packet, properties: withoutReason } as T;
  if (packetSize(trimmed, version) <= maximum) return trimmed;
  const { userProperties: _user, ...bare } = withoutReason;
  const bareTrimmed = { ...packet, properties: bare } as T;
  return packetSize(bareTrimmed, version) <= maximum ? bareTrimmed : undefined;
}
