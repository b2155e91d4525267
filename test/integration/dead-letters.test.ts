import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AgentProcess, startAgent } from '@tether/test-helpers/agent-process';
import { type MosquittoProcess, startMosquitto } from '@tether/test-helpers/mosquitto';
import { collectMessages, connectClient } from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { readMetric } from '@tether/test-helpers/sequence';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

/**
 * Issue 18.1: a message the remote will not take must not hold its queue forever. It moves to the
 * dead letters after `queue.deadletter.after` failures in a row (or at once when its topic breaks
 * the spec), the messages behind it arrive, and `tether-agent deadletters` lists and re-queues it.
 */
const td = new Teardown();
afterEach(() => td.run());

/** The remote's limit: Mosquitto drops a client that sends a bigger packet. */
const REMOTE_MAX_PACKET = 2_000;
const AFTER = 3;
/** The remote's queue: named after its connection. */
const QUEUE = 'remote/cloud/edge-1';

interface Site {
  root: string;
  hub: MosquittoProcess;
  remotePort: number;
  configFile: string;
  dataDir: string;
}

async function site(subscription: object, backoffMs = 50): Promise<Site> {
  const root = tempDir(td, 'tether-dead-');
  const hub = await startMosquitto({ dir: join(root, 'hub'), name: 'hub', teardown: td });
  const remotePort = await freePort();
  const backoff = { min: backoffMs, max: backoffMs, jitter: 0 };
  const configFile = join(root, 'bridge.yml');
  await writeFile(
    configFile,
    stringify({
      name: 'dead',
      hub: { address: hub.url.replace('mqtt://', 'tcp://'), clientid: 'edge-1', backoff },
      remotes: [{ name: 'cloud', address: `tcp://127.0.0.1:${remotePort}`, clientid: 'edge-1', backoff }],
      rules: [{ hub: { subscriptions: [subscription] }, remote: { name: 'cloud' } }],
      queue: { deadletter: { after: AFTER } },
      metrics: { listen: '127.0.0.1:0' },
      logger: { level: 'info' },
    }),
  );
  return { root, hub, remotePort, configFile, dataDir: join(root, 'data') };
}

const remote = (s: Site, extraConf?: string) =>
  startMosquitto({
    dir: join(s.root, 'cloud'),
    name: extraConf ? 'cloud-limited' : 'cloud',
    port: s.remotePort,
    teardown: td,
    ...(extraConf ? { extraConf } : {}),
  });

async function agent(s: Site): Promise<{ process: AgentProcess; metrics: string }> {
  const process = await startAgent({
    args: ['--config', s.configFile, '--data-dir', s.dataDir],
    cwd: s.root,
    teardown: td,
  });
  const line = await process.waitForLog(/metrics listening/, 10_000);
  const metrics = /"url":"([^"]+)"/.exec(line)?.[1] as string;
  await waitFor(async () => (await readMetric(metrics, 'tether_connection_up', 'hub/')) === 1, {
    what: 'hub connection up',
    timeoutMs: 10_000,
  });
  return { process, metrics };
}

async function deadletters(s: Site, ...args: string[]): Promise<{ code: number | null; output: string }> {
  const cli = await startAgent({ args: ['deadletters', ...args, '--data-dir', s.dataDir], cwd: s.root, teardown: td });
  const exit = await cli.waitForExit(15_000);
  return { code: exit.code, output: cli.output() };
}

