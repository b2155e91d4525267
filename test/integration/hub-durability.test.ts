import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AgentProcess, startAgent } from '@tether/test-helpers/agent-process';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { closeClient, connectClient } from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { publishSequence, readMetric, sequenceSink } from '@tether/test-helpers/sequence';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

/**
 * The embedded hub's promise: a message it acknowledged to its publisher reaches every
 * subscriber whose persistent session existed then, at least once, across SIGTERM and kill -9;
 * retained messages survive both. (Mosquitto 2.0.11 with `persistence true` keeps 100 of 100
 * and 5 of 5 across SIGTERM on the same input; the aedes hub kept 0.)
 */
const N = 10_000;
const td = new Teardown();
afterEach(() => td.run());

async function hubSite() {
  const root = tempDir(td, 'tether-hub-durable-');
  const port = await freePort();
  const config = join(root, 'hub.yml');
  await writeFile(
    config,
    stringify({
      listen: [`tcp://127.0.0.1:${port}`],
      // Baetyl-Hub's storage.dir names where the hub keeps its state
      storage: { dir: join(root, 'data') },
      limits: { queue: { messages: 20_000 } },
      logger: { level: 'info' },
    }),
  );
  let agent: AgentProcess | undefined;
  const start = async () => {
    agent = await startAgent({ args: ['hub', '--config', config], cwd: root, teardown: td });
    await agent.waitForLog(/embedded hub listening/, 15_000);
  };
  return {
    url: `mqtt://127.0.0.1:${port}`,
    start,
    stop: (how: 'SIGTERM' | 'SIGKILL') => (how === 'SIGKILL' ? agent?.kill() : agent?.stop('SIGTERM', 15_000)),
  };
}

