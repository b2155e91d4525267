import { type NetConnectOpts, connect as netConnect, type Socket } from 'node:net';
import { freePort } from '@tether/test-helpers/ports';
import { sleep, waitFor } from '@tether/test-helpers/wait-for';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { describeConnectError } from '../../../src/transport/describe-error.js';
import { LeanMqttClient } from '../../../src/transport/lean/lean-client.js';
import type { LeanConnectOptions, MqttError } from '../../../src/transport/lean/types.js';
import { Resources } from './brokers.js';

const res = new Resources();
afterEach(() => res.run());

function options(port: number, extra: Partial<LeanConnectOptions> = {}): LeanConnectOptions {
  return {
    stream: () => netConnect({ host: '127.0.0.1', port }),
    clientId: 'lean-test',
    clean: true,
    keepaliveSec: 30,
    protocolVersion: 4,
    connectTimeoutMs: 3_000,
    onMessage: () => {},
    ...extra,
  };
}

async function connectError(opts: LeanConnectOptions): Promise<MqttError> {
  const error = await LeanMqttClient.connect(opts).then(
    (client) => {
      void client.end(false);
      throw new Error('connected, but a refusal was expected');
    },
    (e: unknown) => e as MqttError,
  );
  return error;
}

interface Peer {
  readonly socket: Socket;
  readonly packets: Packet[];
  send(packet: Packet | Buffer): void;
}

/** A hand-driven broker: answers CONNECT with CONNACK (unless told not to) and records every packet. */
async function fakeBroker(
  protocolVersion: 4 | 5 = 4,
  answer: 'connack' | 'silent' | 'close' = 'connack',
): Promise<{ port: number; peer: Promise<Peer> }> {
  let found: (peer: Peer) => void = () => {};
  const peer = new Promise<Peer>((resolve) => {
    found = resolve;
  });
  const port = await res.rawServer((socket) => {
    const packets: Packet[] = [];
    const p: Peer = {
      socket,
      packets,
      send: (packet) =>
        socket.write(Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet, { protocolVersion })),
    };
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (packet) => {
      packets.push(packet);
      if (packet.cmd !== 'connect') return;
      if (answer === 'close') socket.destroy();
      if (answer === 'connack') {
        p.send({
          cmd: 'connack',
          sessionPresent: false,
          ...(protocolVersion === 5 ? { reasonCode: 0 } : { returnCode: 0 }),
        });
      }
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    found(p);
  });
  return { port, peer };
}

/** QoS 1 PUBLISH number `n` on topic p: payload and packet id are both n, so order is checkable. */
const numberedQos1 = (n: number): Packet => ({
  cmd: 'publish',
  topic: 'p',
  payload: String(n),
  qos: 1,
  dup: false,
  retain: false,
  messageId: n,
});

const acksOf = (peer: Peer, cmd: string) => peer.packets.filter((p) => p.cmd === cmd).map((p) => p.messageId);

