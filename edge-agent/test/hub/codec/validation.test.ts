import { describe, expect, it } from 'vitest';
import { afterConnect, type Fed, feed, frame, str } from './codec-fixtures.js';

/** A CONNECT by hand: `props` (5.0 only) is the Properties block including its length byte. */
function connect(o: { name?: string; level?: number; flags?: number; props?: Buffer; payload?: Buffer[] }): Buffer {
  const level = o.level ?? 4;
  return frame(
    0x10,
    str(o.name ?? 'MQTT'),
    level,
    o.flags ?? 0x02,
    0,
    30,
    ...(o.props ? [o.props] : level === 5 ? [Buffer.from([0])] : []),
    ...(o.payload ?? [str('c1')]),
  );
}

/** A Properties block: Property Length, then the given bytes. */
function props(...bytes: number[]): Buffer {
  return Buffer.from([bytes.length, ...bytes]);
}

function failure(fed: Fed) {
  expect(fed.failure, 'expected the packet to be refused').toBeDefined();
  return fed.failure;
}

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;
const UNSUPPORTED_VERSION = 0x84;
const CLIENT_ID_NOT_VALID = 0x85;
const TOPIC_FILTER_INVALID = 0x8f;
const TOPIC_NAME_INVALID = 0x90;

describe('UTF-8 strings', () => {
  it('refuses U+0000 in a topic [MQTT-1.5.4-2] (3.1.1 [MQTT-1.5.3-2])', () => {
    const fed = afterConnect(4, frame(0x30, str(Buffer.from([0x61, 0x00, 0x62])), 'x'));
    expect(failure(fed)?.reasonCode).toBe(MALFORMED);
  });

  it('refuses ill-formed UTF-8: an overlong NUL (C0 80) [MQTT-1.5.4-1] (3.1.1 [MQTT-1.5.3-1])', () => {
    const fed = afterConnect(4, frame(0x30, str(Buffer.from([0x61, 0xc0, 0x80])), 'x'));
    expect(failure(fed)).toMatchObject({ reasonCode: MALFORMED, reason: expect.stringMatching(/well-formed/) });
  });

  it('refuses an encoded lone surrogate (ED A0 80) [MQTT-1.5.4-1]', () => {
    const fed = afterConnect(5, frame(0x30, str(Buffer.from([0xed, 0xa0, 0x80])), 0, 'x'));
    expect(failure(fed)?.reasonCode).toBe(MALFORMED);
  });

  it('refuses ill-formed UTF-8 in a client id, a user name and a user property', () => {
    const bad = str(Buffer.from([0xff]));
    expect(failure(feed([connect({ payload: [bad] })]))?.reasonCode).toBe(MALFORMED);
    expect(failure(feed([connect({ flags: 0x82, payload: [str('c'), bad] })]))?.reasonCode).toBe(MALFORMED);
    const userProperty = Buffer.concat([Buffer.from([0x26]), str('k'), bad]);
    const block = Buffer.concat([Buffer.from([userProperty.length]), userProperty]);
    expect(failure(feed([connect({ level: 5, props: block })]))?.reasonCode).toBe(MALFORMED);
  });

  it('accepts a real U+FFFD and keeps a BOM [MQTT-1.5.4-3]', () => {
    const fed = afterConnect(4, frame(0x30, str('\ufeffa/\ufffd'), 'x'));
    expect(fed.failure).toBeUndefined();
    expect(fed.packets[0]).toMatchObject({ topic: '\ufeffa/\ufffd' });
  });
});