describe('embedded hub durability', () => {
  for (const how of ['SIGTERM', 'SIGKILL'] as const) {
    it(`delivers ${N} acknowledged QoS 1 messages to an offline persistent session and keeps retained messages across ${how}`, async () => {
      const hub = await hubSite();
      await hub.start();
      // the device subscribes with a persistent session, then goes away
      const device = await connectClient(hub.url, { clientId: 'device-1', clean: false, teardown: td });
      await device.subscribeAsync('dev/#', { qos: 1 });
      await closeClient(device);

      const publisher = await connectClient(hub.url, { clientId: 'publisher', teardown: td });
      await publishSequence(publisher, 'dev/seq', N, { window: 500 }).done;
      for (let i = 0; i < 5; i++) await publisher.publishAsync(`state/${i}`, `r${i}`, { qos: 1, retain: true });
      await closeClient(publisher);

      await hub.stop(how);
      await hub.start();

      // listening before the CONNACK: the kept messages follow it at once
      const back = mqtt.connect(hub.url, { clientId: 'device-1', clean: false, reconnectPeriod: 0 });
      td.add('close device', () => closeClient(back));
      const sink = sequenceSink(back, 'dev/seq');
      await sink.waitForAll(N, 60_000);
      expect(sink.missing(N)).toEqual([]);
      expect(sink.inOrder()).toBe(true);

      const reader = await connectClient(hub.url, { clientId: 'reader', teardown: td });
      const retained = new Map<string, string>();
      reader.on('message', (topic, payload, packet) => {
        if (packet.retain) retained.set(topic, payload.toString());
      });
      await reader.subscribeAsync('state/#', { qos: 1 });
      await waitFor(() => retained.size >= 5, { what: 'the five retained messages', timeoutMs: 5_000 });
      expect(Object.fromEntries(retained)).toEqual({
        'state/0': 'r0',
        'state/1': 'r1',
        'state/2': 'r2',
        'state/3': 'r3',
        'state/4': 'r4',
      });
    });
  }

  it('publishes the will of a client that was connected when the hub was killed (kill -9), once it is back', async () => {
    const hub = await hubSite();
    await hub.start();
    const watcher = await connectClient(hub.url, { clientId: 'watcher', clean: false, teardown: td });
    await watcher.subscribeAsync('status/#', { qos: 1 });
    await closeClient(watcher);
    const device = mqtt.connect(hub.url, {
      clientId: 'device-will',
      reconnectPeriod: 0,
      will: { topic: 'status/device-will', payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    td.add('close device', () => closeClient(device));
    await new Promise<void>((resolve, reject) => {
      device.once('connect', () => resolve());
      device.once('error', reject);
    });
    // a retained QoS 1 message is acknowledged once its commit is durable, and commits keep their
    // order: its PUBACK proves the will saved at CONNECT is on disk
    await device.publishAsync('probe', 'x', { qos: 1, retain: true });
    await hub.stop('SIGKILL');
    device.end(true);
    await hub.start();

    // the watcher's persistent session existed when the will was due: it gets it
    const back = mqtt.connect(hub.url, { clientId: 'watcher', clean: false, reconnectPeriod: 0 });
    td.add('close watcher', () => closeClient(back));
    const got: string[] = [];
    back.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    await waitFor(() => got.length > 0, { timeoutMs: 10_000, what: 'the will at the watcher' });
    expect(got).toEqual(['status/device-will=offline']);
    // and it was retained
    const reader = await connectClient(hub.url, { clientId: 'reader', teardown: td });
    const retained: string[] = [];
    reader.on('message', (topic, payload, packet) => {
      if (packet.retain) retained.push(`${topic}=${payload.toString()}`);
    });
    await reader.subscribeAsync('status/#', { qos: 1 });
    await waitFor(() => retained.length > 0, { timeoutMs: 5_000, what: 'the retained will' });
    expect(retained).toEqual(['status/device-will=offline']);
  });

  it('the downlink: what the cloud had acknowledged reaches an offline device after the agent is killed (kill -9)', async () => {
    const root = tempDir(td, 'tether-hub-downlink-');
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), name: 'cloud', teardown: td });
    const hubPort = await freePort();
    const hubConfig = join(root, 'hub.yml');
    await writeFile(hubConfig, stringify({ listen: [`tcp://127.0.0.1:${hubPort}`], logger: { level: 'info' } }));
    const bridgeConfig = join(root, 'bridge.yml');
    // the seed's t2 rule: cloud → hub
    await writeFile(
      bridgeConfig,
      stringify({
        name: 'downlink',
        hub: { address: 'tcp://localhub:1883', clientid: 'edge-1' },
        remotes: [{ name: 'cloud', address: cloud.url.replace('mqtt://', 'tcp://'), clientid: 'edge-1' }],
        rules: [{ hub: { clientid: 'edge-1' }, remote: { name: 'cloud', subscriptions: [{ topic: 't2', qos: 1 }] } }],
        metrics: { listen: '127.0.0.1:0' },
        logger: { level: 'info' },
      }),
    );
    const args = ['--config', bridgeConfig, '--hub-config', hubConfig, '--data-dir', join(root, 'data')];
    const start = async () => {
      const agent = await startAgent({ args, cwd: root, teardown: td });
      const line = await agent.waitForLog(/metrics listening/, 15_000);
      await agent.waitForLog(/bridge started/, 15_000);
      return { agent, metrics: /"url":"([^"]+)"/.exec(line)?.[1] as string };
    };
    const first = await start();
    const hubUrl = `mqtt://127.0.0.1:${hubPort}`;
    const device = await connectClient(hubUrl, { clientId: 'device-1', clean: false, teardown: td });
    await device.subscribeAsync('t2', { qos: 1 });
    await closeClient(device);
    await waitFor(async () => (await readMetric(first.metrics, 'tether_connection_up', 'cloud')) === 1, {
      what: 'cloud connection up',
      timeoutMs: 15_000,
    });
    const cloudClient = await connectClient(cloud.url, { clientId: 'cloud-app', teardown: td });
    await publishSequence(cloudClient, 't2', 100).done;
    // the hub acknowledged all 100 to the bridge: from here they are the hub's to keep
    await waitFor(async () => (await readMetric(first.metrics, 'tether_forwarded_total')) >= 100, {
      what: '100 messages forwarded into the hub',
      timeoutMs: 15_000,
    });
    await first.agent.kill();
    await start();
    const back = mqtt.connect(hubUrl, { clientId: 'device-1', clean: false, reconnectPeriod: 0 });
    td.add('close device', () => closeClient(back));
    const sink = sequenceSink(back, 't2');
    await sink.waitForAll(100, 20_000);
    expect(sink.missing(100)).toEqual([]);
  });
});
