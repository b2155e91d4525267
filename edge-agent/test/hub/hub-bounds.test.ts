import { SEED_LOGIN } from '@tether/test-helpers/seed';
import { waitFor } from '@tether/test-helpers/wait-for';
import type { IPublishPacket, ISubackPacket } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { Resources, seedConfig, urlOf } from './hub-fixtures.js';
import { inboxClient, rawSocket, remainingLength, settle } from './raw-mqtt.js';

/** The hub's `limits:` as a user sees them: real sockets, one bound at a time. */

const res = new Resources();
afterEach(() => res.run());

describe('limits.packetsize', () => {
  it('closes a connection whose PUBLISH announces 255 MiB, from the fixed header alone', async () => {
    const hub = await res.hub(seedConfig());
    const raw = await rawSocket(res, hub);
    expect((await raw.connect()).returnCode).toBe(0);
    // fixed header only: PUBLISH QoS 0, Remaining Length 255 MiB; the body is never sent
    raw.send(Buffer.concat([Buffer.from([0x30]), remainingLength(255 * 1024 * 1024)]));
    await raw.waitClosed();
    expect(hub.broker.stats.tooLarge).toBe(1);
  });
});

describe('limits.connections', () => {
  it('closes a third socket while the two connected clients stay usable', async () => {
    const hub = await res.hub(seedConfig({ limits: { connections: 2 } }));
    const url = urlOf(hub, 'tcp');
    const a = await inboxClient(res, url, SEED_LOGIN);
    const b = await inboxClient(res, url, SEED_LOGIN);
    await a.client.subscribeAsync('c/#', { qos: 1 });
    const third = await rawSocket(res, hub);
    await third.waitClosed();
    expect(third.packets).toEqual([]);
    await b.client.publishAsync('c/1', 'still here', { qos: 1 });
    await a.until((p) => p.length === 1);
    expect(a.payloads('c/1')).toEqual(['still here']);
    expect(a.client.connected && b.client.connected).toBe(true);
  });
});

describe('limits.connecttimeout', () => {
  it('closes a socket that sends no CONNECT', async () => {
    const hub = await res.hub(seedConfig({ limits: { connecttimeout: '300ms' } }));
    const silent = await rawSocket(res, hub);
    await silent.waitClosed(5_000);
    expect(silent.packets).toEqual([]);
  });
});

describe('limits.subscriptions', () => {
  for (const version of [4, 5] as const) {
    it(`refuses a third filter with SUBACK ${version === 5 ? '0x97' : '0x80'} (MQTT ${version === 5 ? '5' : '3.1.1'})`, async () => {
      const hub = await res.hub(seedConfig({ limits: { subscriptions: 2 } }));
      const raw = await rawSocket(res, hub, version);
      await raw.connect();
      const granted: Array<number | object> = [];
      for (const [i, topic] of ['s/1', 's/2', 's/3'].entries()) {
        raw.send({ cmd: 'subscribe', messageId: i + 1, subscriptions: [{ topic, qos: 1 }] });
        granted.push(...((await raw.next('suback')) as ISubackPacket).granted);
      }
      expect(granted).toEqual([1, 1, version === 5 ? 0x97 : 0x80]);
      // subscribing again to a filter it has is a replacement, not a new one
      raw.send({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 's/1', qos: 0 }] });
      expect(((await raw.next('suback')) as ISubackPacket).granted).toEqual([0]);
      expect(raw.isClosed).toBe(false);
    });
  }
});

describe('limits.queue', () => {
  for (const [policy, expected] of [
    ['drop-oldest', ['4', '5', '6', '7', '8']],
    ['drop-new', ['1', '2', '3', '4', '5']],
  ] as const) {
    it(`keeps 5 of 8 QoS 1 messages for an offline session (${policy})`, async () => {
      const hub = await res.hub(seedConfig({ limits: { queue: { messages: 5, policy } } }));
      const url = urlOf(hub, 'tcp');
      const device = { ...SEED_LOGIN, clientId: 'queued-device', clean: false };
      const first = await inboxClient(res, url, device);
      await first.client.subscribeAsync('q/#', { qos: 1 });
      await first.client.endAsync();
      const pub = await inboxClient(res, url, SEED_LOGIN);
      for (let i = 1; i <= 8; i++) await pub.client.publishAsync('q/x', String(i), { qos: 1 });
      const again = await inboxClient(res, url, device);
      expect(again.connack.sessionPresent).toBe(true);
      await again.until((p) => p.length >= 5);
      // a marker behind them: nothing else was waiting
      await pub.client.publishAsync('q/marker', 'm', { qos: 1 });
      await again.until((p) => p.some((m) => m.topic === 'q/marker'));
      expect(again.payloads('q/x')).toEqual(expected);
    });
  }
});

