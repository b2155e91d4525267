import { SEED_LOGIN } from '@tether/test-helpers/seed';
import type { IClientOptions } from 'mqtt';
import type { IConnackPacket, IPubackPacket, IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { Resources, seedConfig, urlOf } from './hub-fixtures.js';
import { inboxClient, rawSocket, settle } from './raw-mqtt.js';

/** MQTT 5 through the hub, with MQTT.js (protocolVersion 5) and raw sockets where the client hides the detail. */

const res = new Resources();
afterEach(() => res.run());

const V5: IClientOptions = { ...SEED_LOGIN, protocolVersion: 5 };

const LIMITED = {
  username: 'limited',
  password: 'pw',
  permissions: [
    { action: 'pub', permit: ['allowed/#'] },
    { action: 'sub', permit: ['allowed/#'] },
  ],
};

function ids(p: IPublishPacket): number[] {
  const sid = p.properties?.subscriptionIdentifier;
  return sid === undefined ? [] : ([] as number[]).concat(sid).sort((a, b) => a - b);
}

describe('CONNACK', () => {
  it('assigns a client identifier for an empty one and announces what the hub offers', async () => {
    const hub = await res.hub(seedConfig({ limits: { packetsize: '256KB' } }));
    const raw = await rawSocket(res, hub, 5);
    const connack = (await raw.connect({ clientId: '' })) as IConnackPacket;
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties).toMatchObject({
      assignedClientIdentifier: expect.stringMatching(/^tether-.{4,}/),
      topicAliasMaximum: 64,
      maximumPacketSize: 256 * 1024,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
    });
    // a client that names itself is not assigned one
    const named = await rawSocket(res, hub, 5);
    expect(((await named.connect({ clientId: 'named' })) as IConnackPacket).properties?.assignedClientIdentifier).toBe(
      undefined,
    );
  });
});

describe('Server Keep Alive (limits.keepalive)', () => {
  it('tells a 5.0 client asking for more, or for none, the hub maximum; refuses a 3.1.1 client asking for more', async () => {
    const hub = await res.hub(seedConfig({ limits: { keepalive: '60s' } }));
    const over = await rawSocket(res, hub, 5);
    expect(((await over.connect({ keepalive: 120 })) as IConnackPacket).properties?.serverKeepAlive).toBe(60);
    const none = await rawSocket(res, hub, 5);
    expect(((await none.connect({ keepalive: 0 })) as IConnackPacket).properties?.serverKeepAlive).toBe(60);
    const under = await rawSocket(res, hub, 5);
    const ok = (await under.connect({ keepalive: 30 })) as IConnackPacket;
    expect(ok.reasonCode).toBe(0);
    expect(ok.properties?.serverKeepAlive).toBe(undefined);
    // 3.1.1 has no way to tell the client: refused like Mosquitto (identifier rejected)
    const old = await rawSocket(res, hub, 4);
    expect(((await old.connect({ keepalive: 120 })) as IConnackPacket).returnCode).toBe(2);
    await old.closed;
    const oldOk = await rawSocket(res, hub, 4);
    expect(((await oldOk.connect({ keepalive: 30 })) as IConnackPacket).returnCode).toBe(0);
  });
});

describe('session expiry', () => {
  for (const [expiry, kept] of [
    [0, false],
    [60, true],
  ] as const) {
    it(`sessionExpiryInterval ${expiry}: messages published while away are ${kept ? '' : 'not '}delivered on return`, async () => {
      const hub = await res.hub(seedConfig());
      const url = urlOf(hub, 'tcp');
      const device: IClientOptions = {
        ...V5,
        clientId: `expiry-${expiry}`,
        clean: false,
        properties: { sessionExpiryInterval: expiry },
      };
      const first = await inboxClient(res, url, device);
      await first.client.subscribeAsync('se/#', { qos: 1 });
      await first.client.endAsync();
      const pub = await inboxClient(res, url, V5);
      for (let i = 1; i <= 3; i++) await pub.client.publishAsync('se/x', String(i), { qos: 1 });
      const again = await inboxClient(res, url, device);
      expect(again.connack.sessionPresent).toBe(kept);
      if (kept) {
        await again.until((p) => p.length === 3);
        expect(again.payloads()).toEqual(['1', '2', '3']);
      } else {
        await settle(200);
        expect(again.payloads()).toEqual([]);
      }
    });
  }
});

