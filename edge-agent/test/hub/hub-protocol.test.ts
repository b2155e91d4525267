import { SEED_LOGIN } from '@tether/test-helpers/seed';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { closed, Resources, seedConfig, urlOf } from './hub-fixtures.js';
import { frame, inboxClient, mqttString, rawSocket, settle, u16 } from './raw-mqtt.js';

/** The hub against the MQTT 3.1.1 / 5.0 clauses, as a client on a socket sees it. */

const res = new Resources();
afterEach(() => res.run());

/** A 3.1.1 CONNECT by hand (mqtt-packet refuses an empty client id with clean session 0). */
function connect311(clientId: string, clean: boolean): Buffer {
  const flags = 0x80 | 0x40 | (clean ? 0x02 : 0);
  return frame(
    0x10,
    mqttString('MQTT'),
    Buffer.from([4, flags]),
    u16(0),
    mqttString(clientId),
    mqttString(SEED_LOGIN.username),
    mqttString(SEED_LOGIN.password),
  );
}

/** A watcher on `#` and a way to prove what it did not get: a marker published after. */
async function watcher(url: string) {
  const inbox = await inboxClient(res, url, SEED_LOGIN);
  await inbox.client.subscribeAsync('#', { qos: 1 });
  const publisher = await inboxClient(res, url, SEED_LOGIN);
  return {
    inbox,
    /** Publishes a marker and waits for it: anything sent before it has arrived by then. */
    async drain(): Promise<string[]> {
      await publisher.client.publishAsync('marker', 'm', { qos: 1 });
      await inbox.until((p) => p.some((m) => m.topic === 'marker'));
      return inbox.packets.filter((p) => p.topic !== 'marker').map((p) => p.topic);
    },
  };
}

describe('CONNECT', () => {
  it('refuses an empty client id with clean session 0: CONNACK 0x02, then close [MQTT-3.1.3-8]', async () => {
    const hub = await res.hub(seedConfig());
    const raw = await rawSocket(res, hub);
    raw.send(connect311('', false));
    const connack = (await raw.next('connack')) as IConnackPacket;
    expect(connack.returnCode).toBe(2);
    expect(connack.sessionPresent).toBe(false);
    await raw.waitClosed();
  });

  it('accepts an empty client id with clean session 1 [MQTT-3.1.3-6]', async () => {
    const hub = await res.hub(seedConfig());
    const raw = await rawSocket(res, hub);
    raw.send(connect311('', true));
    expect(((await raw.next('connack')) as IConnackPacket).returnCode).toBe(0);
    raw.send({ cmd: 'pingreq' });
    await raw.next('pingresp');
  });
});

describe('malformed packets close the connection', () => {
  it('a QoS 1 PUBLISH whose topic has U+0000 is never delivered [MQTT-1.5.3-2]', async () => {
    const hub = await res.hub(seedConfig());
    const w = await watcher(urlOf(hub, 'tcp'));
    const raw = await rawSocket(res, hub);
    await raw.connect();
    raw.send(frame(0x32, mqttString('a\u0000b'), u16(1), Buffer.from('bad')));
    await raw.waitClosed();
    expect(raw.count('puback')).toBe(0);
    expect(await w.drain()).toEqual([]);
  });

  for (const filter of ['a#', 'a+/b', 'a/#/b']) {
    it(`a SUBSCRIBE to ${filter} [MQTT-4.7.1-2], [MQTT-4.7.1-3]`, async () => {
      const hub = await res.hub(seedConfig());
      const raw = await rawSocket(res, hub);
      await raw.connect();
      raw.send(frame(0x82, u16(1), mqttString(filter), Buffer.from([1])));
      await raw.waitClosed();
      expect(raw.count('suback')).toBe(0);
    });
  }

  it('a QoS 1 PUBLISH with packet id 0 [MQTT-2.3.1-1]', async () => {
    const hub = await res.hub(seedConfig());
    const w = await watcher(urlOf(hub, 'tcp'));
    const raw = await rawSocket(res, hub);
    await raw.connect();
    raw.send(frame(0x32, mqttString('zero/id'), u16(0), Buffer.from('x')));
    await raw.waitClosed();
    expect(await w.drain()).toEqual([]);
  });
});