describe('limits.inflight', () => {
  it('sends a subscriber that does not acknowledge at most 3 QoS 1 messages, the next one after a PUBACK', async () => {
    const hub = await res.hub(seedConfig({ limits: { inflight: 3 } }));
    const raw = await rawSocket(res, hub);
    await raw.connect({ clientId: 'no-acks' });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'w/#', qos: 1 }] });
    await raw.next('suback');
    const pub = await inboxClient(res, urlOf(hub, 'tcp'), SEED_LOGIN);
    for (let i = 1; i <= 10; i++) await pub.client.publishAsync('w/x', String(i), { qos: 1 });
    const first = [];
    for (let i = 0; i < 3; i++) first.push((await raw.next('publish')) as IPublishPacket);
    expect(first.map((p) => p.payload.toString())).toEqual(['1', '2', '3']);
    // the other seven were acknowledged to their publisher; none goes out before an ack
    await settle(300);
    expect(raw.count('publish')).toBe(0);
    raw.send({ cmd: 'puback', messageId: first[0]?.messageId as number });
    expect(((await raw.next('publish')) as IPublishPacket).payload.toString()).toBe('4');
    await settle(100);
    expect(raw.count('publish')).toBe(0);
  });
});

describe('a subscriber that stops reading (limits.outbuffer, limits.writetimeout)', () => {
  it('does not hold up other clients and is disconnected', async () => {
    const hub = await res.hub(seedConfig({ limits: { outbuffer: '64KB', writetimeout: '1s' } }));
    const url = urlOf(hub, 'tcp');
    const stuck = await rawSocket(res, hub);
    await stuck.connect({ clientId: 'stuck' });
    stuck.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos: 0 }] });
    await stuck.next('suback');
    stuck.stopReading();
    const probe = await inboxClient(res, url, SEED_LOGIN);
    await probe.client.subscribeAsync('probe', { qos: 0 });
    const pub = await inboxClient(res, url, SEED_LOGIN);
    const kib = Buffer.alloc(1024, 'x');
    const slowDrops = () => hub.broker.stats.drops.get('slow-client') ?? 0;
    // flood until the hub's own buffer for it is over limits.outbuffer (the kernel's buffers
    // take the first megabytes); a QoS 1 publish after each batch: the hub has read the batch
    const deadline = Date.now() + 8_000;
    let sent = 0;
    while (slowDrops() < 100 && !stuck.isClosed) {
      if (Date.now() > deadline) throw new Error(`no slow-client drops after ${sent} KiB`);
      for (let i = 0; i < 500; i++) pub.client.publish('flood/x', kib, { qos: 0 });
      await pub.client.publishAsync('flood/batch', 'b', { qos: 1 });
      sent += 500;
    }
    // the stuck client's messages are dropped now; the others' still flow
    for (let i = 0; i < 20; i++) pub.client.publish('probe', String(i), { qos: 0 });
    await probe.until((p) => p.length === 20, 5_000, '20 probe messages');
    expect(probe.payloads('probe')).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    // disconnected by the hub; the kernel still holds megabytes for it, so the client sees the
    // close once it reads what was sent before it
    await waitFor(() => hub.broker.stats.slowDisconnects === 1, {
      what: 'the slow-client disconnect',
      timeoutMs: 10_000,
      intervalMs: 5,
    });
    expect(hub.broker.status().clientsConnected).toBe(2);
    stuck.socket.resume();
    await stuck.waitClosed(5_000);
    await pub.client.publishAsync('probe', 'after', { qos: 1 });
    await probe.until((p) => p.length === 21);
  }, 20_000);
});
