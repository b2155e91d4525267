import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { silentLogger } from '@tether/node-shared/logging';
import { HubConfigSchema, TetherError } from '@tether/shared';
import { SEED_LOGIN, SEED_PRINCIPAL } from '@tether/test-helpers/seed';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedHub } from '../../src/hub/embedded-hub.js';
import { hashPassword } from '../../src/hub/password-hash.js';
import { closed, Resources, record, seedConfig, urlOf } from './hub-fixtures.js';

const res = new Resources();
afterEach(() => res.run());

const LIMITED = {
  username: 'limited',
  password: 'pw',
  permissions: [
    { action: 'pub', permit: ['allowed/#'] },
    { action: 'sub', permit: ['allowed/#', 'marker'] },
  ],
};

describe('EmbeddedHub over tcp://', () => {
  it('serves the seed config: test/hahaha may publish and subscribe #', async () => {
    const hub = await res.hub(seedConfig());
    const url = urlOf(hub, 'tcp');
    expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const sub = await res.client(url, SEED_LOGIN);
    const inbox = record(sub);
    await sub.subscribeAsync('t1', { qos: 1 });
    const pub = await res.client(url, SEED_LOGIN);
    await pub.publishAsync('t1', 'hello', { qos: 1 });
    const got = await inbox.next('t1');
    expect(got).toMatchObject({ payload: 'hello', qos: 1 });
  });

  it('refuses a bad password with CONNACK 4 and never logs the password', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const hub = await res.hub(seedConfig(), pino({ level: 'debug' }, sink));
    const attempt = res.client(urlOf(hub, 'tcp'), { username: 'test', password: 'not-the-password' });
    await expect(attempt).rejects.toMatchObject({ code: 4 });
    const noUser = res.client(urlOf(hub, 'tcp'));
    await expect(noUser).rejects.toMatchObject({ code: 5 });
    const log = lines.join('');
    expect(log).toContain('hub refused CONNECT');
    expect(log).not.toContain('not-the-password');
    expect(log).not.toContain(SEED_LOGIN.password);
  });

  it('accepts a hashed password', async () => {
    const principals = [{ ...SEED_PRINCIPAL, password: hashPassword(SEED_LOGIN.password) }];
    const hub = await res.hub(seedConfig({ principals }));
    const client = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    expect(client.connected).toBe(true);
    await expect(res.client(urlOf(hub, 'tcp'), { username: 'test', password: 'hahah' })).rejects.toMatchObject({
      code: 4,
    });
  });

  it('acknowledges and drops a publish outside the pub permits; the publisher stays connected', async () => {
    const hub = await res.hub(seedConfig({ principals: [seedConfig().principals[0], LIMITED] }));
    const url = urlOf(hub, 'tcp');
    const watcher = await res.client(url, SEED_LOGIN);
    const inbox = record(watcher);
    await watcher.subscribeAsync('#', { qos: 1 });
    const limited = await res.client(url, { username: 'limited', password: 'pw' });
    await limited.publishAsync('allowed/x', 'ok', { qos: 1 });
    await inbox.next('allowed/x');
    // like Mosquitto: PUBACK (so the device does not resend it forever), not delivered [MQTT-3.3.5-2]
    await limited.publishAsync('forbidden/x', 'nope', { qos: 1 });
    await limited.publishAsync('allowed/after', 'still connected', { qos: 1 });
    await inbox.next('allowed/after');
    expect(limited.connected).toBe(true);
    expect(inbox.messages.map((m) => m.topic)).not.toContain('forbidden/x');
  });

  it('refuses client publishes to $SYS/: acknowledged (5.0: 0x87), never delivered, counted, connection kept', async () => {
    // no principals: anyone may subscribe to $SYS/#, and still nobody may publish there
    const hub = await res.hub(HubConfigSchema.parse({ listen: ['tcp://127.0.0.1:0'] }));
    const watcher = await res.client(urlOf(hub, 'tcp'));
    const inbox = record(watcher);
    await watcher.subscribeAsync('$SYS/#', { qos: 1 });
    await watcher.subscribeAsync('marker', { qos: 1 });
    const client = await res.client(urlOf(hub, 'tcp'));
    const v5 = await res.client(urlOf(hub, 'tcp'), { protocolVersion: 5 });
    // 3.1.1 has no way to say no: a plain PUBACK; 5.0 is told "not authorized"
    await client.publishAsync('$SYS/fake', 'x', { qos: 1 });
    await expect(v5.publishAsync('$SYS/fake', 'y', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    await client.publishAsync('marker', 'm', { qos: 1 });
    await inbox.next('marker');
    const topics = inbox.messages.map((m) => m.topic);
    expect(topics).not.toContain('$SYS/fake');
    expect(hub.broker.stats.drops.get('not-authorized')).toBe(2); // tether_hub_dropped_total{reason="not-authorized"}
    expect([client.connected, v5.connected]).toEqual([true, true]);
    // the hub's own statistics are there, retained, under Mosquitto's names
    expect(topics).toContain('$SYS/broker/clients/connected');
    expect(inbox.messages.find((m) => m.topic === '$SYS/broker/clients/connected')?.retain).toBe(true);
  });

  it('answers a subscribe outside the sub permits with SUBACK 0x80 and keeps the connection', async () => {
    const hub = await res.hub(seedConfig({ principals: [LIMITED] }));
    const client = await res.client(urlOf(hub, 'tcp'), { username: 'limited', password: 'pw' });
    // MQTT.js rejects subscribeAsync when any granted QoS is 0x80; the SUBACK rides on the error
    const suback = await client
      .subscribeAsync({ 'allowed/+': { qos: 1 }, 'secret/#': { qos: 1 }, '#': { qos: 0 } })
      .then(() => undefined)
      .catch((err: { packet?: { granted?: number[] } }) => err.packet);
    expect(suback?.granted).toEqual([1, 128, 128]);
    const inbox = record(client);
    await client.publishAsync('allowed/y', 'still here', { qos: 1 });
    expect((await inbox.next('allowed/y')).payload).toBe('still here');
  });

  it('enforces message.length.max on the payload', async () => {
    const hub = await res.hub(seedConfig({ message: { length: { max: '1k' } } }));
    expect(hub.maxMessageBytes).toBe(1024);
    const client = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    const inbox = record(client);
    await client.subscribeAsync('#', { qos: 1 });
    await client.publishAsync('small', Buffer.alloc(1024), { qos: 1 });
    await client.publishAsync('big', Buffer.alloc(1025), { qos: 1 }); // acknowledged and dropped
    await client.publishAsync('marker', 'm', { qos: 1 });
    await inbox.next('marker');
    expect(inbox.messages.map((m) => [m.topic, m.payload.length])).toEqual([
      ['small', 1024],
      ['marker', 1],
    ]);
  });

  it('lets anyone in when no principals are configured', async () => {
    const hub = await res.hub(HubConfigSchema.parse({ listen: ['tcp://127.0.0.1:0'] }));
    const client = await res.client(urlOf(hub, 'tcp'));
    const inbox = record(client);
    await client.subscribeAsync('any/#');
    await client.publishAsync('any/thing', 'x');
    await inbox.next('any/thing');
  });
});

describe('EmbeddedHub listeners', () => {
  it('serves MQTT over ws:// on the configured path', async () => {
    const hub = await res.hub(seedConfig({ listen: ['ws://127.0.0.1:0/mqtt', 'tcp://127.0.0.1:0'] }));
    const wsUrl = urlOf(hub, 'ws');
    expect(wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    const ws = await res.client(wsUrl, SEED_LOGIN);
    const inbox = record(ws);
    await ws.subscribeAsync('over/ws', { qos: 1 });
    const tcp = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    await tcp.publishAsync('over/ws', 'from tcp', { qos: 1 });
    expect((await inbox.next('over/ws')).payload).toBe('from tcp');
    // a path other than the configured one is refused at the HTTP upgrade (400)
    const wrongPath = mqtt.connect(wsUrl.replace(/\/mqtt$/, '/other'), {
      reconnectPeriod: 0,
      ...SEED_LOGIN,
    });
    res.keep(wrongPath, (c) => c.endAsync(true));
    let connected = false;
    wrongPath.on('connect', () => {
      connected = true;
    });
    await closed(wrongPath);
    expect(connected).toBe(false);
  });

  it('reports a port in use as TETHER_ERR_LISTEN naming the address', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    res.keep(blocker, (s) => new Promise((r) => s.close(r)));
    const port = (blocker.address() as { port: number }).port;
    const hub = new EmbeddedHub(seedConfig({ listen: [`tcp://127.0.0.1:${port}`] }), {
      logger: silentLogger(),
      configDir: '.',
    });
    res.keep(hub, (h) => h.stop());
    const err = await hub.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TetherError);
    expect(err).toMatchObject({ code: 'TETHER_ERR_LISTEN' });
    expect((err as Error).message).toContain(`tcp://127.0.0.1:${port}`);
  });

  it('reports an unreadable certificate file as TETHER_ERR_CONFIG_FILE naming the field', async () => {
    const dir = res.tempDir();
    const config = seedConfig({
      listen: ['ssl://127.0.0.1:0'],
      certificate: { cert: 'missing.pem', key: 'missing.key' },
    });
    const hub = new EmbeddedHub(config, { logger: silentLogger(), configDir: dir });
    res.keep(hub, (h) => h.stop());
    const err = await hub.start().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TETHER_ERR_CONFIG_FILE' });
    expect((err as Error).message).toMatch(/certificate\.cert: cannot read .*missing\.pem/);
  });

  it('stop() is idempotent and closes client connections', async () => {
    const hub = await res.hub(seedConfig());
    const client = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    await Promise.all([hub.stop(), hub.stop()]);
    await closed(client);
    await hub.stop();
  });
});