describe('session takeover [MQTT-3.1.4-3]', () => {
  it('3.1.1: a second CONNECT with the same client id closes the first connection', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const first = await inboxClient(res, url, { ...SEED_LOGIN, clientId: 'same-id' });
    const gone = closed(first.client);
    const second = await inboxClient(res, url, { ...SEED_LOGIN, clientId: 'same-id' });
    await gone;
    await second.client.subscribeAsync('after/takeover', { qos: 1 });
    await second.client.publishAsync('after/takeover', 'ok', { qos: 1 });
    await second.until((p) => p.length === 1);
    expect(hub.broker.stats.takeovers).toBe(1);
  });

  it('5.0: the first connection gets DISCONNECT 0x8E, then close', async () => {
    const hub = await res.hub(seedConfig());
    const first = await rawSocket(res, hub, 5);
    expect(((await first.connect({ clientId: 'same-id-5' })) as IConnackPacket).reasonCode).toBe(0);
    const second = await inboxClient(res, urlOf(hub, 'tcp'), {
      ...SEED_LOGIN,
      clientId: 'same-id-5',
      protocolVersion: 5,
    });
    expect(((await first.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x8e);
    await first.waitClosed();
    expect(second.client.connected).toBe(true);
  });
});

describe('will messages', () => {
  const will = (topic: string) => ({ topic, payload: Buffer.from(`${topic} gone`), qos: 1 as const, retain: false });

  it('publishes the will of a client whose socket drops', async () => {
    const hub = await res.hub(seedConfig());
    const w = await watcher(urlOf(hub, 'tcp'));
    const raw = await rawSocket(res, hub);
    await raw.connect({ will: will('will/dropped') });
    raw.socket.destroy();
    await w.inbox.until((p) => p.some((m) => m.topic === 'will/dropped'));
    expect(w.inbox.payloads('will/dropped')).toEqual(['will/dropped gone']);
  });

  it('discards the will of a client that sends DISCONNECT [MQTT-3.1.2-10]', async () => {
    const hub = await res.hub(seedConfig());
    const w = await watcher(urlOf(hub, 'tcp'));
    const raw = await rawSocket(res, hub);
    await raw.connect({ will: will('will/clean') });
    raw.send({ cmd: 'disconnect' });
    await raw.waitClosed();
    expect(await w.drain()).toEqual([]);
  });

  it('5.0: holds a will for its Will Delay Interval and drops it when the client is back in time', async () => {
    const hub = await res.hub(seedConfig());
    const w = await watcher(urlOf(hub, 'tcp'));
    const delayed = { ...will('will/x'), properties: { willDelayInterval: 1 } };
    const session = { properties: { sessionExpiryInterval: 60 } };
    const back = await rawSocket(res, hub, 5);
    await back.connect({ clientId: 'comes-back', ...session, will: { ...delayed, topic: 'will/back' } });
    const away = await rawSocket(res, hub, 5);
    await away.connect({ clientId: 'stays-away', ...session, will: { ...delayed, topic: 'will/away' } });
    back.socket.destroy();
    away.socket.destroy();
    const again = await rawSocket(res, hub, 5);
    expect(
      ((await again.connect({ clientId: 'comes-back', clean: false, ...session })) as IConnackPacket).sessionPresent,
    ).toBe(true);
    // the will of the client that stayed away comes after its delay; the other one never
    await w.inbox.until((p) => p.some((m) => m.topic === 'will/away'), 5_000);
    await settle(300);
    expect(await w.drain()).toEqual(['will/away']);
  });
});

describe('QoS 2', () => {
  it('delivers exactly once between MQTT.js clients', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const sub = await inboxClient(res, url, { ...SEED_LOGIN, clientId: 'q2-sub', clean: false });
    await sub.client.subscribeAsync('q2/#', { qos: 2 });
    const pub = await inboxClient(res, url, SEED_LOGIN);
    for (let i = 0; i < 20; i++) await pub.client.publishAsync('q2/x', String(i), { qos: 2 });
    await sub.until((p) => p.length === 20);
    await pub.client.publishAsync('q2/end', 'end', { qos: 2 });
    await sub.until((p) => p.some((m) => m.topic === 'q2/end'));
    expect(sub.payloads('q2/x')).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(sub.packets.every((p) => p.qos === 2)).toBe(true);
  });

  it('runs PUBREC / PUBREL / PUBCOMP both ways, and a resent PUBLISH before PUBREL is not delivered again', async () => {
    const hub = await res.hub(seedConfig());
    const sub = await rawSocket(res, hub);
    await sub.connect({ clientId: 'raw-q2-sub' });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2raw', qos: 2 }] });
    expect(((await sub.next('suback')) as ISubackPacket).granted).toEqual([2]);
    const pub = await rawSocket(res, hub);
    await pub.connect({ clientId: 'raw-q2-pub' });
    const publish = { cmd: 'publish', topic: 'q2raw', payload: Buffer.from('once'), qos: 2, messageId: 7 } as const;
    pub.send({ ...publish, dup: false, retain: false });
    expect((await pub.next('pubrec')).messageId).toBe(7);
    pub.send({ ...publish, dup: true, retain: false }); // as after a lost PUBREC [MQTT-4.3.3-10]
    expect((await pub.next('pubrec')).messageId).toBe(7);
    pub.send({ cmd: 'pubrel', messageId: 7 });
    expect((await pub.next('pubcomp')).messageId).toBe(7);
    // hub → subscriber
    const got = (await sub.next('publish')) as IPublishPacket;
    expect(got).toMatchObject({ qos: 2, topic: 'q2raw' });
    expect(got.payload.toString()).toBe('once');
    sub.send({ cmd: 'pubrec', messageId: got.messageId as number });
    expect((await sub.next('pubrel')).messageId).toBe(got.messageId);
    sub.send({ cmd: 'pubcomp', messageId: got.messageId as number });
    // nothing else: not the resent PUBLISH, not a second PUBREL
    pub.send({ cmd: 'pingreq' });
    await pub.next('pingresp');
    await settle(200);
    expect(sub.packets).toEqual([]);
  });
});

