import { sleep, waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import { describeConnectError } from '../../../src/transport/describe-error.js';
import type { LeanMessage, MqttError } from '../../../src/transport/lean/types.js';
import { Resources } from './brokers.js';

const res = new Resources();
afterEach(() => res.run());

const text = (m: LeanMessage) => m.payload.toString();

describe.each([4, 5] as const)('LeanMqttClient with Mosquitto, MQTT %s', (protocolVersion) => {
  it('publishes QoS 0, 1 and 2 to an mqtt.js subscriber', async () => {
    const { port } = await res.mosquitto();
    const sub = await res.mqttjs(port, { protocolVersion });
    const got: Array<[string, string, number]> = [];
    sub.on('message', (topic, payload, packet) => got.push([topic, payload.toString(), packet.qos]));
    await sub.subscribeAsync('rt/#', { qos: 2 });
    const { client } = await res.lean(port, { protocolVersion });
    for (const qos of [0, 1, 2] as const)
      await client.publish(`rt/${qos}`, Buffer.from(`q${qos}`), { qos, retain: false });
    expect(client.inflight).toBe(0);
    await waitFor(() => got.length === 3, { what: 'three messages at the mqtt.js subscriber', intervalMs: 10 });
    expect(got).toEqual([
      ['rt/0', 'q0', 0],
      ['rt/1', 'q1', 1],
      ['rt/2', 'q2', 2],
    ]);
  });

  it('receives QoS 0, 1 and 2 from an mqtt.js publisher and completes the QoS 2 exchange', async () => {
    const { port } = await res.mosquitto();
    const { client, received } = await res.lean(port, { protocolVersion });
    expect(await client.subscribe([{ topic: 'rt/#', qos: 2 }])).toEqual([2]);
    const pub = await res.mqttjs(port, { protocolVersion });
    for (const qos of [0, 1, 2] as const) await pub.publishAsync(`rt/${qos}`, `q${qos}`, { qos });
    await waitFor(() => received.length === 3, { what: 'three messages', intervalMs: 10 });
    expect(received.map((m) => [m.topic, text(m), m.qos])).toEqual([
      ['rt/0', 'q0', 0],
      ['rt/1', 'q1', 1],
      ['rt/2', 'q2', 2],
    ]);
    // PUBREC → PUBREL → PUBCOMP done: a second QoS 2 message with any id still arrives exactly once
    await pub.publishAsync('rt/2', 'again', { qos: 2 });
    await waitFor(() => received.length === 4, { what: 'the fourth message', intervalMs: 10 });
    await sleep(100);
    expect(received).toHaveLength(4);
    expect(client.pendingAcks).toBe(0);
  });

  it('rejects a refused CONNECT with the return/reason code describeConnectError understands', async () => {
    const { port } = await res.mosquitto(['allow_anonymous false']);
    const error = await res.lean(port, { protocolVersion }).then(
      () => undefined,
      (e: unknown) => e as MqttError,
    );
    expect(error?.code).toBe(protocolVersion === 4 ? 5 : 0x87);
    expect(describeConnectError(error, 'tcp://x').code).toBe('TETHER_ERR_AUTH');
  });

  it('resumes a session: sessionPresent and the queued messages right after CONNACK', async () => {
    const { port } = await res.mosquitto();
    const session = {
      protocolVersion,
      clientId: `persist-${protocolVersion}`,
      clean: false,
      ...(protocolVersion === 5 ? { sessionExpirySec: 60 } : {}),
    };
    const first = await res.lean(port, session);
    await first.client.subscribe([{ topic: 'queued/#', qos: 1 }]);
    await first.client.end();
    const pub = await res.mqttjs(port, { protocolVersion });
    for (let i = 0; i < 3; i++) await pub.publishAsync('queued/x', String(i), { qos: 1 });
    const second = await res.lean(port, session);
    expect(second.client.sessionPresent).toBe(true);
    await waitFor(() => second.received.length === 3, { what: 'the queued messages', intervalMs: 10 });
    expect(second.received.map(text)).toEqual(['0', '1', '2']);
  });
});

describe('LeanMqttClient with Mosquitto', () => {
  it('holds PUBACK until ack(): Mosquitto stops at its inflight window, acking releases the rest in order', async () => {
    const { port } = await res.mosquitto(['max_inflight_messages 20']);
    const { client, received, acks } = await res.lean(port, { ack: false });
    await client.subscribe([{ topic: 'held', qos: 1 }]);
    const pub = await res.mqttjs(port);
    const n = 60;
    await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync('held', String(i), { qos: 1 })));
    await waitFor(() => received.length >= 20, { what: 'the first window', intervalMs: 10 });
    await sleep(300);
    expect(received).toHaveLength(20); // nothing acked, so Mosquitto sends no more
    expect(client.pendingAcks).toBe(20);
    for (const ack of [...acks].reverse()) ack(); // any order; the PUBACKs still go out in arrival order
    for (let i = 20; i < n; i++) {
      await waitFor(() => acks.length > i, { what: `message ${i}`, intervalMs: 10 });
      acks[i]?.();
    }
    await waitFor(() => received.length === n, { what: 'all messages', intervalMs: 10 });
    expect(received.map(text)).toEqual(Array.from({ length: n }, (_, i) => String(i)));
  });

  it('rejects pending publishes with ECONNCLOSED when the broker is killed', async () => {
    const broker = await res.mosquitto();
    const { client } = await res.lean(broker.port);
    const closed = new Promise<Error | undefined>((resolve) => client.on('close', resolve));
    await broker.signal('SIGSTOP'); // no acks from here on
    const pending = [1, 2, 2, 1].map((qos, i) =>
      client.publish('kill', Buffer.from(String(i)), { qos: qos as 1 | 2, retain: false }),
    );
    const outcomes = Promise.allSettled(pending);
    await sleep(50);
    expect(client.inflight).toBe(4);
    await broker.signal('SIGKILL');
    for (const outcome of await outcomes) {
      expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'ECONNCLOSED' } });
    }
    await Promise.race([closed, sleep(3_000)]);
    expect(client.connected).toBe(false);
    await expect(client.publish('kill', Buffer.from('late'), { qos: 1, retain: false })).rejects.toMatchObject({
      code: 'ECONNCLOSED',
    });
  });

  it('MQTT 5 No Local: a publish to a filter subscribed with nl does not come back', async () => {
    const { port } = await res.mosquitto();
    const { client, received } = await res.lean(port, { protocolVersion: 5 });
    expect(
      await client.subscribe([
        { topic: 'nl/echo', qos: 1, nl: true },
        { topic: 'nl/plain', qos: 1 },
      ]),
    ).toEqual([1, 1]);
    const other = await res.mqttjs(port, { protocolVersion: 5 });
    let otherGot = 0;
    other.on('message', () => otherGot++);
    await other.subscribeAsync('nl/echo', { qos: 1 });
    await client.publish('nl/echo', Buffer.from('mine'), { qos: 1, retain: false });
    await client.publish('nl/plain', Buffer.from('marker'), { qos: 1, retain: false });
    await waitFor(() => received.length >= 1 && otherGot === 1, {
      what: 'the marker and the other subscriber',
      intervalMs: 10,
    });
    await sleep(100);
    expect(received.map((m) => m.topic)).toEqual(['nl/plain']); // only the filter without nl echoes
  });

  it('MQTT 5 Retain As Published: a live message keeps its RETAIN flag only with rap', async () => {
    const { port } = await res.mosquitto();
    const { client, received } = await res.lean(port, { protocolVersion: 5 });
    await client.subscribe([
      { topic: 'rap/keep', qos: 1, rap: true },
      { topic: 'rap/drop', qos: 1 },
    ]);
    const pub = await res.mqttjs(port, { protocolVersion: 5 });
    await pub.publishAsync('rap/keep', 'k', { qos: 1, retain: true });
    await pub.publishAsync('rap/drop', 'd', { qos: 1, retain: true });
    await waitFor(() => received.length === 2, { what: 'both messages', intervalMs: 10 });
    expect(received.map((m) => [m.topic, m.retain])).toEqual([
      ['rap/keep', true],
      ['rap/drop', false],
    ]);
  });

  it("MQTT 5: honours the broker's Receive Maximum for its own publishes", async () => {
    const { port } = await res.mosquitto(['max_inflight_messages 5']);
    const { client } = await res.lean(port, { protocolVersion: 5 });
    const sub = await res.mqttjs(port, { protocolVersion: 5 });
    let got = 0;
    sub.on('message', () => got++);
    await sub.subscribeAsync('rm', { qos: 1 });
    const max = client.serverProperties.receiveMaximum;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => client.publish('rm', Buffer.from(String(i)), { qos: 1, retain: false })),
    );
    await waitFor(() => got === 200, { what: 'all 200 at the subscriber', intervalMs: 10 });
    expect(max === undefined || max > 0).toBe(true);
  });
});