describe('topic names and filters', () => {
  it('refuses wildcards in a PUBLISH topic [MQTT-3.3.2-2]', () => {
    expect(failure(afterConnect(4, frame(0x30, str('a/+'), 'x')))?.reasonCode).toBe(TOPIC_NAME_INVALID);
    expect(failure(afterConnect(5, frame(0x30, str('a/#'), 0, 'x')))?.reasonCode).toBe(TOPIC_NAME_INVALID);
  });

  it('refuses an empty topic: 3.1.1 [MQTT-4.7.3-1]; 5.0 without a Topic Alias (3.3.2.3.4)', () => {
    expect(failure(afterConnect(4, frame(0x30, str(''), 'x')))?.reasonCode).toBe(TOPIC_NAME_INVALID);
    expect(failure(afterConnect(5, frame(0x30, str(''), 0, 'x')))?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  const subscribe = (filter: string, options = 0) => frame(0x82, 0, 1, str(filter), options);
  for (const [filter, clause] of [
    ['a#', '"#" must follow a separator: 3.1.1 [MQTT-4.7.1-2], 5.0 [MQTT-4.7.1-1]'],
    ['#/a', '"#" must be last: 3.1.1 [MQTT-4.7.1-2], 5.0 [MQTT-4.7.1-1]'],
    ['a+/b', '"+" alone in its level: 3.1.1 [MQTT-4.7.1-3], 5.0 [MQTT-4.7.1-2]'],
    ['a/+b', '"+" alone in its level'],
    ['', 'at least one character [MQTT-4.7.3-1]'],
    ['$share//a', 'ShareName at least one character [MQTT-4.8.2-1]'],
    ['$share/g+/a', 'ShareName without wildcards [MQTT-4.8.2-2]'],
    ['$share/g', 'ShareName followed by "/" [MQTT-4.8.2-2]'],
    ['$share/g/', '"/" followed by a Topic Filter [MQTT-4.8.2-2]'],
  ]) {
    it(`refuses the filter ${JSON.stringify(filter)} in SUBSCRIBE (${clause})`, () => {
      expect(failure(afterConnect(4, subscribe(filter as string)))?.reasonCode).toBe(TOPIC_FILTER_INVALID);
      expect(failure(afterConnect(5, frame(0x82, 0, 1, 0, str(filter as string), 0)))?.reasonCode).toBe(
        TOPIC_FILTER_INVALID,
      );
    });
  }

  it('accepts valid filters, shared ones included', () => {
    for (const filter of ['#', '+', 'a/+/b', '+/+', 'a/#', '/', '$share/g/a/#', '$SYS/#']) {
      expect(afterConnect(4, subscribe(filter)).failure, filter).toBeUndefined();
    }
  });

  it('refuses a bad filter in UNSUBSCRIBE too', () => {
    expect(failure(afterConnect(4, frame(0xa2, 0, 1, str('a#'))))?.reasonCode).toBe(TOPIC_FILTER_INVALID);
  });

  it('refuses a wildcard in the Will Topic', () => {
    const fed = feed([connect({ flags: 0x06, payload: [str('c'), str('w/#'), str('bye')] })]);
    expect(failure(fed)?.reasonCode).toBe(TOPIC_NAME_INVALID);
  });
});

describe('packet identifiers and payloads', () => {
  it('refuses Packet Identifier 0 on a QoS 1 PUBLISH [MQTT-2.3.1-1] (5.0 [MQTT-2.2.1-3])', () => {
    expect(failure(afterConnect(4, frame(0x32, str('t'), 0, 0, 'x')))?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses Packet Identifier 0 on SUBSCRIBE and UNSUBSCRIBE [MQTT-2.3.1-1]', () => {
    expect(failure(afterConnect(4, frame(0x82, 0, 0, str('a'), 0)))?.reasonCode).toBe(PROTOCOL_ERROR);
    expect(failure(afterConnect(4, frame(0xa2, 0, 0, str('a'))))?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses SUBSCRIBE without a filter (3.1.1 [MQTT-3.8.3-3], 5.0 [MQTT-3.8.3-2])', () => {
    expect(failure(afterConnect(4, frame(0x82, 0, 1)))?.reasonCode).toBe(PROTOCOL_ERROR);
    expect(failure(afterConnect(5, frame(0x82, 0, 1, 0)))?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses UNSUBSCRIBE without a filter [MQTT-3.10.3-2]', () => {
    expect(failure(afterConnect(4, frame(0xa2, 0, 1)))?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses PUBLISH QoS 3 [MQTT-3.3.1-4] and DUP on QoS 0 [MQTT-3.3.1-2]', () => {
    expect(failure(afterConnect(4, frame(0x36, str('t'), 0, 1)))?.reasonCode).toBe(MALFORMED);
    expect(failure(afterConnect(4, frame(0x38, str('t'), 'x')))?.reasonCode).toBe(MALFORMED);
  });

  it('refuses fields running past the packet and bytes left after them', () => {
    expect(failure(afterConnect(4, frame(0x40, 0)))?.reasonCode).toBe(MALFORMED);
    expect(failure(afterConnect(4, frame(0x40, 0, 1, 0)))?.reasonCode).toBe(MALFORMED);
    expect(failure(afterConnect(4, frame(0xc0, 0)))?.reasonCode).toBe(MALFORMED);
    expect(failure(afterConnect(4, frame(0x30, 0, 9, 'ab')))?.reasonCode).toBe(MALFORMED);
    expect(failure(feed([connect({ payload: [str('c1'), Buffer.from([1])] })]))?.reasonCode).toBe(MALFORMED);
  });
});

describe('fixed header flags', () => {
  it('refuses PUBREL with flags other than 0010 [MQTT-3.6.1-1]', () => {
    const fed = afterConnect(4, frame(0x60, 0, 1));
    expect(failure(fed)).toMatchObject({ reasonCode: MALFORMED, reason: expect.stringMatching(/0000/) });
  });

  it('refuses SUBSCRIBE [MQTT-3.8.1-1] and UNSUBSCRIBE [MQTT-3.10.1-1] with flags other than 0010', () => {
    expect(failure(afterConnect(4, frame(0x80, 0, 1, str('a'), 0)))?.reasonCode).toBe(MALFORMED);
    expect(failure(afterConnect(4, frame(0xa0, 0, 1, str('a'))))?.reasonCode).toBe(MALFORMED);
    expect(failure(afterConnect(4, frame(0x41, 0, 1)))?.reasonCode).toBe(MALFORMED);
  });

  it('accepts the DUP bit MQTT 3.1 set on a resent PUBREL', () => {
    const fed = afterConnect(3, frame(0x6a, 0, 1));
    expect(fed.failure).toBeUndefined();
    expect(fed.packets).toEqual([{ type: 'pubrel', packetId: 1, reasonCode: 0 }]);
    expect(failure(afterConnect(4, frame(0x6a, 0, 1)))?.reasonCode).toBe(MALFORMED);
  });

  it('refuses a CONNECT whose fixed header flags are not 0', () => {
    expect(failure(feed([Buffer.from([0x12])]))?.reasonCode).toBe(MALFORMED);
  });
});

describe('CONNECT', () => {
  it('refuses MQIsdp at level 4 and MQTT at level 3 with CONNACK code 0x01 [MQTT-3.1.2-2]', () => {
    for (const [name, level] of [
      ['MQIsdp', 4],
      ['MQTT', 3],
    ] as const) {
      expect(failure(feed([connect({ name, level })]))).toMatchObject({
        reasonCode: UNSUPPORTED_VERSION,
        connackReturnCode: 0x01,
      });
    }
  });

  it('refuses the unknown level 6 with CONNACK code 0x01 [MQTT-3.1.2-2]', () => {
    const fed = feed([connect({ level: 6 })]);
    expect(failure(fed)).toMatchObject({ reasonCode: UNSUPPORTED_VERSION, connackReturnCode: 0x01 });
    expect(fed.reader.protocolVersion).toBeUndefined();
  });

  it('refuses an unknown Protocol Name without a CONNACK code [MQTT-3.1.2-1]', () => {
    expect(failure(feed([connect({ name: 'MQTX' })]))).toMatchObject({
      reasonCode: MALFORMED,
      connackReturnCode: undefined,
    });
  });

  it('refuses the reserved Connect Flag [MQTT-3.1.2-3]', () => {
    expect(failure(feed([connect({ flags: 0x03 })]))?.reasonCode).toBe(MALFORMED);
  });

  it('refuses Will QoS 3 (3.1.1 [MQTT-3.1.2-14], 5.0 [MQTT-3.1.2-12])', () => {
    const fed = feed([connect({ flags: 0x1e, payload: [str('c'), str('w'), str('bye')] })]);
    expect(failure(fed)?.reasonCode).toBe(MALFORMED);
  });

  it('refuses Will QoS > 0 without the Will Flag (3.1.1 [MQTT-3.1.2-13], 5.0 [MQTT-3.1.2-11])', () => {
    expect(failure(feed([connect({ flags: 0x0a })]))?.reasonCode).toBe(MALFORMED);
  });

  it('refuses Will Retain without the Will Flag (3.1.1 [MQTT-3.1.2-15], 5.0 [MQTT-3.1.2-13])', () => {
    expect(failure(feed([connect({ flags: 0x22 })]))?.reasonCode).toBe(MALFORMED);
  });

  it('refuses a password without a user name on 3.1.1 [MQTT-3.1.2-22], accepts it on 5.0', () => {
    expect(failure(feed([connect({ flags: 0x42, payload: [str('c'), str('pw')] })]))?.reasonCode).toBe(MALFORMED);
    const v5 = feed([connect({ level: 5, flags: 0x42, payload: [str('c'), str('pw')] })]);
    expect(v5.failure).toBeUndefined();
    expect(v5.packets[0]).toMatchObject({ password: Buffer.from('pw') });
  });

  it('refuses an empty client id with Clean Session 0 on 3.1.1 with CONNACK 0x02 [MQTT-3.1.3-8]', () => {
    expect(failure(feed([connect({ flags: 0x00, payload: [str('')] })]))).toMatchObject({
      reasonCode: CLIENT_ID_NOT_VALID,
      connackReturnCode: 0x02,
    });
    expect(feed([connect({ flags: 0x02, payload: [str('')] })]).failure).toBeUndefined();
    expect(feed([connect({ level: 5, flags: 0x00, payload: [str('')] })]).failure).toBeUndefined();
    expect(failure(feed([connect({ name: 'MQIsdp', level: 3, payload: [str('')] })]))?.connackReturnCode).toBe(0x02);
  });

  it('keeps the version a refused 5.0 CONNECT claimed, for the CONNACK to answer in', () => {
    const fed = feed([connect({ level: 5, props: props(0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2) })]);
    expect(failure(fed)?.reasonCode).toBe(PROTOCOL_ERROR);
    expect(fed.reader.protocolVersion).toBe(5);
  });
});

describe('5.0 properties', () => {
  it('refuses a property given twice, two Session Expiry Intervals, as a protocol error (3.1.2.11.2)', () => {
    const fed = feed([connect({ level: 5, props: props(0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2) })]);
    expect(failure(fed)).toMatchObject({ reasonCode: PROTOCOL_ERROR, reason: expect.stringMatching(/more than once/) });
  });

  it('accepts User Property given many times, in order', () => {
    const pair = (k: string, v: string) => [0x26, 0, 1, k.charCodeAt(0), 0, 1, v.charCodeAt(0)];
    const fed = feed([connect({ level: 5, props: props(...pair('a', '1'), ...pair('b', '2'), ...pair('a', '3')) })]);
    expect(fed.packets[0]).toMatchObject({
      properties: {
        userProperties: [
          ['a', '1'],
          ['b', '2'],
          ['a', '3'],
        ],
      },
    });
  });

  it('refuses a property not valid for the packet (Topic Alias in CONNECT) as malformed (2.2.2.2)', () => {
    expect(failure(feed([connect({ level: 5, props: props(0x23, 0, 1) })]))?.reasonCode).toBe(MALFORMED);
  });

  it('refuses Subscription Identifier 0 in SUBSCRIBE (3.8.2.1.2: a Protocol Error)', () => {
    const fed = afterConnect(5, frame(0x82, 0, 1, props(0x0b, 0), str('a'), 0));
    expect(failure(fed)?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses a Subscription Identifier in a PUBLISH from a client [MQTT-3.3.4-6]', () => {
    expect(failure(afterConnect(5, frame(0x30, str('t'), props(0x0b, 1), 'x')))?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses zero values the spec forbids: Topic Alias [MQTT-3.3.2-8], Receive Maximum, Maximum Packet Size', () => {
    expect(failure(afterConnect(5, frame(0x30, str('t'), props(0x23, 0, 0), 'x')))?.reasonCode).toBe(PROTOCOL_ERROR);
    expect(failure(feed([connect({ level: 5, props: props(0x21, 0, 0) })]))?.reasonCode).toBe(PROTOCOL_ERROR);
    expect(failure(feed([connect({ level: 5, props: props(0x27, 0, 0, 0, 0) })]))?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses Request Problem Information other than 0 or 1 (3.1.2.11.7)', () => {
    expect(failure(feed([connect({ level: 5, props: props(0x17, 2) })]))?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses Authentication Data without Authentication Method (3.1.2.11.10)', () => {
    expect(failure(feed([connect({ level: 5, props: props(0x16, 0, 1, 9) })]))?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses a Response Topic with a wildcard [MQTT-3.3.2-14]', () => {
    const fed = afterConnect(5, frame(0x30, str('t'), props(0x08, 0, 1, 0x23), 'x'));
    expect(failure(fed)?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses a Property Length running past the packet', () => {
    expect(failure(afterConnect(5, frame(0x30, str('t'), 9, 'x')))?.reasonCode).toBe(MALFORMED);
  });

  it('refuses reason codes a packet may not carry', () => {
    expect(failure(afterConnect(5, frame(0x40, 0, 1, 0x92)))?.reasonCode).toBe(PROTOCOL_ERROR); // [MQTT-3.4.2-1]
    expect(failure(afterConnect(5, frame(0xe0, 0x05)))?.reasonCode).toBe(PROTOCOL_ERROR); // [MQTT-3.14.2-1]
    expect(failure(afterConnect(5, frame(0xf0, 0x01, 0)))?.reasonCode).toBe(PROTOCOL_ERROR); // [MQTT-3.15.2-1]
  });
});

describe('5.0 subscription options', () => {
  const subscribe5 = (filter: string, options: number) => frame(0x82, 0, 1, 0, str(filter), options);

  it('refuses reserved option bits as malformed [MQTT-3.8.3-5]', () => {
    expect(failure(afterConnect(5, subscribe5('a', 0x40)))?.reasonCode).toBe(MALFORMED);
  });

  it('refuses the 3.1.1 reserved bits [MQTT-3-8.3-4] and QoS 3', () => {
    expect(failure(afterConnect(4, frame(0x82, 0, 1, str('a'), 0x04)))?.reasonCode).toBe(MALFORMED);
    expect(failure(afterConnect(5, subscribe5('a', 0x03)))?.reasonCode).toBe(MALFORMED);
  });

  it('refuses Retain Handling 3 (3.8.3.1)', () => {
    expect(failure(afterConnect(5, subscribe5('a', 0x30)))?.reasonCode).toBe(PROTOCOL_ERROR);
  });

  it('refuses No Local on a shared subscription [MQTT-3.8.3-4]', () => {
    expect(failure(afterConnect(5, subscribe5('$share/g/a', 0x04)))?.reasonCode).toBe(PROTOCOL_ERROR);
    expect(afterConnect(5, subscribe5('a', 0x04)).failure).toBeUndefined();
  });
});
