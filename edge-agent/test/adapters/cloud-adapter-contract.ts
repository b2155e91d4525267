import { Writable } from 'node:stream';
import type { QoS } from '@tether/shared';
import type { MosquittoProcess } from '@tether/test-helpers/mosquitto';
import { collectMessages } from '@tether/test-helpers/mqtt-clients';
import { Teardown } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import type { MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloudAdapter } from '../../src/adapters/cloud-adapter.js';
import type { BridgeMessage } from '../../src/core/bridge-message.js';
import type { EndpointEvent } from '../../src/core/message-endpoint.js';

/** A cloud stand-in (Mosquitto configured like that cloud) and the adapter that talks to it. */
export interface CloudUnderTest {
  readonly broker: MosquittoProcess;
  /** Builds the adapter under test through the schema and the registry (`provider:` picks it). */
  adapter(options: { clientId: string; logger: pino.Logger; cert?: 'trusted' | 'untrusted' }): CloudAdapter;
  /** An application at the cloud (mqtt.js), allowed everything. */
  cloudClient(clientId: string): Promise<MqttClient>;
}

/** What a cloud stand-in can show, so the contract runs only the cases that apply to it. */
export interface CloudTraits {
  /** The broker answers a refused publish with a PUBACK reason code (MQTT 5): `up/denied/...` is refused. */
  readonly refusesByPuback: boolean;
  /** The connection uses a client certificate the broker checks. */
  readonly mutualTls: boolean;
  /** The adapter speaks MQTT 5 (subscriptions carry No Local, shared subscriptions exist). */
  readonly mqtt5?: boolean;
}

export type CloudSetup = (td: Teardown) => Promise<CloudUnderTest>;

/** Log lines the adapter wrote, as objects. */
export function captureLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

const message = (topic: string, text: string, qos: QoS = 1, retain = false): BridgeMessage => ({
  topic,
  payload: Buffer.from(text),
  qos,
  retain,
});

/**
 * One contract for every cloud adapter, run against a real broker: what the dispatcher and the
 * durable queue rely on (see cloud-adapter.ts). Each provider's test file calls it with its setup.
 */
