import {
  encodeAck,
  encodeConnack,
  encodeDisconnect,
  encodePingresp,
  encodePublish,
  encodeSuback,
  encodeUnsuback,
} from '../codec/packet-encoder.js';
import type { ConnackProperties, ProtocolVersion, PublishProperties, QoS } from '../codec/types.js';

const ACK_TYPES = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp' } as const;

/** The packets the hub sends, for one protocol version: the codec's encoders with the hub's shapes. */
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
    return encodePublish(
      {
        type: 'publish',
        topic,
        payload,
        qos,
        retain,
        dup,
        packetId: qos > 0 ? packetId : undefined,
        properties: this.version === 5 ? properties : undefined,
      },
      this.version,
    );
  }

  /** PUBACK (4), PUBREC (5), PUBREL (6), PUBCOMP (7); 5.0 omits a 0x00 reason (section 3.4.2.1). */
  ack(type: 4 | 5 | 6 | 7, packetId: number, reasonCode: number): Buffer {
    return encodeAck({ type: ACK_TYPES[type], packetId, reasonCode }, this.version);
  }

  pingresp(): Buffer {
    return encodePingresp();
  }

  connack(sessionPresent: boolean, code: number, properties?: ConnackProperties): Buffer {
    // [MQTT-3.2.2-4]: session present is 0 with a non-zero return code
    return encodeConnack(
      { type: 'connack', sessionPresent: sessionPresent && code === 0, reasonCode: code, properties },
      this.version,
    );
  }

  suback(packetId: number, codes: number[]): Buffer {
    return encodeSuback({ type: 'suback', packetId, reasonCodes: codes }, this.version);
  }

  unsuback(packetId: number, codes: number[]): Buffer {
    return encodeUnsuback({ type: 'unsuback', packetId, reasonCodes: codes }, this.version);
  }

  /** 5.0 only: a server DISCONNECT with its reason [MQTT-3.14.2-1]. */
  disconnect(reasonCode: number, reasonString?: string): Buffer {
    return encodeDisconnect(
      {
        type: 'disconnect',
        reasonCode,
        ...(reasonString ? { properties: { reasonString: reasonString.slice(0, 200) } } : {}),
      },
      this.version,
    );
  }
}
