import mqttPacket from 'mqtt-packet';
import type { ConnackProperties, ProtocolVersion, PublishProperties, QoS, UserProperties } from '../codec/types.js';

const { generate } = mqttPacket;

/** mqtt-packet's user properties: one key, one value or several. */
type PacketUserProperties = Record<string, string | string[]>;

function userProps(list: UserProperties | undefined): PacketUserProperties | undefined {
  if (!list || list.length === 0) return undefined;
  const out: PacketUserProperties = {};
  for (const [k, v] of list) {
    const had = out[k];
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

/** Remaining Length (section 2.2.3) into `buf` at `at`; returns the next offset. */
function putLength(buf: Buffer, at: number, n: number): number {
  let left = n;
  do {
    let byte = left % 128;
    left = Math.floor(left / 128);
    if (left > 0) byte |= 0x80;
    buf[at++] = byte;
  } while (left > 0);
  return at;
}

function lengthBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/**
 * The packets the hub sends, for one protocol version. PUBLISH without properties and the four
 * acks — the per-message packets — are written by hand into one buffer each; the rare ones
 * (CONNACK, SUBACK, UNSUBACK, DISCONNECT, PUBLISH with 5.0 properties) by mqtt-packet.
 */
export class Wire {
  constructor(readonly version: ProtocolVersion) {}

  publish(
    topic: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    dup: boolean,
    packetId: number,
    properties: PublishProperties | undefined,
  ): Buffer {
    if (this.version === 5 && properties && Object.keys(properties).length > 0) {
      const { userProperties, subscriptionIdentifiers, ...rest } = properties;
      const up = userProps(userProperties);
      return generate(
        {
          cmd: 'publish',
          topic,
          payload,
          qos,
          retain,
          dup,
          ...(qos > 0 ? { messageId: packetId } : {}),
          properties: {
            ...rest,
            ...(up ? { userProperties: up } : {}),
            ...(subscriptionIdentifiers ? { subscriptionIdentifier: subscriptionIdentifiers } : {}),
          },
        },
        { protocolVersion: 5 },
      );
    }
    const topicBytes = Buffer.byteLength(topic);
    // 5.0 always has a property length, here 0 (section 3.3.2.3)
    const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + (this.version === 5 ? 1 : 0) + payload.length;
    const buf = Buffer.allocUnsafe(1 + lengthBytes(remaining) + remaining);
    buf[0] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
    let at = putLength(buf, 1, remaining);
    buf.writeUInt16BE(topicBytes, at);
    at += 2;
    at += buf.write(topic, at, 'utf8');
    if (qos > 0) {
      buf.writeUInt16BE(packetId, at);
      at += 2;
    }
    if (this.version === 5) buf[at++] = 0;
    payload.copy(buf, at);
    return buf;
  }

  /** PUBACK (4), PUBREC (5), PUBREL (6), PUBCOMP (7); 5.0 omits a 0x00 reason (section 3.4.2.1). */
  ack(type: 4 | 5 | 6 | 7, packetId: number, reasonCode: number): Buffer {
    const withReason = this.version === 5 && reasonCode !== 0;
    const buf = Buffer.allocUnsafe(withReason ? 5 : 4);
    buf[0] = (type << 4) | (type === 6 ? 0x02 : 0);
    buf[1] = withReason ? 3 : 2;
    buf.writeUInt16BE(packetId, 2);
    if (withReason) buf[4] = reasonCode;
    return buf;
  }

  pingresp(): Buffer {
    return Buffer.from([0xd0, 0]);
  }

  connack(sessionPresent: boolean, code: number, properties?: ConnackProperties): Buffer {
    if (this.version !== 5) {
      // [MQTT-3.2.2-4]: session present is 0 with a non-zero return code; 3.1 has no such flag
      return Buffer.from([0x20, 2, sessionPresent && code === 0 && this.version === 4 ? 1 : 0, code]);
    }
    const { userProperties, ...rest } = properties ?? {};
    const up = userProps(userProperties);
    return generate(
      {
        cmd: 'connack',
        sessionPresent: sessionPresent && code === 0,
        reasonCode: code,
        ...(properties ? { properties: { ...rest, ...(up ? { userProperties: up } : {}) } } : {}),
      },
      { protocolVersion: 5 },
    );
  }

  suback(packetId: number, codes: number[]): Buffer {
    return generate({ cmd: 'suback', messageId: packetId, granted: codes }, { protocolVersion: this.version });
  }

  unsuback(packetId: number, codes: number[]): Buffer {
    if (this.version !== 5) return Buffer.from([0xb0, 2, packetId >> 8, packetId & 0xff]);
    return generate({ cmd: 'unsuback', messageId: packetId, granted: codes }, { protocolVersion: 5 });
  }

  /** 5.0 only: a server DISCONNECT with its reason [MQTT-3.14.2-1]. */
  disconnect(reasonCode: number, reasonString?: string): Buffer {
    return generate(
      {
        cmd: 'disconnect',
        reasonCode,
        ...(reasonString ? { properties: { reasonString: reasonString.slice(0, 200) } } : {}),
      },
      { protocolVersion: 5 },
    );
  }
}