export function cloudAdapterContract(label: string, setup: CloudSetup, traits: CloudTraits): void {
  describe(`${label}: the CloudAdapter contract`, () => {
    const td = new Teardown();
    afterEach(() => td.run());

    async function started(cloud: CloudUnderTest, clientId: string, cert?: 'trusted' | 'untrusted') {
      const { logger, lines } = captureLogger();
      const adapter = cloud.adapter({ clientId, logger, ...(cert ? { cert } : {}) });
      const events: EndpointEvent[] = [];
      adapter.onEvent((event) => events.push(event));
      const abort = new AbortController();
      td.add(`adapter ${clientId}`, async () => {
        await adapter.stop(0);
        abort.abort();
      });
      return { adapter, events, lines, abort };
    }

    it('connects once subscribed, and messages flow both ways with QoS 1', async () => {
      // given a cloud application on both topics
      const cloud = await setup(td);
      const app = await cloud.cloudClient('cloud-app');
      const atCloud = await collectMessages(app, 'up/#', { qos: 1 });
      const { adapter, events, lines, abort } = await started(cloud, 'edge-a');
      const received: BridgeMessage[] = [];
      await adapter.subscribe('down/#', 1, (m) => {
        received.push(m);
      });
      expect(adapter.connected).toBe(false);
      // when the adapter starts
      await adapter.start(abort.signal);
      await waitFor(() => adapter.connected, { what: `${label} to connect`, timeoutMs: 10_000 });
      // then it reported it once, with its name, and publishes are acked by the broker
      expect(events).toEqual([{ type: 'connected', sessionPresent: expect.any(Boolean) }]);
      expect(lines.find((l) => l.msg === 'connected')).toMatchObject({ endpoint: adapter.name });
      expect(await adapter.publish(message('up/a', 'one'))).toEqual({ status: 'acked' });
      expect(await adapter.publish(message('up/b', 'zero', 0))).toEqual({ status: 'acked' });
      const up = await atCloud.waitForCount(2, 5_000);
      expect(up.map((m) => [m.topic, m.text, m.qos])).toEqual([
        ['up/a', 'one', 1],
        ['up/b', 'zero', 0],
      ]);
      // and a message from the cloud reaches the handler
      await app.publishAsync('down/x', 'hello edge', { qos: 1 });
      await waitFor(() => received.length === 1, { what: 'the downlink message' });
      expect(received[0]).toMatchObject({ topic: 'down/x', qos: 1, retain: false });
      expect(received[0]?.payload.toString()).toBe('hello edge');
    });

    it('holds the PUBACK of a received message until the handler resolves: unresolved, the broker sends it again', async () => {
      const cloud = await setup(td);
      const app = await cloud.cloudClient('cloud-app');
      // given an adapter whose store never commits (the handler's promise stays pending)
      const first = await started(cloud, 'edge-held');
      const seen: string[] = [];
      await first.adapter.subscribe('down/#', 1, (m) => {
        seen.push(m.payload.toString());
        return new Promise<void>(() => {});
      });
      await first.adapter.start(first.abort.signal);
      await waitFor(() => first.adapter.connected, { what: 'the first connection', timeoutMs: 10_000 });
      await app.publishAsync('down/keep', 'must survive', { qos: 1 });
      await waitFor(() => seen.length === 1, { what: 'the message at the first adapter' });
      // when that connection ends without the ack
      await first.adapter.stop(0);
      // then the same client id (persistent session) gets it again
      const second = await started(cloud, 'edge-held');
      const again: string[] = [];
      await second.adapter.subscribe('down/#', 1, async (m) => {
        again.push(m.payload.toString());
      });
      await second.adapter.start(second.abort.signal);
      await waitFor(() => again.length >= 1, { what: 'the redelivery', timeoutMs: 10_000 });
      expect(again[0]).toBe('must survive');
    });

    it('acknowledges once the handler resolved: the message is not sent again', async () => {
      const cloud = await setup(td);
      const app = await cloud.cloudClient('cloud-app');
      const first = await started(cloud, 'edge-acked');
      const seen: string[] = [];
      let commit: () => void = () => {};
      const committed = new Promise<void>((resolve) => {
        commit = resolve;
      });
      await first.adapter.subscribe('down/#', 1, (m) => {
        seen.push(m.payload.toString());
        return committed;
      });
      await first.adapter.start(first.abort.signal);
      await waitFor(() => first.adapter.connected, { what: 'the connection', timeoutMs: 10_000 });
      await app.publishAsync('down/once', 'only once', { qos: 1 });
      await waitFor(() => seen.length === 1, { what: 'the message' });
      // when the store commits, the PUBACK leaves; a broker round trip later the session holds nothing
      commit();
      await app.publishAsync('down/marker', 'marker', { qos: 1 });
      await waitFor(() => seen.length === 2, { what: 'the marker' });
      await first.adapter.stop(0);
      const second = await started(cloud, 'edge-acked');
      const again: string[] = [];
      await second.adapter.subscribe('down/#', 1, async (m) => {
        again.push(m.payload.toString());
      });
      await second.adapter.start(second.abort.signal);
      await waitFor(() => second.adapter.connected, { what: 'the second connection', timeoutMs: 10_000 });
      await app.publishAsync('down/after', 'after', { qos: 1 });
      await waitFor(() => again.includes('after'), { what: 'a fresh message' });
      // the committed message is never sent again; the marker may be (its ack can still be on its
      // way when the first connection stops: at least once)
      expect(again).not.toContain('only once');
      expect(again.filter((m) => m !== 'marker')).toEqual(['after']);
    });

    it('is retryable when not connected, and reports a lost broker, then reconnects', async () => {
      const cloud = await setup(td);
      const { adapter, events, abort } = await started(cloud, 'edge-lost');
      expect((await adapter.publish(message('up/early', 'x'))).status).toBe('retryable');
      await adapter.start(abort.signal);
      await waitFor(() => adapter.connected, { what: 'the connection', timeoutMs: 10_000 });
      // when the broker goes away
      await cloud.broker.stop();
      await waitFor(() => !adapter.connected, { what: 'the disconnect' });
      const lost = events.find((e) => e.type === 'disconnected');
      expect(lost).toMatchObject({ type: 'disconnected', reason: expect.any(String) });
      const outcome = await adapter.publish(message('up/offline', 'x'));
      expect(outcome.status).toBe('retryable');
      // then it comes back by itself once the broker does
      await cloud.broker.restart();
      await waitFor(() => adapter.connected, { what: 'the reconnect', timeoutMs: 15_000 });
      expect(events.filter((e) => e.type === 'connected')).toHaveLength(2);
      expect(await adapter.publish(message('up/back', 'x'))).toEqual({ status: 'acked' });
    });

    it('stops idempotently, and is retryable afterwards', async () => {
      const cloud = await setup(td);
      const { adapter, abort } = await started(cloud, 'edge-stop');
      await adapter.start(abort.signal);
      await waitFor(() => adapter.connected, { what: 'the connection', timeoutMs: 10_000 });
      await Promise.all([adapter.stop(), adapter.stop()]);
      await adapter.stop();
      expect(adapter.connected).toBe(false);
      expect((await adapter.publish(message('up/late', 'x'))).status).toBe('retryable');
    });

    if (traits.refusesByPuback)
      it('is rejected, not retried, when the broker refuses a publish', async () => {
        const cloud = await setup(td);
        const { adapter, abort } = await started(cloud, 'edge-refused');
        await adapter.start(abort.signal);
        await waitFor(() => adapter.connected, { what: 'the connection', timeoutMs: 10_000 });
        const outcome = await adapter.publish(message('up/denied/x', 'no'));
        expect(outcome).toMatchObject({ status: 'rejected', error: { code: 'TETHER_ERR_PUBLISH' } });
        expect(outcome.status === 'rejected' && outcome.error.message).toMatch(/not authorized/);
        // and the connection is still good
        expect(await adapter.publish(message('up/fine', 'yes'))).toEqual({ status: 'acked' });
      });

    if (traits.mqtt5)
      it('subscribes a $share/ filter without No Local [MQTT-3.8.3-4]: connects, receives, keeps the echo guard', async () => {
        const cloud = await setup(td);
        const app = await cloud.cloudClient('cloud-app');
        const { adapter, events, abort } = await started(cloud, 'edge-shared');
        const received: string[] = [];
        await adapter.subscribe('$share/edges/down/#', 1, (m) => {
          received.push(m.payload.toString());
        });
        await adapter.start(abort.signal);
        // a SUBSCRIBE with No Local on a shared filter is a protocol error: the broker (or aws-crt)
        // would refuse it and the adapter would never be up
        await waitFor(() => adapter.connected, {
          what: `${label} to connect with a shared subscription`,
          timeoutMs: 10_000,
        });
        await app.publishAsync('down/shared', 'to the group', { qos: 1 });
        await waitFor(() => received.length === 1, { what: 'the message through the shared subscription' });
        expect(received).toEqual(['to the group']);
        expect(events.filter((e) => e.type === 'error')).toEqual([]);
        // the broker may send our own publishes back on it: the bridge must keep its echo guard
        expect(adapter.suppressesEchoes).toBe(false);
      });

    if (traits.mutualTls)
      it('reports a client certificate the broker does not trust as a TLS error, and never connects', async () => {
        const cloud = await setup(td);
        const { adapter, events, lines, abort } = await started(cloud, 'edge-untrusted', 'untrusted');
        await adapter.start(abort.signal);
        await waitFor(() => events.some((e) => e.type === 'error'), { what: 'the error event', timeoutMs: 10_000 });
        const error = events.find((e) => e.type === 'error');
        expect(error).toMatchObject({ type: 'error', error: { code: 'TETHER_ERR_TLS' } });
        const line = lines.find((l) => l.level === 50);
        expect(String(line?.msg)).toContain(adapter.name);
        expect(adapter.connected).toBe(false);
      });
  });
}