describe('LeanMqttClient connect', () => {
  it('connects to aedes and reports the CONNACK', async () => {
    const { broker, port } = await res.aedes();
    const connected = new Promise<string>((resolve) => broker.once('clientReady', (c) => resolve(c.id)));
    const { client } = await res.lean(port, { clientId: 'lean-a' });
    expect(client.connected).toBe(true);
    expect(client.sessionPresent).toBe(false);
    expect(await connected).toBe('lean-a');
  });

  it('passes the credentials and rejects a refusal with the CONNACK return code', async () => {
    const seen: Array<[string | undefined, string | undefined]> = [];
    const { port } = await res.aedes({
      authenticate: (_client, username, password, done) => {
        seen.push([username, password?.toString()]);
        if (username === 'baduser') {
          return done(Object.assign(new Error('bad'), { returnCode: 4 as const }), null);
        }
        done(null, false);
      },
    });
    const refused = await connectError(options(port, { username: 'u', password: 'p' }));
    expect(refused.code).toBe(5);
    expect(describeConnectError(refused, 'tcp://x').code).toBe('TETHER_ERR_AUTH');
    const badCredentials = await connectError(options(port, { username: 'baduser', password: 'nope' }));
    expect(badCredentials.code).toBe(4);
    expect(seen).toEqual([
      ['u', 'p'],
      ['baduser', 'nope'],
    ]);
  });

  it('rejects with ECONNREFUSED when nothing listens', async () => {
    const port = await freePort();
    const error = await connectError(options(port));
    expect(error.code).toBe('ECONNREFUSED');
  });

  it("rejects with 'closed before CONNACK' when the server hangs up", async () => {
    const { port } = await fakeBroker(4, 'close');
    const error = await connectError(options(port));
    expect(error.message).toBe('closed before CONNACK');
  });

  it('gives up after connectTimeoutMs without a CONNACK', async () => {
    const { port } = await fakeBroker(4, 'silent');
    const started = Date.now();
    const error = await connectError(options(port, { connectTimeoutMs: 200 }));
    expect(error.code).toBe('ETIMEDOUT');
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('LeanMqttClient with aedes', () => {
  it('publishes QoS 0 and 1 and receives its own subscription', async () => {
    const { port } = await res.aedes();
    const { client, received } = await res.lean(port);
    expect(await client.subscribe([{ topic: 'a/#', qos: 1 }])).toEqual([1]);
    await client.publish('a/0', Buffer.from('zero'), { qos: 0, retain: false });
    await client.publish('a/1', Buffer.from('one'), { qos: 1, retain: false });
    await waitFor(() => received.length === 2, { what: 'two messages', intervalMs: 10 });
    expect(received.map((m) => [m.topic, m.payload.toString(), m.qos])).toEqual([
      ['a/0', 'zero', 0],
      ['a/1', 'one', 1],
    ]);
  });

  it('returns 0x80 for a refused filter instead of rejecting', async () => {
    const { port } = await res.aedes({
      authorizeSubscribe: (_client, sub, done) => done(null, sub.topic.startsWith('secret/') ? null : sub),
    });
    const { client } = await res.lean(port);
    expect(
      await client.subscribe([
        { topic: 'open/#', qos: 1 },
        { topic: 'secret/#', qos: 1 },
      ]),
    ).toEqual([1, 0x80]);
  });

  it('sends PUBACKs in the order the messages arrived, whatever order ack() is called in', async () => {
    const pubacks: number[] = [];
    const { port } = await res.aedes({}, (packet) => {
      if (packet.cmd === 'puback') pubacks.push(packet.messageId ?? -1);
    });
    const { client, received, acks } = await res.lean(port, { ack: false });
    await client.subscribe([{ topic: 'ord', qos: 1 }]);
    const publisher = await res.mqttjs(port);
    for (let i = 0; i < 5; i++) await publisher.publishAsync('ord', String(i), { qos: 1 });
    await waitFor(() => received.length === 5, { what: 'five messages', intervalMs: 10 });
    // the parser's packet is what onMessage gets: its messageId is the broker's id for it
    const arrived = received.map((m) => (m as unknown as { messageId: number }).messageId);
    for (const i of [3, 1, 4]) acks[i]?.();
    await sleep(100);
    expect(pubacks).toEqual([]); // message 0 is not acked: nothing may be released
    acks[0]?.();
    await waitFor(() => pubacks.length === 2, { what: 'PUBACKs for 0 and 1', intervalMs: 10 });
    acks[2]?.();
    await waitFor(() => pubacks.length === 5, { what: 'all PUBACKs', intervalMs: 10 });
    expect(pubacks).toEqual(arrived);
    expect(received.map((m) => m.payload.toString())).toEqual(['0', '1', '2', '3', '4']);
    expect(client.pendingAcks).toBe(0);
  });

  it('sends PINGREQ when idle for keepaliveSec', async () => {
    const { broker, port } = await res.aedes();
    let pings = 0;
    broker.on('ping', () => pings++);
    await res.lean(port, { keepaliveSec: 1 });
    await waitFor(() => pings >= 2, { what: 'two PINGREQs', timeoutMs: 4_000, intervalMs: 10 });
  });

  it('ends gracefully with DISCONNECT, idempotently, and rejects later work with ECONNCLOSED', async () => {
    const { broker, port } = await res.aedes();
    const disconnected = new Promise<void>((resolve) => broker.once('clientDisconnect', () => resolve()));
    const { client } = await res.lean(port);
    const closes: Array<Error | undefined> = [];
    client.on('close', (error) => closes.push(error));
    const ending = client.end();
    expect(client.end()).toBe(ending);
    await ending;
    await disconnected;
    expect(closes).toEqual([undefined]);
    await expect(client.publish('t', Buffer.from('x'), { qos: 1, retain: false })).rejects.toMatchObject({
      code: 'ECONNCLOSED',
    });
    const late = await new Promise<Error | undefined>((resolve) => client.on('close', resolve));
    expect(late).toBeUndefined();
  });
});

describe('LeanMqttClient against a hand-driven broker', () => {
  it('holds every PUBACK until ack() and keeps them in arrival order', async () => {
    const { port, peer: peerP } = await fakeBroker();
    const { acks } = await res.lean(port, { ack: false });
    const peer = await peerP;
    const ids = [11, 12, 13, 14, 15];
    peer.send(
      Buffer.concat(
        ids.map((messageId) =>
          mqttPacket.generate({
            cmd: 'publish',
            topic: 't',
            payload: 'x',
            qos: 1,
            dup: false,
            retain: false,
            messageId,
          }),
        ),
      ),
    );
    await waitFor(() => acks.length === 5, { what: 'five deliveries', intervalMs: 10 });
    for (const i of [2, 4, 1]) acks[i]?.();
    await sleep(100);
    expect(acksOf(peer, 'puback')).toEqual([]);
    acks[0]?.();
    await waitFor(() => acksOf(peer, 'puback').length === 3, { what: 'three PUBACKs', intervalMs: 10 });
    acks[3]?.();
    await waitFor(() => acksOf(peer, 'puback').length === 5, { what: 'five PUBACKs', intervalMs: 10 });
    expect(acksOf(peer, 'puback')).toEqual(ids);
  });

  it('QoS 2: one delivery per id, PUBREC on ack and for a DUP re-send, PUBCOMP on PUBREL', async () => {
    const { port, peer: peerP } = await fakeBroker();
    const { received, acks } = await res.lean(port, { ack: false });
    const peer = await peerP;
    const publish = (dup: boolean) =>
      mqttPacket.generate({ cmd: 'publish', topic: 'q2', payload: 'x', qos: 2, dup, retain: false, messageId: 9 });
    peer.send(publish(false));
    peer.send(publish(true));
    await waitFor(() => received.length === 1, { what: 'one delivery', intervalMs: 10 });
    await sleep(50);
    expect(acksOf(peer, 'pubrec')).toEqual([]);
    acks[0]?.();
    await waitFor(() => acksOf(peer, 'pubrec').length === 1, { what: 'PUBREC', intervalMs: 10 });
    peer.send(publish(true));
    await waitFor(() => acksOf(peer, 'pubrec').length === 2, { what: 'PUBREC for the re-send', intervalMs: 10 });
    peer.send({ cmd: 'pubrel', messageId: 9 });
    await waitFor(() => acksOf(peer, 'pubcomp').length === 1, { what: 'PUBCOMP', intervalMs: 10 });
    expect(received).toHaveLength(1);
  });

  it('keeps parsing while acks are pending but pauses at maxPendingAcks', async () => {
    const { port, peer: peerP } = await fakeBroker();
    const { client, received, acks } = await res.lean(port, { ack: false, maxPendingAcks: 5 });
    const peer = await peerP;
    for (let messageId = 1; messageId <= 30; messageId++) {
      peer.send(numberedQos1(messageId));
      await sleep(5); // separate TCP segments: the pause acts between reads
    }
    await sleep(100);
    expect(client.readPaused).toBe(true);
    expect(received.length).toBeGreaterThanOrEqual(5);
    expect(received.length).toBeLessThan(15);
    for (let i = 0; i < 30; i++) {
      await waitFor(() => acks.length > i, { what: `delivery ${i + 1}`, intervalMs: 10 });
      acks[i]?.();
    }
    await waitFor(() => acksOf(peer, 'puback').length === 30, { what: 'all PUBACKs', intervalMs: 10 });
    expect(received.map((m) => m.payload.toString())).toEqual(Array.from({ length: 30 }, (_, i) => String(i + 1)));
    expect(client.readPaused).toBe(false);
  });

  it('read pacing and ack back-pressure together: everything arrives in order, every PUBACK goes out, reading ends unpaused', async () => {
    const { port, peer: peerP } = await fakeBroker();
    let pauses = 0;
    const { client, received, acks } = await res.lean(port, {
      ack: false,
      maxPendingAcks: 20,
      readPauseMs: 1,
      // as stream-builder.ts opens tcp: a 1-byte readable mark, so pause() stops reading
      stream: () => {
        const socket = netConnect({
          host: '127.0.0.1',
          port,
          noDelay: true,
          readableHighWaterMark: 1,
        } as NetConnectOpts);
        const pause = socket.pause.bind(socket);
        socket.pause = () => {
          pauses++;
          return pause();
        };
        return socket;
      },
    });
    const peer = await peerP;
    // the consumer acks a little later, in batches (as a group commit would)
    let acked = 0;
    const acker = setInterval(() => {
      while (acked < acks.length) acks[acked++]?.();
    }, 2);
    res.keep(acker, clearInterval);
    const count = 3_000;
    for (let messageId = 1; messageId <= count; messageId++) {
      peer.send(numberedQos1(messageId));
      // one small segment each, back to back: the pattern that turns pacing on
      if (messageId % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => acksOf(peer, 'puback').length === count, {
      what: 'every PUBACK',
      timeoutMs: 8_000,
      intervalMs: 10,
    });
    expect(pauses).toBeGreaterThan(0);
    expect(received.map((m) => m.payload.toString())).toEqual(Array.from({ length: count }, (_, i) => String(i + 1)));
    expect(acksOf(peer, 'puback')).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(client.readPaused).toBe(false);
  });

  it('destroys the connection on malformed input with a clear error', async () => {
    const { port, peer: peerP } = await fakeBroker();
    const { client } = await res.lean(port);
    const closed = new Promise<Error | undefined>((resolve) => client.on('close', resolve));
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    (await peerP).send(Buffer.from([0x36, 0x00])); // PUBLISH with both QoS bits set
    const error = (await closed) as MqttError;
    expect(error.message).toMatch(/malformed packet from the broker/);
    expect(error.code).toBe('EPROTO');
    expect(errors).toEqual([error]);
  });

  it('closes on a v5 server DISCONNECT with its reason code; pending publishes reject with ECONNCLOSED', async () => {
    const { port, peer: peerP } = await fakeBroker(5);
    const { client } = await res.lean(port, { protocolVersion: 5 });
    const peer = await peerP;
    const closed = new Promise<Error | undefined>((resolve) => client.on('close', resolve));
    const pending = client.publish('t', Buffer.from('x'), { qos: 1, retain: false });
    await waitFor(() => peer.packets.some((p) => p.cmd === 'publish'), { what: 'the PUBLISH', intervalMs: 10 });
    peer.send({ cmd: 'disconnect', reasonCode: 0x8b });
    await expect(pending).rejects.toMatchObject({ code: 'ECONNCLOSED' });
    expect(((await closed) as MqttError).reasonCode).toBe(0x8b);
  });

  it('rejects an MQTT 5 PUBACK with a reason code >= 0x80, carrying the reason code', async () => {
    const { port, peer: peerP } = await fakeBroker(5);
    const { client } = await res.lean(port, { protocolVersion: 5 });
    const peer = await peerP;
    const refused = client.publish('t', Buffer.from('x'), { qos: 1, retain: false });
    await waitFor(() => peer.packets.some((p) => p.cmd === 'publish'), { what: 'the PUBLISH', intervalMs: 10 });
    peer.send({
      cmd: 'puback',
      messageId: peer.packets.find((p) => p.cmd === 'publish')?.messageId ?? 0,
      reasonCode: 0x87,
    });
    await expect(refused).rejects.toMatchObject({ reasonCode: 0x87, message: /not authorized/ });
    expect(client.connected).toBe(true);
  });

  it('resolves MQTT 5 topic aliases sent by the server', async () => {
    const { port, peer: peerP } = await fakeBroker(5);
    const { received } = await res.lean(port, { protocolVersion: 5, topicAliasMaximum: 10 });
    const peer = await peerP;
    const connect = peer.packets.find((p) => p.cmd === 'connect');
    expect(connect?.cmd === 'connect' && connect.properties).toMatchObject({
      topicAliasMaximum: 10,
      receiveMaximum: 1000,
    });
    peer.send({
      cmd: 'publish',
      topic: 'long/topic',
      payload: 'a',
      qos: 0,
      dup: false,
      retain: false,
      properties: { topicAlias: 3 },
    });
    peer.send({
      cmd: 'publish',
      topic: '',
      payload: 'b',
      qos: 0,
      dup: false,
      retain: false,
      properties: { topicAlias: 3 },
    });
    await waitFor(() => received.length === 2, { what: 'two messages', intervalMs: 10 });
    expect(received.map((m) => [m.topic, m.payload.toString()])).toEqual([
      ['long/topic', 'a'],
      ['long/topic', 'b'],
    ]);
  });

  it('closes when no PINGRESP comes within 1.5 × keepalive', async () => {
    const { port } = await fakeBroker();
    const { client } = await res.lean(port, { keepaliveSec: 1 });
    const closed = new Promise<Error | undefined>((resolve) => client.on('close', resolve));
    const error = (await Promise.race([closed, sleep(5_000).then(() => new Error('still open'))])) as MqttError;
    expect(error.code).toBe('ETIMEDOUT');
    expect(error.message).toMatch(/PINGREQ/);
  });
});