describe('subscriptions', () => {
  it('matches each of 1,000 subscriptions of one client (the default limit), and refuses the 1,001st', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const sub = await inboxClient(res, url, SEED_LOGIN);
    const filters = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`many/${i}/+`, { qos: 1 as const }]));
    const granted = await sub.client.subscribeAsync(filters);
    expect(granted.filter((g) => g.qos === 1)).toHaveLength(1_000);
    const extra = await sub.client
      .subscribeAsync('many/extra', { qos: 1 })
      .then(() => undefined)
      .catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    expect(extra).toEqual([0x80]);
    const pub = await inboxClient(res, url, SEED_LOGIN);
    await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => pub.client.publishAsync(`many/${i}/x`, String(i), { qos: 1 })),
    );
    await sub.until((p) => p.length === 1_000, 5_000, '1000 messages');
    expect(new Set(sub.packets.map((p) => p.topic)).size).toBe(1_000);
  });
});

describe('retained messages', () => {
  it('go to a new subscriber with the retain flag; an empty retained payload clears them', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const pub = await inboxClient(res, url, SEED_LOGIN);
    await pub.client.publishAsync('ret/a', 'v1', { qos: 1, retain: true });
    const first = await inboxClient(res, url, SEED_LOGIN);
    await first.client.subscribeAsync('ret/#', { qos: 1 });
    await first.until((p) => p.length === 1);
    expect(first.packets[0]).toMatchObject({ topic: 'ret/a', retain: true });
    expect(first.payloads()).toEqual(['v1']);
    await pub.client.publishAsync('ret/a', '', { qos: 1, retain: true });
    const second = await inboxClient(res, url, SEED_LOGIN);
    await second.client.subscribeAsync('ret/#', { qos: 1 });
    await pub.client.publishAsync('ret/marker', 'm', { qos: 1 });
    await second.until((p) => p.some((m) => m.topic === 'ret/marker'));
    expect(second.packets.map((p) => p.topic)).toEqual(['ret/marker']);
    expect([...hub.broker.retained.matching('ret/#')]).toEqual([]);
  });
});