describe('message expiry', () => {
  it('drops a message whose expiry passed while its session was offline; the other arrives with what is left', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const device: IClientOptions = {
      ...V5,
      clientId: 'expiring',
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    };
    const first = await inboxClient(res, url, device);
    await first.client.subscribeAsync('mx/#', { qos: 1 });
    await first.client.endAsync();
    const pub = await inboxClient(res, url, V5);
    await pub.client.publishAsync('mx/short', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.client.publishAsync('mx/long', 'long', { qos: 1, properties: { messageExpiryInterval: 60 } });
    await settle(2_100); // past the first one's expiry
    const again = await inboxClient(res, url, device);
    await again.until((p) => p.some((m) => m.topic === 'mx/long'));
    await pub.client.publishAsync('mx/marker', 'm', { qos: 1 });
    await again.until((p) => p.some((m) => m.topic === 'mx/marker'));
    expect(again.packets.map((p) => p.topic)).toEqual(['mx/long', 'mx/marker']);
    const left = again.packets[0]?.properties?.messageExpiryInterval as number;
    // [MQTT-3.3.2-6]: the interval sent is what is left of it
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(60);
  }, 15_000);
});

describe('subscription options', () => {
  it('No Local: a client does not get its own messages on that subscription [MQTT-3.8.3-3]', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const a = await inboxClient(res, url, V5);
    await a.client.subscribeAsync('nl/t', { qos: 1, nl: true });
    const b = await inboxClient(res, url, V5);
    await b.client.subscribeAsync('nl/t', { qos: 1 });
    await a.client.publishAsync('nl/t', 'from a', { qos: 1 });
    await b.until((p) => p.length === 1);
    await b.client.publishAsync('nl/t', 'from b', { qos: 1 });
    await a.until((p) => p.length === 1);
    await b.until((p) => p.length === 2);
    expect(a.payloads()).toEqual(['from b']);
    expect(b.payloads()).toEqual(['from a', 'from b']);
  });

  it('Retain As Published keeps the retain flag on live messages; without it the flag is cleared', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const rap = await inboxClient(res, url, V5);
    await rap.client.subscribeAsync('rap/#', { qos: 1, rap: true });
    const plain = await inboxClient(res, url, V5);
    await plain.client.subscribeAsync('rap/#', { qos: 1, rap: false });
    const pub = await inboxClient(res, url, V5);
    await pub.client.publishAsync('rap/x', 'live', { qos: 1, retain: true });
    await rap.until((p) => p.length === 1);
    await plain.until((p) => p.length === 1);
    expect(rap.packets[0]?.retain).toBe(true);
    expect(plain.packets[0]?.retain).toBe(false);
  });

  it('Retain Handling: 0 sends retained messages, 1 only for a new subscription, 2 never', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const pub = await inboxClient(res, url, V5);
    await pub.client.publishAsync('rh/x', 'kept', { qos: 1, retain: true });
    const sub = await inboxClient(res, url, V5);
    await sub.client.subscribeAsync('rh/#', { qos: 1, rh: 1 });
    await sub.until((p) => p.length === 1);
    await sub.client.subscribeAsync('rh/#', { qos: 1, rh: 1 }); // exists already: not again
    await sub.client.subscribeAsync('rh/+', { qos: 1, rh: 2 }); // never
    await sub.client.subscribeAsync('+/x', { qos: 1, rh: 0 }); // always
    await sub.until((p) => p.length === 2);
    await pub.client.publishAsync('rh/marker', 'm', { qos: 1 });
    await sub.until((p) => p.some((m) => m.topic === 'rh/marker'));
    expect(sub.packets.map((p) => [p.topic, p.retain])).toEqual([
      ['rh/x', true],
      ['rh/x', true],
      ['rh/marker', false],
    ]);
  });

  it('puts the subscription identifiers of every matching subscription on the PUBLISH', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const sub = await inboxClient(res, url, V5);
    await sub.client.subscribeAsync('sid/a', { qos: 1, properties: { subscriptionIdentifier: 7 } });
    await sub.client.subscribeAsync('sid/+', { qos: 1, properties: { subscriptionIdentifier: 9 } });
    await sub.client.subscribeAsync('sid/#', { qos: 1 }); // none
    const pub = await inboxClient(res, url, V5);
    await pub.client.publishAsync('sid/a', 'both', { qos: 1 });
    await pub.client.publishAsync('sid/b', 'one', { qos: 1 });
    await pub.client.publishAsync('sid/b/c', 'none', { qos: 1 });
    await sub.until((p) => p.length === 3);
    expect(sub.packets.map((p) => [p.topic, ids(p)])).toEqual([
      ['sid/a', [7, 9]],
      ['sid/b', [9]],
      ['sid/b/c', []],
    ]);
  });
});

