import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import {
  encodeAck,
  encodeAuth,
  encodeConnack,
  encodeDisconnect,
  encodePacket,
  encodePingresp,
  encodePublish,
  encodePublishHeader,
  encodeSuback,
  encodeUnsuback,
} from '../../../src/hub/codec/packet-encoder.js';
import { packetSize } from '../../../src/hub/codec/packet-size.js';
import type { ProtocolVersion, PublishPacket, ServerPacket } from '../../../src/hub/codec/types.js';
import { generate, parseWithMqttPacket } from './codec-fixtures.js';

/** Our encoding parsed by mqtt-packet as a client: exactly one packet, fields picked for comparison. */
function parsed(bytes: Buffer, version: ProtocolVersion): Record<string, unknown> {
  const packets = parseWithMqttPacket(bytes, version);
  expect(packets).toHaveLength(1);
  const { retain, qos, dup, length, topic, payload, ...rest } = packets[0] as unknown as Record<string, unknown>;
  expect(length).toBe(bytes.length - ((length as number) < 128 ? 2 : (length as number) < 16_384 ? 3 : 4));
  if (rest.cmd === 'publish') return { ...rest, retain, qos, dup, topic, payload: Buffer.from(payload as Buffer) };
  return rest;
}

/** Buffer.equals, not toEqual: element-wise comparison of megabytes takes vitest seconds. */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  if (actual.equals(expected)) return;
  expect(actual.subarray(0, 64).toString('hex')).toBe(expected.subarray(0, 64).toString('hex'));
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

