import { describe, expect, it } from 'vitest';
import { encodePacket } from '../../../src/hub/codec/packet-encoder.js';
import { fitToMaximumPacketSize, packetSize } from '../../../src/hub/codec/packet-size.js';
import type { AckPacket, ConnackPacket, PublishPacket, ServerPacket } from '../../../src/hub/codec/types.js';

describe('packet sizes against a client Maximum Packet Size', () => {
  it('gives the exact encoded size of every packet type', () => {
    const packets: ServerPacket[] = [
      {
        type: 'connack',
        sessionPresent: false,
        reasonCode: 0,
        properties: { assignedClientIdentifier: 'ü', userProperties: [['a', 'b']] },
      },
      {
        type: 'publish',
        topic: 't/ü',
        payload: Buffer.alloc(200),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 1,
        properties: { subscriptionIdentifiers: [1, 300] },
      },
      { type: 'puback', packetId: 1, reasonCode: 0x10, properties: { reasonString: 'r' } },
      { type: 'suback', packetId: 1, reasonCodes: [0, 1] },
      { type: 'unsuback', packetId: 1, reasonCodes: [0, 0x11] },
      { type: 'pingresp' },
      { type: 'disconnect', reasonCode: 0x8b, properties: { reasonString: 'bye' } },
      { type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'X' } },
    ];
    for (const p of packets) {
      for (const version of [4, 5] as const) {
        if (version === 4 && (p.type === 'disconnect' || p.type === 'auth')) continue;
        expect(packetSize(p, version), `${p.type} v${version}`).toBe(encodePacket(p, version).length);
      }
    }
  });

  it('drops the Reason String first, then User Properties [MQTT-3.4.2-2], [MQTT-3.4.2-3]', () => {
    // given
    const ack: AckPacket = {
      type: 'puback',
      packetId: 1,
      reasonCode: 0x97,
      properties: { reasonString: 'x'.repeat(50), userProperties: [['k', 'v']] },
    };
    const withoutReason = { ...ack, properties: { userProperties: [['k', 'v']] } };
    // then
    expect(fitToMaximumPacketSize(ack, 5, undefined)).toBe(ack);
    expect(fitToMaximumPacketSize(ack, 5, packetSize(ack, 5))).toBe(ack);
    expect(fitToMaximumPacketSize(ack, 5, 20)).toEqual(withoutReason);
    expect(fitToMaximumPacketSize(ack, 5, 6)).toEqual({ ...ack, properties: {} });
    expect(fitToMaximumPacketSize(ack, 5, 4)).toBeUndefined();
  });

  it('trims a CONNACK the same way [MQTT-3.2.2-19], [MQTT-3.2.2-20]', () => {
    const connack: ConnackPacket = {
      type: 'connack',
      sessionPresent: false,
      reasonCode: 0,
      properties: { receiveMaximum: 10, reasonString: 'long '.repeat(20), userProperties: [['a', 'b']] },
    };
    const fitted = fitToMaximumPacketSize(connack, 5, 30);
    expect(fitted?.properties).toEqual({ receiveMaximum: 10, userProperties: [['a', 'b']] });
    expect(packetSize(fitted as ConnackPacket, 5)).toBeLessThanOrEqual(30);
  });

  it('never trims a PUBLISH: too large means discard it [MQTT-3.1.2-25]', () => {
    const publish: PublishPacket = {
      type: 'publish',
      topic: 't',
      payload: Buffer.alloc(100),
      qos: 0,
      retain: false,
      dup: false,
      properties: { userProperties: [['a', 'b']] },
    };
    expect(fitToMaximumPacketSize(publish, 5, 200)).toBe(publish);
    expect(fitToMaximumPacketSize(publish, 5, 100)).toBeUndefined();
  });
});