describe('shared subscriptions', () => {
  it('$share/g/sh/#: each message to exactly one member, both members get some', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const a = await inboxClient(res, url, V5);
    const b = await inboxClient(res, url, V5);
    const members = [a, b];
    for (const m of members) await m.client.subscribeAsync('$share/g/sh/#', { qos: 1 });
    const pub = await inboxClient(res, url, V5);
    for (let i = 0; i < 20; i++) await pub.client.publishAsync('sh/x', String(i), { qos: 1 });
    const total = () => a.packets.length + b.packets.length;
    await a.until(() => total() >= 20);
    await settle(100);
    const all = [...a.payloads(), ...b.payloads()].sort((x, y) => Number(x) - Number(y));
    expect(all).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(a.packets.length).toBeGreaterThan(0);
    expect(b.packets.length).toBeGreaterThan(0);
  });

  it('checks a shared subscription against the sub permits by its topic filter', async () => {
    const hub = await res.hub(seedConfig({ principals: [LIMITED] }));
    const raw = await rawSocket(res, hub, 5);
    await raw.connect({ username: 'limited', password: Buffer.from('pw') });
    raw.send({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [
        { topic: '$share/g/allowed/#', qos: 1 },
        { topic: '$share/g/secret/#', qos: 1 },
      ],
    });
    expect(((await raw.next('suback')) as ISubackPacket).granted).toEqual([1, 0x87]);
  });
});