/** 10k QoS 1 from an mqtt.js publisher through Mosquitto to a subscriber that acks at once. */
async function pipeline(kind: 'lean' | 'mqtt.js', protocolVersion: 4 | 5): Promise<void> {
  const n = 10_000;
  const { port } = await res.mosquitto(['max_queued_messages 100000', 'max_inflight_messages 20']);
  let count = 0;
  let outOfOrder = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const onPayload = (payload: Buffer) => {
    if (Number(payload.toString()) !== count) outOfOrder++;
    if (++count === n) done();
  };
  if (kind === 'lean') {
    const { client } = await res.lean(port, {
      protocolVersion,
      onMessage: (message, ack) => {
        onPayload(message.payload);
        ack();
      },
    });
    await client.subscribe([{ topic: 'bulk', qos: 1 }]);
  } else {
    const sub = await res.mqttjs(port, { protocolVersion });
    sub.on('message', (_topic, payload) => onPayload(payload));
    await sub.subscribeAsync('bulk', { qos: 1 });
  }
  const pub = await res.mqttjs(port, { protocolVersion });
  const started = performance.now();
  for (let i = 0; i < n; i++) pub.publish('bulk', String(i), { qos: 1 });
  await Promise.race([all, sleep(50_000)]);
  const ms = performance.now() - started;
  console.log(
    `[lean-mqtt] ${kind} subscriber, MQTT ${protocolVersion}: ${count}/${n} QoS 1 in ${ms.toFixed(0)} ms = ${Math.round((count / ms) * 1000)} msg/s`,
  );
  expect(count).toBe(n);
  expect(outOfOrder).toBe(0);
}

describe('10,000 QoS 1 messages through Mosquitto', () => {
  it('reach a LeanMqttClient subscriber in order with no loss (MQTT 3.1.1)', () => pipeline('lean', 4), 60_000);
  it('reach a LeanMqttClient subscriber in order with no loss (MQTT 5)', () => pipeline('lean', 5), 60_000);
  it('reach an mqtt.js subscriber in the same setup, for comparison', () => pipeline('mqtt.js', 4), 60_000);
});