describe('hub routes (service.yml subscriptions)', () => {
  it('publishes a copy on the target topic with the QoS capped', async () => {
    const subscriptions = [
      { source: { topic: 'src/+', qos: 1 }, target: { topic: 'dst', qos: 1 } },
      { source: { topic: 'src/#', qos: 1 }, target: { topic: 'dst0', qos: 0 } },
    ];
    const hub = await res.hub(seedConfig({ subscriptions }));
    const url = urlOf(hub, 'tcp');
    const sub = await res.client(url, SEED_LOGIN);
    const inbox = record(sub);
    await sub.subscribeAsync({ dst: { qos: 1 }, dst0: { qos: 1 } });
    const pub = await res.client(url, SEED_LOGIN);
    await pub.publishAsync('src/a', 'copied', { qos: 1 });
    expect(await inbox.next('dst')).toMatchObject({ payload: 'copied', qos: 1 });
    expect(await inbox.next('dst0')).toMatchObject({ payload: 'copied', qos: 0 });
  });

  it('does not route a copy again, so a -> b -> a is no loop', async () => {
    const subscriptions = [
      { source: { topic: 'a', qos: 1 }, target: { topic: 'b', qos: 1 } },
      { source: { topic: 'b', qos: 1 }, target: { topic: 'a', qos: 1 } },
    ];
    const hub = await res.hub(seedConfig({ subscriptions }));
    const url = urlOf(hub, 'tcp');
    const sub = await res.client(url, SEED_LOGIN);
    const inbox = record(sub);
    await sub.subscribeAsync('#', { qos: 1 });
    const pub = await res.client(url, SEED_LOGIN);
    await pub.publishAsync('a', 'once', { qos: 1 });
    await inbox.next('b');
    await pub.publishAsync('marker', 'm', { qos: 1 });
    await inbox.next('marker');
    expect(inbox.messages.map((m) => m.topic)).toEqual(['a', 'b', 'marker']);
  });
});
