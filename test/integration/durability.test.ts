import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AgentProcess, startAgent } from '@tether/test-helpers/agent-process';
import { type MosquittoProcess, startMosquitto } from '@tether/test-helpers/mosquitto';
import { connectClient, connected } from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { SEED_LOGIN, seedHubYaml } from '@tether/test-helpers/seed';
import { publishSequence, readMetric, type SequenceSink, sequenceSink } from '@tether/test-helpers/sequence';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

/**
 * Tether's promise: every message the agent acknowledged to its source reaches its
 * destination at least once — across remote outages, agent kills and full queues.
 * Each message carries its sequence number; every test names the ones missing.
 */
const N = 10_000;
const td = new Teardown();
afterEach(() => td.run());

interface Site {
  root: string;
  hub?: MosquittoProcess;
  hubUrl: string;
  remotePort: number;
  configFile: string;
  dataDir: string;
  hubConfigFile?: string;
}

async function site(opts: { embeddedHub?: boolean; queue?: object; backoffMs?: number } = {}): Promise<Site> {
  const root = tempDir(td, 'tether-durable-');
  const remotePort = await freePort();
  const backoff = { min: opts.backoffMs ?? 200, max: opts.backoffMs ?? 200, jitter: 0 };
  let hub: MosquittoProcess | undefined;
  let hubUrl: string;
  let hubConfigFile: string | undefined;
  if (opts.embeddedHub) {
    const hubPort = await freePort();
    hubUrl = `mqtt://127.0.0.1:${hubPort}`;
    hubConfigFile = join(root, 'hub.yml');
    await writeFile(hubConfigFile, seedHubYaml([`tcp://127.0.0.1:${hubPort}`]));
  } else {
    // an edge hub that keeps the agent's persistent session through an agent restart
    hub = await startMosquitto({
      dir: join(root, 'hub'),
      name: 'hub',
      extraConf: 'max_queued_messages 0\n',
      teardown: td,
    });
    hubUrl = hub.url;
  }
  const configFile = join(root, 'bridge.yml');
  await writeFile(
    configFile,
    stringify({
      name: 'durable',
      hub: {
        address: hubUrl.replace('mqtt://', 'tcp://'),
        ...SEED_LOGIN,
        clientid: 'edge-1',
        backoff,
      },
      remotes: [{ name: 'cloud', address: `tcp://127.0.0.1:${remotePort}`, clientid: 'edge-1', backoff }],
      rules: [{ hub: { subscriptions: [{ topic: 'seq', qos: 1 }] }, remote: { name: 'cloud' } }],
      queue: opts.queue ?? {},
      metrics: { listen: '127.0.0.1:0' },
      logger: { level: 'info' },
    }),
  );
  return {
    root,
    hubUrl,
    remotePort,
    configFile,
    dataDir: join(root, 'data'),
    ...(hub ? { hub } : {}),
    ...(hubConfigFile ? { hubConfigFile } : {}),
  };
}

async function agent(s: Site): Promise<{ process: AgentProcess; metrics: string }> {
  const args = ['--config', s.configFile, '--data-dir', s.dataDir];
  if (s.hubConfigFile) args.push('--hub-config', s.hubConfigFile);
  const process = await startAgent({ args, cwd: s.root, teardown: td });
  const line = await process.waitForLog(/metrics listening/, 10_000);
  const metrics = /"url":"([^"]+)"/.exec(line)?.[1] as string;
  await process.waitForLog(/bridge started/, 10_000);
  // subscribed at the hub: from here on nothing published there is missed
  await waitFor(async () => (await readMetric(metrics, 'tether_connection_up', 'hub/')) === 1, {
    what: 'hub connection up',
    timeoutMs: 10_000,
  });
  return { process, metrics };
}

const remote = (s: Site) =>
  startMosquitto({ dir: join(s.root, 'cloud'), name: 'cloud', port: s.remotePort, teardown: td });

async function sink(cloud: MosquittoProcess, clientId = 'sink') {
  // QoS 0 at the sink: it sends the broker nothing back, so a killed broker's last writes still arrive
  const client = await connectClient(cloud.url, { clientId, teardown: td });
  const seq = sequenceSink(client, 'seq');
  await client.subscribeAsync('seq', { qos: 0 });
  return seq;
}

/**
 * A cloud that is down but already holds the sink's persistent session (QoS 1), so whatever
 * the agent delivers the moment the cloud comes back is kept for the sink: no race between
 * the agent reconnecting and the sink subscribing.
 */