describe('PUBLISH properties', () => {
  it('resolves a topic alias from the client', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const sub = await inboxClient(res, url, V5);
    await sub.client.subscribeAsync('ta/#', { qos: 1 });
    const pub = await inboxClient(res, url, V5);
    expect(pub.connack.properties?.topicAliasMaximum).toBe(64);
    await pub.client.publishAsync('ta/a/rather/long/topic', 'one', { qos: 1, properties: { topicAlias: 3 } });
    await pub.client.publishAsync('', 'two', { qos: 1, properties: { topicAlias: 3 } });
    await sub.until((p) => p.length === 2);
    expect(sub.packets.map((p) => [p.topic, p.payload.toString(), p.properties?.topicAlias])).toEqual([
      ['ta/a/rather/long/topic', 'one', undefined],
      ['ta/a/rather/long/topic', 'two', undefined],
    ]);
  });

  it('sends topic aliases to a client that allows them: the first topic sets one, later ones use it alone', async () => {
    const hub = await res.hub(seedConfig());
    const raw = await rawSocket(res, hub, 5);
    await raw.connect({ clientId: 'alias-sub', properties: { topicAliasMaximum: 1 } });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ta/#', qos: 1 }] });
    await raw.next('suback');
    const pub = await inboxClient(res, urlOf(hub, 'tcp'), V5);
    for (const t of ['ta/first', 'ta/second', 'ta/first']) await pub.client.publishAsync(t, t, { qos: 1 });
    const got: IPublishPacket[] = [];
    for (let i = 0; i < 3; i++) {
      const p = (await raw.next('publish')) as IPublishPacket;
      got.push(p);
      raw.send({ cmd: 'puback', messageId: p.messageId as number });
    }
    // only one alias allowed: `ta/second` goes by name [MQTT-3.3.2-10]
    expect(got.map((p) => [p.topic, p.properties?.topicAlias, p.payload.toString()])).toEqual([
      ['ta/first', 1, 'ta/first'],
      ['ta/second', undefined, 'ta/second'],
      ['', 1, 'ta/first'],
    ]);
    // a client that announces none gets none [MQTT-3.3.2-11] (the test above: `topicAlias` undefined)
  });

  it('carries user properties, content type, response topic and correlation data to the subscriber unchanged', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    const sub = await inboxClient(res, url, V5);
    await sub.client.subscribeAsync('props/#', { qos: 1 });
    const pub = await inboxClient(res, url, V5);
    const properties = {
      payloadFormatIndicator: true,
      contentType: 'application/json',
      responseTopic: 'props/reply',
      correlationData: Buffer.from([0, 1, 2, 0xff]),
      userProperties: { site: 'edge-7', tag: ['a', 'b'] },
    };
    await pub.client.publishAsync('props/x', '{"v":1}', { qos: 1, properties });
    await sub.until((p) => p.length === 1);
    expect(sub.packets[0]?.properties).toEqual(properties);
  });
});

describe('flow control', () => {
  it('answers a publish outside the pub permits with PUBACK 0x87 and keeps the connection', async () => {
    const hub = await res.hub(seedConfig({ principals: [seedConfig().principals[0], LIMITED] }));
    const watcher = await inboxClient(res, urlOf(hub, 'tcp'), V5);
    await watcher.client.subscribeAsync('#', { qos: 1 });
    const raw = await rawSocket(res, hub, 5);
    await raw.connect({ username: 'limited', password: Buffer.from('pw') });
    const publish = { cmd: 'publish', qos: 1, dup: false, retain: false, payload: Buffer.from('x') } as const;
    raw.send({ ...publish, topic: 'forbidden/x', messageId: 1 });
    expect((await raw.next('puback')) as IPubackPacket).toMatchObject({ messageId: 1, reasonCode: 0x87 });
    raw.send({ ...publish, topic: 'allowed/x', messageId: 2 });
    const ok = (await raw.next('puback')) as IPubackPacket;
    expect(ok.messageId).toBe(2);
    expect(ok.reasonCode ?? 0).toBe(0);
    await watcher.until((p) => p.length === 1);
    expect(watcher.packets.map((p) => p.topic)).toEqual(['allowed/x']);
    expect(raw.isClosed).toBe(false);
  });

  it('Receive Maximum 2: a subscriber that does not acknowledge has at most 2 in flight', async () => {
    const hub = await res.hub(seedConfig());
    const raw = await rawSocket(res, hub, 5);
    await raw.connect({ clientId: 'rm2', properties: { receiveMaximum: 2 } });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rm/#', qos: 1 }] });
    await raw.next('suback');
    const pub = await inboxClient(res, urlOf(hub, 'tcp'), V5);
    for (let i = 1; i <= 5; i++) await pub.client.publishAsync('rm/x', String(i), { qos: 1 });
    const first = [(await raw.next('publish')) as IPublishPacket, (await raw.next('publish')) as IPublishPacket];
    expect(first.map((p) => p.payload.toString())).toEqual(['1', '2']);
    await settle(300);
    expect(raw.count('publish')).toBe(0);
    raw.send({ cmd: 'puback', messageId: first[1]?.messageId as number });
    expect(((await raw.next('publish')) as IPublishPacket).payload.toString()).toBe('3');
    await settle(100);
    expect(raw.count('publish')).toBe(0);
  });
});