describe('encoding for mqtt-packet to parse', () => {
  it('encodes CONNACK on 3.1.1 and on 3.1 (no Session Present there)', () => {
    expect(parsed(encodeConnack({ type: 'connack', sessionPresent: true, reasonCode: 0 }, 4), 4)).toEqual({
      cmd: 'connack',
      sessionPresent: true,
      returnCode: 0,
    });
    // Session Present only with success [MQTT-3.2.2-4]
    expect(encodeConnack({ type: 'connack', sessionPresent: true, reasonCode: 5 }, 4)).toEqual(
      Buffer.from([0x20, 2, 0, 5]),
    );
    expect(encodeConnack({ type: 'connack', sessionPresent: true, reasonCode: 0 }, 3)).toEqual(
      Buffer.from([0x20, 2, 0, 0]),
    );
  });

  it('encodes a 5.0 CONNACK with every property', () => {
    const bytes = encodeConnack(
      {
        type: 'connack',
        sessionPresent: true,
        reasonCode: 0,
        properties: {
          sessionExpiryInterval: 120,
          receiveMaximum: 100,
          maximumQoS: 1,
          retainAvailable: false,
          maximumPacketSize: 65_536,
          assignedClientIdentifier: 'auto-1',
          topicAliasMaximum: 16,
          reasonString: 'welcome',
          userProperties: [
            ['a', '1'],
            ['a', '2'],
          ],
          wildcardSubscriptionAvailable: true,
          subscriptionIdentifiersAvailable: true,
          sharedSubscriptionAvailable: false,
          serverKeepAlive: 30,
          responseInformation: 'resp/',
          serverReference: 'other:1883',
          authenticationMethod: 'SCRAM',
          authenticationData: Buffer.from([1, 2, 3]),
        },
      },
      5,
    );
    expect(parsed(bytes, 5)).toEqual({
      cmd: 'connack',
      sessionPresent: true,
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 120,
        receiveMaximum: 100,
        maximumQoS: 1,
        retainAvailable: false,
        maximumPacketSize: 65_536,
        assignedClientIdentifier: 'auto-1',
        topicAliasMaximum: 16,
        reasonString: 'welcome',
        userProperties: { a: ['1', '2'] },
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: true,
        sharedSubscriptionAvailable: false,
        serverKeepAlive: 30,
        responseInformation: 'resp/',
        serverReference: 'other:1883',
        authenticationMethod: 'SCRAM',
        authenticationData: Buffer.from([1, 2, 3]),
      },
    });
  });

  for (const version of [3, 4, 5] as const) {
    it(`encodes PUBLISH byte for byte as mqtt-packet does on version ${version}`, () => {
      const cases: PublishPacket[] = [
        { type: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 0, retain: true, dup: false },
        {
          type: 'publish',
          topic: 'ü/ß',
          payload: Buffer.alloc(200, 7),
          qos: 1,
          retain: false,
          dup: true,
          packetId: 513,
        },
        {
          type: 'publish',
          topic: 't',
          payload: Buffer.alloc(70_000, 1),
          qos: 2,
          retain: false,
          dup: false,
          packetId: 65535,
        },
      ];
      for (const p of cases) {
        const reference = generate(
          {
            cmd: 'publish',
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            dup: p.dup,
            messageId: p.packetId ?? 0,
          },
          version,
        );
        expectSameBytes(encodePublish(p, version), reference);
        expectSameBytes(Buffer.concat([encodePublishHeader(p, version), p.payload]), reference);
        expect(packetSize(p, version)).toBe(reference.length);
      }
    });

    it(`encodes acks, SUBACK, UNSUBACK and PINGRESP on version ${version}`, () => {
      const packets: ServerPacket[] = [
        { type: 'puback', packetId: 1, reasonCode: 0 },
        { type: 'pubrec', packetId: 2, reasonCode: 0 },
        { type: 'pubrel', packetId: 3, reasonCode: 0 },
        { type: 'pubcomp', packetId: 4, reasonCode: 0 },
        { type: 'suback', packetId: 5, reasonCodes: [0, 1, 2, 0x80] },
        { type: 'unsuback', packetId: 6, reasonCodes: [0, 0] },
        { type: 'pingresp' },
      ];
      const bytes = Buffer.concat(packets.map((p) => encodePacket(p, version)));
      const seen = parseWithMqttPacket(bytes, version).map((p) => {
        const { cmd, messageId, granted } = p as unknown as Record<string, unknown>;
        return { cmd, messageId, granted };
      });
      expect(seen).toEqual([
        { cmd: 'puback', messageId: 1 },
        { cmd: 'pubrec', messageId: 2 },
        { cmd: 'pubrel', messageId: 3 },
        { cmd: 'pubcomp', messageId: 4 },
        { cmd: 'suback', messageId: 5, granted: [0, 1, 2, 0x80] },
        { cmd: 'unsuback', messageId: 6, granted: version === 5 ? [0, 0] : undefined },
        { cmd: 'pingresp' },
      ]);
      // success acks are the four-byte form on every version (5.0 section 3.4.2.1)
      expect(encodeAck({ type: 'pubrel', packetId: 3, reasonCode: 0 }, version)).toEqual(Buffer.from([0x62, 2, 0, 3]));
      expect(encodePingresp()).toEqual(Buffer.from([0xd0, 0]));
    });
  }

  it('encodes a 5.0 PUBLISH with every property, several Subscription Identifiers included', () => {
    const bytes = encodePublish(
      {
        type: 'publish',
        topic: 'req/1',
        payload: Buffer.from('{}'),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 9,
        properties: {
          payloadFormatIndicator: true,
          messageExpiryInterval: 30,
          topicAlias: 3,
          responseTopic: 'resp/1',
          correlationData: Buffer.from('c0'),
          userProperties: [
            ['k', 'v1'],
            ['z', 'last'],
          ],
          subscriptionIdentifiers: [1, 200, 268_435_455],
          contentType: 'application/json',
        },
      },
      5,
    );
    expect(parsed(bytes, 5)).toEqual({
      cmd: 'publish',
      topic: 'req/1',
      payload: Buffer.from('{}'),
      qos: 1,
      retain: false,
      dup: false,
      messageId: 9,
      properties: {
        payloadFormatIndicator: true,
        messageExpiryInterval: 30,
        topicAlias: 3,
        responseTopic: 'resp/1',
        correlationData: Buffer.from('c0'),
        userProperties: { k: 'v1', z: 'last' },
        subscriptionIdentifier: [1, 200, 268_435_455],
        contentType: 'application/json',
      },
    });
  });

  it('encodes 5.0 acks: reason code left off at 0x00, Property Length left off without properties', () => {
    expect(encodeAck({ type: 'puback', packetId: 7, reasonCode: 0 }, 5)).toEqual(Buffer.from([0x40, 2, 0, 7]));
    expect(encodeAck({ type: 'puback', packetId: 7, reasonCode: 0x10 }, 5)).toEqual(Buffer.from([0x40, 3, 0, 7, 0x10]));
    const bytes = encodeAck(
      {
        type: 'pubrec',
        packetId: 8,
        reasonCode: 0x97,
        properties: { reasonString: 'quota', userProperties: [['q', '1']] },
      },
      5,
    );
    expect(parsed(bytes, 5)).toEqual({
      cmd: 'pubrec',
      messageId: 8,
      reasonCode: 0x97,
      properties: { reasonString: 'quota', userProperties: { q: '1' } },
    });
    // a success with properties keeps its reason code
    const withProps = encodeAck({ type: 'pubcomp', packetId: 9, reasonCode: 0, properties: { reasonString: 'ok' } }, 5);
    expect(parsed(withProps, 5)).toMatchObject({ cmd: 'pubcomp', reasonCode: 0, properties: { reasonString: 'ok' } });
  });

  it('encodes 5.0 SUBACK and UNSUBACK with properties', () => {
    const props = { reasonString: 'r', userProperties: [['a', 'b']] as Array<[string, string]> };
    expect(
      parsed(encodeSuback({ type: 'suback', packetId: 3, reasonCodes: [1, 0x8f, 0xa2], properties: props }, 5), 5),
    ).toEqual({
      cmd: 'suback',
      messageId: 3,
      granted: [1, 0x8f, 0xa2],
      properties: { reasonString: 'r', userProperties: { a: 'b' } },
    });
    expect(
      parsed(encodeUnsuback({ type: 'unsuback', packetId: 4, reasonCodes: [0x11, 0], properties: props }, 5), 5),
    ).toEqual({
      cmd: 'unsuback',
      messageId: 4,
      granted: [0x11, 0],
      properties: { reasonString: 'r', userProperties: { a: 'b' } },
    });
  });

  it('encodes 5.0 DISCONNECT and AUTH in their short and full forms', () => {
    expect(encodeDisconnect({ type: 'disconnect', reasonCode: 0 }, 5)).toEqual(Buffer.from([0xe0, 0]));
    expect(encodeDisconnect({ type: 'disconnect', reasonCode: 0x8b }, 5)).toEqual(Buffer.from([0xe0, 1, 0x8b]));
    const full = encodeDisconnect(
      {
        type: 'disconnect',
        reasonCode: 0x9c,
        properties: {
          sessionExpiryInterval: 5,
          reasonString: 'move',
          userProperties: [['x', 'y']],
          serverReference: 'b:1883',
        },
      },
      5,
    );
    expect(parsed(full, 5)).toEqual({
      cmd: 'disconnect',
      reasonCode: 0x9c,
      properties: {
        sessionExpiryInterval: 5,
        reasonString: 'move',
        userProperties: { x: 'y' },
        serverReference: 'b:1883',
      },
    });
    const auth = encodeAuth(
      {
        type: 'auth',
        reasonCode: 0x18,
        properties: { authenticationMethod: 'SCRAM', authenticationData: Buffer.from([5]) },
      },
      5,
    );
    expect(parsed(auth, 5)).toEqual({
      cmd: 'auth',
      reasonCode: 0x18,
      properties: { authenticationMethod: 'SCRAM', authenticationData: Buffer.from([5]) },
    });
    expect(() => encodeDisconnect({ type: 'disconnect', reasonCode: 0 }, 4)).toThrow(/only on MQTT 5/);
  });

  it('agrees with mqtt-packet on sizes with multi-byte Remaining Lengths', () => {
    for (const size of [0, 120, 16_380, 2_097_140, 2_097_160]) {
      const p: PublishPacket = {
        type: 'publish',
        topic: 'x',
        payload: Buffer.alloc(size),
        qos: 0,
        retain: false,
        dup: false,
      };
      const ref = mqttPacket.generate(
        { cmd: 'publish', topic: 'x', payload: p.payload, qos: 0, retain: false, dup: false },
        { protocolVersion: 5 },
      );
      expectSameBytes(encodePublish(p, 5), ref);
      expect(packetSize(p, 5)).toBe(ref.length);
    }
  });
});