async function cloudWithSinkSession(
  s: Site,
): Promise<{ cloud: MosquittoProcess; comeBack: () => Promise<SequenceSink> }> {
  const cloud = await startMosquitto({
    dir: join(s.root, 'cloud'),
    name: 'cloud',
    port: s.remotePort,
    persistence: true,
    extraConf: 'max_queued_messages 0\n',
    teardown: td,
  });
  const first = await connectClient(cloud.url, { clientId: 'sink', clean: false, teardown: td });
  await first.subscribeAsync('seq', { qos: 1 });
  await first.endAsync();
  await cloud.stop();
  return {
    cloud,
    comeBack: async () => {
      await cloud.restart();
      // listen before CONNACK: the session's queued messages follow it at once
      const client = mqtt.connect(cloud.url, { clientId: 'sink', clean: false, reconnectPeriod: 0 });
      td.add('sink client', () => client.endAsync(true));
      const seq = sequenceSink(client, 'seq');
      await connected(client);
      return seq;
    },
  };
}

const publisher = (s: Site) => connectClient(s.hubUrl, { ...SEED_LOGIN, clientId: 'publisher', teardown: td });

describe('store-and-forward, 10,000 QoS 1 messages with sequence numbers', () => {
  it('loses nothing when the remote broker is killed (SIGKILL) mid-stream and restarted later', async () => {
    const s = await site({ backoffMs: 1_000 });
    const cloud = await startMosquitto({
      dir: join(s.root, 'cloud'),
      name: 'cloud',
      port: s.remotePort,
      persistence: true,
      extraConf: 'autosave_interval 1\nmax_queued_messages 0\n',
      teardown: td,
    });
    // the second sink's session exists before the kill and is autosaved, so after the restart
    // the broker keeps for it whatever the agent sends, however fast the agent reconnects
    const savedAt = Date.now();
    const later = await connectClient(cloud.url, { clientId: 'sink-2', clean: false, teardown: td });
    await later.subscribeAsync('seq', { qos: 1 });
    await later.endAsync();
    const db = join(s.root, 'cloud', 'cloud-data', 'mosquitto.db');
    await waitFor(() => existsSync(db) && statSync(db).mtimeMs > savedAt, {
      what: 'the autosaved session',
      timeoutMs: 10_000,
    });
    const seq = await sink(cloud);
    const { metrics } = await agent(s);
    await waitFor(async () => (await readMetric(metrics, 'tether_connection_up', 'remote/cloud')) === 1, {
      what: 'remote up',
      timeoutMs: 10_000,
    });

    const pub = await publisher(s);
    const sending = publishSequence(pub, 'seq', N);
    await waitFor(() => seq.distinct.size >= 2_000, { what: '2,000 at the sink', timeoutMs: 30_000 });
    await cloud.kill();
    await sending.done;
    // later: the broker comes back, and the second sink collects what its session kept
    await cloud.restart();
    const client = mqtt.connect(cloud.url, { clientId: 'sink-2', clean: false, reconnectPeriod: 0 });
    td.add('sink-2 client', () => client.endAsync(true));
    const again = sequenceSink(client, 'seq');
    await connected(client);
    await waitFor(() => new Set([...seq.distinct, ...again.distinct]).size >= N, {
      what: 'every sequence number at the sinks',
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    const all = new Set([...seq.distinct, ...again.distinct]);
    expect(Array.from({ length: N }, (_, i) => i).filter((i) => !all.has(i))).toEqual([]);
  });

  it('loses nothing when the agent is killed (SIGKILL) mid-stream and restarted on the same data dir', async () => {
    const s = await site();
    const cloud = await remote(s);
    const seq = await sink(cloud);
    const first = await agent(s);
    const pub = await publisher(s);
    const sending = publishSequence(pub, 'seq', N);
    await waitFor(() => seq.distinct.size >= 2_000, { what: '2,000 at the sink', timeoutMs: 30_000 });
    await first.process.kill();
    await sending.done; // the hub (Mosquitto) holds the rest for the agent's persistent session

    await agent(s);
    await seq.waitForAll(N, 60_000);
    expect(seq.missing(N)).toEqual([]);
  });

  it('delivers everything, in order, when the remote is down for the whole publish', async () => {
    const s = await site();
    const cloud = await cloudWithSinkSession(s);
    const { metrics } = await agent(s);
    const pub = await publisher(s);
    await publishSequence(pub, 'seq', N).done;
    await waitFor(async () => (await readMetric(metrics, 'tether_queue_messages', 'remote/cloud')) === N, {
      what: `the agent holding ${N} messages`,
      timeoutMs: 30_000,
    });

    const seq = await cloud.comeBack();
    await seq.waitForAll(N, 60_000);
    expect(seq.missing(N)).toEqual([]);
    expect(seq.inOrder()).toBe(true);
    expect(seq.duplicates()).toBe(0);
  });

  it('write-behind: what the cloud acknowledges before the group commit is never written, and its publisher is acked', async () => {
    // a commit delay far longer than the test: acks that waited for a commit would never come
    const s = await site({ embeddedHub: true, queue: { commitdelay: '10m' } });
    const cloud = await remote(s);
    const seq = await sink(cloud);
    const { metrics } = await agent(s);
    await waitFor(async () => (await readMetric(metrics, 'tether_connection_up', 'remote/')) === 1, {
      what: 'cloud connection up',
      timeoutMs: 10_000,
    });
    const pub = await publisher(s);
    await publishSequence(pub, 'seq', 2_000, { window: 200 }).done; // every PUBACK arrived
    await seq.waitForAll(2_000, 30_000);
    expect(seq.missing(2_000)).toEqual([]);
    await waitFor(async () => (await readMetric(metrics, 'tether_forwarded_total')) === 2_000, {
      what: 'all 2,000 acknowledged by the cloud',
      timeoutMs: 10_000,
    });
    expect(await readMetric(metrics, 'tether_store_writes_total')).toBe(0);
    expect(await readMetric(metrics, 'tether_queue_unwritten_total')).toBe(2_000);
    expect(await readMetric(metrics, 'tether_queue_messages')).toBe(0);
  });

  it('drop-oldest: at the bound exactly the oldest are dropped, and counted', async () => {
    const bound = 2_000;
    const s = await site({ embeddedHub: true, queue: { maxmessages: bound, overflow: 'drop-oldest' } });
    const cloud = await cloudWithSinkSession(s);
    const { metrics } = await agent(s);
    const pub = await publisher(s);
    // the embedded hub acks only once the agent stored (or, here, made room for) each message
    await publishSequence(pub, 'seq', N).done;
    expect(await readMetric(metrics, 'tether_queue_dropped_total', 'remote/cloud')).toBe(N - bound);
    expect(await readMetric(metrics, 'tether_queue_messages', 'remote/cloud')).toBe(bound);

    const seq = await cloud.comeBack();
    await seq.waitForAll(bound, 30_000);
    expect([...seq.distinct].sort((a, b) => a - b)).toEqual(Array.from({ length: bound }, (_, i) => N - bound + i));
  });

  it('reject-new: the publisher sees back-pressure (its acks stall) and nothing is lost', async () => {
    const bound = 2_000;
    const s = await site({ embeddedHub: true, queue: { maxmessages: bound, overflow: 'reject-new' } });
    const cloud = await cloudWithSinkSession(s);
    const { metrics } = await agent(s);
    const pub = await publisher(s);
    const sending = publishSequence(pub, 'seq', N, { window: 500 });
    await waitFor(async () => (await readMetric(metrics, 'tether_queue_messages', 'remote/cloud')) === bound, {
      what: 'a full queue',
      timeoutMs: 30_000,
    });
    // the acks stop at the bound: the rest are held, not dropped
    await waitFor(() => sending.acked() >= bound, { what: 'acks up to the bound', timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(sending.acked()).toBe(bound);
    expect(await readMetric(metrics, 'tether_queue_dropped_total')).toBe(0);

    const seq = await cloud.comeBack();
    await sending.done;
    await seq.waitForAll(N, 60_000);
    expect(seq.missing(N)).toEqual([]);
    expect(seq.inOrder()).toBe(true);
  });

  it('a second agent on the same data dir stops with an error naming the dir, and the first keeps running', async () => {
    const s = await site({ embeddedHub: false });
    const first = await agent(s);
    const second = await startAgent({
      args: ['--config', s.configFile, '--data-dir', s.dataDir],
      cwd: s.root,
      teardown: td,
    });
    const exit = await second.waitForExit(10_000);
    expect(exit.code).toBe(1);
    expect(second.output()).toContain(`data dir ${s.dataDir} is in use by another tether-agent`);
    expect(first.process.running).toBe(true);
  });
});
