import type { Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { ClientPacket, ProtocolVersion } from '../../../src/hub/codec/types.js';
import { afterConnect, feed, generate } from './codec-fixtures.js';

/** mqtt-packet encodes as a client would; our FrameReader must decode exactly what it meant. */
function decodeAfterConnect(version: ProtocolVersion, packet: Packet): ClientPacket {
  const fed = afterConnect(version, generate(packet, version));
  expect(fed.failure).toBeUndefined();
  expect(fed.packets).toHaveLength(1);
  return fed.packets[0] as ClientPacket;
}

describe('decoding what mqtt-packet encodes', () => {
  it('decodes a 3.1 CONNECT (MQIsdp, level 3)', () => {
    // given
    const bytes = generate(
      { cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'old', clean: true, keepalive: 10 },
      3,
    );
    // when
    const fed = feed([bytes]);
    // then
    expect(fed.packets).toEqual([
      { type: 'connect', protocolName: 'MQIsdp', protocolVersion: 3, cleanStart: true, keepAlive: 10, clientId: 'old' },
    ]);
    expect(fed.reader.protocolVersion).toBe(3);
  });

  it('decodes a 3.1.1 CONNECT with will, user name and password', () => {
    const bytes = generate(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: 'dev-ü',
        clean: false,
        keepalive: 60,
        username: 'user',
        password: Buffer.from('secret'),
        will: { topic: 'status/dev', payload: Buffer.from('gone'), qos: 2, retain: true },
      },
      4,
    );
    const fed = feed([bytes]);
    expect(fed.packets).toEqual([
      {
        type: 'connect',
        protocolName: 'MQTT',
        protocolVersion: 4,
        cleanStart: false,
        keepAlive: 60,
        clientId: 'dev-ü',
        username: 'user',
        password: Buffer.from('secret'),
        will: { topic: 'status/dev', payload: Buffer.from('gone'), qos: 2, retain: true },
      },
    ]);
  });

  it('decodes a 5.0 CONNECT with every property and every will property', () => {
    const bytes = generate(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clientId: 'dev-1',
        clean: false,
        keepalive: 45,
        username: 'u',
        password: Buffer.from('p'),
        will: {
          topic: 'w/t',
          payload: Buffer.from('bye'),
          qos: 1,
          retain: false,
          properties: {
            willDelayInterval: 5,
            payloadFormatIndicator: true,
            messageExpiryInterval: 100,
            contentType: 'text/plain',
            responseTopic: 'r/t',
            correlationData: Buffer.from([1, 2]),
            userProperties: { a: '1' },
          },
        },
        properties: {
          sessionExpiryInterval: 3600,
          receiveMaximum: 20,
          maximumPacketSize: 1024,
          topicAliasMaximum: 10,
          requestResponseInformation: true,
          requestProblemInformation: false,
          userProperties: { x: ['1', '2'], y: '3' },
          authenticationMethod: 'SCRAM',
          authenticationData: Buffer.from([9]),
        },
      },
      5,
    );
    const fed = feed([bytes]);
    expect(fed.failure).toBeUndefined();
    expect(fed.packets).toEqual([
      {
        type: 'connect',
        protocolName: 'MQTT',
        protocolVersion: 5,
        cleanStart: false,
        keepAlive: 45,
        clientId: 'dev-1',
        username: 'u',
        password: Buffer.from('p'),
        will: {
          topic: 'w/t',
          payload: Buffer.from('bye'),
          qos: 1,
          retain: false,
          properties: {
            willDelayInterval: 5,
            payloadFormatIndicator: true,
            messageExpiryInterval: 100,
            contentType: 'text/plain',
            responseTopic: 'r/t',
            correlationData: Buffer.from([1, 2]),
            userProperties: [['a', '1']],
          },
        },
        properties: {
          sessionExpiryInterval: 3600,
          receiveMaximum: 20,
          maximumPacketSize: 1024,
          topicAliasMaximum: 10,
          requestResponseInformation: true,
          requestProblemInformation: false,
          userProperties: [
            ['x', '1'],
            ['x', '2'],
            ['y', '3'],
          ],
          authenticationMethod: 'SCRAM',
          authenticationData: Buffer.from([9]),
        },
      },
    ]);
  });

  for (const version of [3, 4, 5] as const) {
    it(`decodes PUBLISH at QoS 0, 1 and 2 on version ${version}`, () => {
      const fed = afterConnect(
        version,
        generate(
          { cmd: 'publish', topic: 'a/b', payload: Buffer.from('zero'), qos: 0, retain: true, dup: false },
          version,
        ),
        generate(
          { cmd: 'publish', topic: 'ü/ß', payload: Buffer.alloc(0), qos: 1, messageId: 7, retain: false, dup: true },
          version,
        ),
        generate(
          {
            cmd: 'publish',
            topic: 't',
            payload: Buffer.alloc(300, 3),
            qos: 2,
            messageId: 65535,
            retain: false,
            dup: false,
          },
          version,
        ),
      );
      expect(fed.failure).toBeUndefined();
      expect(fed.packets).toEqual([
        { type: 'publish', topic: 'a/b', payload: Buffer.from('zero'), qos: 0, retain: true, dup: false },
        { type: 'publish', topic: 'ü/ß', payload: Buffer.alloc(0), qos: 1, retain: false, dup: true, packetId: 7 },
        {
          type: 'publish',
          topic: 't',
          payload: Buffer.alloc(300, 3),
          qos: 2,
          retain: false,
          dup: false,
          packetId: 65535,
        },
      ]);
    });

    it(`decodes the four acks, SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT on version ${version}`, () => {
      const fed = afterConnect(
        version,
        generate({ cmd: 'puback', messageId: 1 }, version),
        generate({ cmd: 'pubrec', messageId: 2 }, version),
        generate({ cmd: 'pubrel', messageId: 3 }, version),
        generate({ cmd: 'pubcomp', messageId: 4 }, version),
        generate(
          {
            cmd: 'subscribe',
            messageId: 5,
            subscriptions: [
              { topic: 'a/+', qos: 1 },
              { topic: '#', qos: 2 },
              { topic: '$share/g/x/#', qos: 0 },
            ],
          },
          version,
        ),
        generate({ cmd: 'unsubscribe', messageId: 6, unsubscriptions: ['a/+', '#'] }, version),
        generate({ cmd: 'pingreq' }, version),
        generate({ cmd: 'disconnect' }, version),
      );
      expect(fed.failure).toBeUndefined();
      const sub = (filter: string, qos: number) => ({
        filter,
        qos,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      });
      expect(fed.packets).toEqual([
        { type: 'puback', packetId: 1, reasonCode: 0 },
        { type: 'pubrec', packetId: 2, reasonCode: 0 },
        { type: 'pubrel', packetId: 3, reasonCode: 0 },
        { type: 'pubcomp', packetId: 4, reasonCode: 0 },
        { type: 'subscribe', packetId: 5, subscriptions: [sub('a/+', 1), sub('#', 2), sub('$share/g/x/#', 0)] },
        { type: 'unsubscribe', packetId: 6, filters: ['a/+', '#'] },
        { type: 'pingreq' },
        { type: 'disconnect', reasonCode: 0 },
      ]);
    });
  }

  it('decodes a 5.0 PUBLISH with every property a client may send', () => {
    const packet = decodeAfterConnect(5, {
      cmd: 'publish',
      topic: 'req/1',
      payload: Buffer.from('{}'),
      qos: 1,
      messageId: 9,
      retain: false,
      dup: false,
      properties: {
        payloadFormatIndicator: true,
        messageExpiryInterval: 30,
        topicAlias: 3,
        responseTopic: 'resp/1',
        correlationData: Buffer.from('c0'),
        userProperties: { k: ['v1', 'v2'], z: 'last' },
        contentType: 'application/json',
      },
    });
    expect(packet).toEqual({
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
          ['k', 'v2'],
          ['z', 'last'],
        ],
        contentType: 'application/json',
      },
    });
  });

  it('decodes a 5.0 PUBLISH with an empty topic and a Topic Alias', () => {
    const packet = decodeAfterConnect(5, {
      cmd: 'publish',
      topic: '',
      payload: Buffer.from('x'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 2 },
    });
    expect(packet).toMatchObject({ topic: '', properties: { topicAlias: 2 } });
  });

  it('decodes 5.0 acks with reason codes and properties', () => {
    const props = { reasonString: 'why', userProperties: { a: 'b' } };
    const fed = afterConnect(
      5,
      generate({ cmd: 'puback', messageId: 1, reasonCode: 0x10, properties: props }, 5),
      generate({ cmd: 'pubrec', messageId: 2, reasonCode: 0x80 }, 5),
      generate({ cmd: 'pubrel', messageId: 3, reasonCode: 0x92, properties: props }, 5),
      generate({ cmd: 'pubcomp', messageId: 4, reasonCode: 0 }, 5),
    );
    const expectedProps = { reasonString: 'why', userProperties: [['a', 'b']] };
    expect(fed.failure).toBeUndefined();
    expect(fed.packets).toEqual([
      { type: 'puback', packetId: 1, reasonCode: 0x10, properties: expectedProps },
      { type: 'pubrec', packetId: 2, reasonCode: 0x80 },
      { type: 'pubrel', packetId: 3, reasonCode: 0x92, properties: expectedProps },
      { type: 'pubcomp', packetId: 4, reasonCode: 0 },
    ]);
  });

  it('decodes a 5.0 SUBSCRIBE with options, Subscription Identifier and User Properties', () => {
    const packet = decodeAfterConnect(5, {
      cmd: 'subscribe',
      messageId: 3,
      subscriptions: [
        { topic: 'a/+', qos: 1, nl: true, rap: true, rh: 2 },
        { topic: 'b/#', qos: 2, nl: false, rap: false, rh: 1 },
      ],
      properties: { subscriptionIdentifier: 268_435_455, userProperties: { a: ['1', '2'] } },
    });
    expect(packet).toEqual({
      type: 'subscribe',
      packetId: 3,
      subscriptions: [
        { filter: 'a/+', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        { filter: 'b/#', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 1 },
      ],
      properties: {
        subscriptionIdentifier: 268_435_455,
        userProperties: [
          ['a', '1'],
          ['a', '2'],
        ],
      },
    });
  });

  it('decodes 5.0 UNSUBSCRIBE, DISCONNECT and AUTH with properties', () => {
    const fed = afterConnect(
      5,
      generate(
        { cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['x'], properties: { userProperties: { u: 'v' } } },
        5,
      ),
      generate(
        {
          cmd: 'auth',
          reasonCode: 0x18,
          properties: {
            authenticationMethod: 'SCRAM',
            authenticationData: Buffer.from([7]),
            reasonString: 'more',
            userProperties: { s: 't' },
          },
        },
        5,
      ),
      generate(
        {
          cmd: 'disconnect',
          reasonCode: 0x04,
          properties: { sessionExpiryInterval: 0, reasonString: 'bye', userProperties: { d: 'e' } },
        },
        5,
      ),
    );
    expect(fed.failure).toBeUndefined();
    expect(fed.packets).toEqual([
      { type: 'unsubscribe', packetId: 4, filters: ['x'], properties: { userProperties: [['u', 'v']] } },
      {
        type: 'auth',
        reasonCode: 0x18,
        properties: {
          authenticationMethod: 'SCRAM',
          authenticationData: Buffer.from([7]),
          reasonString: 'more',
          userProperties: [['s', 't']],
        },
      },
      {
        type: 'disconnect',
        reasonCode: 0x04,
        properties: { sessionExpiryInterval: 0, reasonString: 'bye', userProperties: [['d', 'e']] },
      },
    ]);
  });

  it('stops reading after DISCONNECT [MQTT-3.14.4-1]', () => {
    const fed = afterConnect(4, generate({ cmd: 'disconnect' }, 4), generate({ cmd: 'pingreq' }, 4));
    expect(fed.packets.map((p) => p.type)).toEqual(['disconnect']);
  });
});