describe('poison messages', () => {
  it('a message the remote drops the connection for goes to the dead letters; the 20 behind it arrive', async () => {
    const s = await site({ topic: 'seq/#', qos: 1 });
    const limited = await remote(s, `max_packet_size ${REMOTE_MAX_PACKET}\n`);
    const sink = await collectMessages(await connectClient(limited.url, { clientId: 'sink', teardown: td }), 'seq/#', {
      qos: 1,
    });
    const { process: running, metrics } = await agent(s);
    await waitFor(async () => (await readMetric(metrics, 'tether_connection_up', 'remote/')) === 1, {
      what: 'remote connection up',
      timeoutMs: 10_000,
    });
    const device = await connectClient(s.hub.url, { clientId: 'device', teardown: td });
    // the hub takes it (no limit there); the remote drops the connection each time it is sent
    await device.publishAsync('seq/big', Buffer.alloc(REMOTE_MAX_PACKET * 2, 0x62), { qos: 1 });
    for (let i = 0; i < 20; i++) await device.publishAsync('seq/n', String(i), { qos: 1 });

    const arrived = await sink.waitForCount(20, 20_000);
    expect(arrived.map((m) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    const line = await running.waitForLog(/moved to the dead letters/, 5_000);
    expect(JSON.parse(line)).toMatchObject({ topic: 'seq/big', attempts: AFTER, target: QUEUE });
    expect(JSON.parse(line).reason).toMatch(/connection closed/);
    expect(await readMetric(metrics, 'tether_dead_letters_total', 'cloud')).toBe(1);
    // the acks of the last ones may still be on their way: nothing stays queued
    await waitFor(async () => (await readMetric(metrics, 'tether_queue_messages', 'cloud')) === 0, {
      what: 'the queue to empty',
      timeoutMs: 10_000,
    });
    expect(running.output().match(/moved to the dead letters/g)).toHaveLength(1);

    // while the agent runs, the store is locked: the CLI says so instead of racing it
    const locked = await deadletters(s, 'list');
    expect(locked.code).toBe(1);
    expect(locked.output).toMatch(/TETHER_ERR_STORE: .*in use .*stop the agent/);

    expect(await running.stop()).toBe(0);
    const listed = await deadletters(s, 'list');
    expect(listed.code).toBe(0);
    expect(listed.output).toMatch(
      new RegExp(`^1 queue=${QUEUE} topic="seq/big" qos=1 bytes=${REMOTE_MAX_PACKET * 2} attempts=${AFTER} `, 'm'),
    );
    expect(listed.output).toMatch(/^1 dead letter$/m);

    // once the remote takes bigger packets, the re-queued message is delivered
    const requeued = await deadletters(s, 'requeue', '--id', '1');
    expect(requeued).toMatchObject({ code: 0 });
    expect(requeued.output).toMatch(/^1 dead letter re-queued$/m);
    await limited.stop();
    const open = await remote(s);
    const sink2 = await collectMessages(await connectClient(open.url, { clientId: 'sink2', teardown: td }), 'seq/#', {
      qos: 1,
    });
    const { process: again } = await agent(s);
    const [big] = await sink2.waitForCount(1, 15_000);
    expect(big?.topic).toBe('seq/big');
    expect(big?.payload.length).toBe(REMOTE_MAX_PACKET * 2);
    expect(await again.stop()).toBe(0);
    expect((await deadletters(s, 'list')).output).toMatch(/^0 dead letters$/m);
  });

  it('the count survives a restart: killed after each failure, the agent still sets the message aside', async () => {
    // a slow retry: the crash comes between two attempts rather than after several
    const s = await site({ topic: 'seq/#', qos: 1 }, 1_000);
    const { process: first, metrics } = await agent(s);
    // queued while the remote is down, and committed, so every failure has a stored row to count on
    const device = await connectClient(s.hub.url, { clientId: 'device', teardown: td });
    await device.publishAsync('seq/big', Buffer.alloc(REMOTE_MAX_PACKET * 2, 0x62), { qos: 1 });
    await device.publishAsync('seq/n', 'after', { qos: 1 });
    await waitFor(async () => (await readMetric(metrics, 'tether_store_writes_total')) >= 2, {
      what: 'both messages committed',
      timeoutMs: 10_000,
    });
    const limited = await remote(s, `max_packet_size ${REMOTE_MAX_PACKET}\n`);
    const sink = await collectMessages(await connectClient(limited.url, { clientId: 'sink', teardown: td }), 'seq/#', {
      qos: 1,
    });
    // a crash after each counted failure; the counts must go on from the stored one, not restart
    let running = first;
    const counted: number[] = [];
    for (let run = 0; run < AFTER; run++) {
      const line = await running.waitForLog(
        /a message failed (again|while alone in flight)|moved to the dead letters/,
        15_000,
      );
      if (/moved to the dead letters/.test(line)) break;
      await running.kill();
      counted.push(
        ...running
          .output()
          .split('\n')
          .filter((l) => /a message failed (again|while alone in flight)/.test(l))
          .map((l) => JSON.parse(l) as { topic: string; failures: number; stored: boolean })
          .map((f) => (f.topic === 'seq/big' && f.stored ? f.failures : -1)),
      );
      if (/^1 dead letter$/m.test((await deadletters(s, 'list')).output)) break;
      running = (await agent(s)).process;
    }
    expect(counted).toEqual(Array.from({ length: AFTER - 1 }, (_, i) => i + 1));
    const [after] = await sink.waitForCount(1, 10_000);
    expect(after?.text).toBe('after');
    if (running.running) expect(await running.stop()).toBe(0);
    const listed = await deadletters(s, 'list');
    expect(listed.output).toMatch(new RegExp(`^1 queue=${QUEUE} topic="seq/big" .* attempts=${AFTER} `, 'm'));
    expect((await deadletters(s, 'drop', '--id', '1')).output).toMatch(/^1 dead letter dropped$/m);
    expect((await deadletters(s, 'list')).output).toMatch(/^0 dead letters$/m);
  });

  it('a rule that maps a topic to an invalid one: set aside at once, never sent', async () => {
    // `{2}` of dev/a is empty: an empty Topic Name [MQTT-4.7.3-1]
    const s = await site({ topic: 'dev/#', qos: 1, target: { topic: '{2}' } });
    const cloud = await remote(s);
    // one-level topics: what the rule maps to, not the agent's retained state topic (tether/…/state)
    const sink = await collectMessages(await connectClient(cloud.url, { clientId: 'sink', teardown: td }), '+', {
      qos: 1,
    });
    const { process: running, metrics } = await agent(s);
    const device = await connectClient(s.hub.url, { clientId: 'device', teardown: td });
    await device.publishAsync('dev/a', 'no third level', { qos: 1 });
    await device.publishAsync('dev/a/b', 'fine', { qos: 1 });
    const [fine] = await sink.waitForCount(1, 10_000);
    expect(fine).toMatchObject({ topic: 'b', text: 'fine' });
    const line = await running.waitForLog(/invalid topic; moved to the dead letters/, 5_000);
    expect(JSON.parse(line)).toMatchObject({ topic: '', attempts: 0 });
    expect(JSON.parse(line).reason).toMatch(/MQTT-4\.7\.3-1/);
    expect(await readMetric(metrics, 'tether_dead_letters_total', 'cloud')).toBe(1);
    // the remote never saw it: no disconnect on its account
    expect(running.output()).not.toMatch(/"endpoint":"cloud".*"msg":"disconnected"/);
    expect(await running.stop()).toBe(0);
  });
});
