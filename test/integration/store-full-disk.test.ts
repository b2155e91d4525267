import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent } from '@tether/test-helpers/agent-process';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { connectClient, connected } from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { readMetric } from '@tether/test-helpers/sequence';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

/**
 * Issue 18 item 2 end to end: Mosquitto hub → agent (data dir on a 12 MB tmpfs) → Mosquitto cloud,
 * the cloud away while 8 KiB messages arrive until the store is full. The hub link must stay up
 * (paused by the acks it waits for, not reconnected), and once the cloud is back every message
 * arrives: 0 lost, duplicates no more than the in-flight window.
 */
const td = new Teardown();
afterEach(() => td.run());
const N = 1_000;
const INFLIGHT = 100;
const payload = (n: number) => Buffer.concat([Buffer.from(`${n};`), Buffer.alloc(8 * 1024, 0x61)]);

describe.skipIf(process.getuid?.() !== 0)('a full disk under the agent', () => {
  it('pauses the hub link while full, and delivers everything once the cloud takes the backlog', async () => {
    const root = tempDir(td, 'tether-full-');
    const dataDisk = join(root, 'disk');
    execFileSync('mkdir', ['-p', dataDisk]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', dataDisk]);
    td.add('unmount the data disk', () => execFileSync('umount', ['-l', dataDisk]));

    const hub = await startMosquitto({
      dir: join(root, 'hub'),
      name: 'hub',
      extraConf: 'max_queued_messages 0\n',
      teardown: td,
    });
    // the cloud holds the sink's session while it is away, so nothing the agent sends later is missed
    const remotePort = await freePort();
    const cloud = await startMosquitto({
      dir: join(root, 'cloud'),
      name: 'cloud',
      port: remotePort,
      persistence: true,
      extraConf: 'max_queued_messages 0\n',
      teardown: td,
    });
    const first = await connectClient(cloud.url, { clientId: 'sink', clean: false, teardown: td });
    await first.subscribeAsync('seq', { qos: 1 });
    await first.endAsync();
    await cloud.stop();

    const backoff = { min: 200, max: 200, jitter: 0 };
    const configFile = join(root, 'bridge.yml');
    await writeFile(
      configFile,
      stringify({
        name: 'full',
        hub: { address: hub.url.replace('mqtt://', 'tcp://'), clientid: 'edge-1', backoff },
        remotes: [{ name: 'cloud', address: `tcp://127.0.0.1:${remotePort}`, clientid: 'edge-1', backoff }],
        rules: [{ hub: { subscriptions: [{ topic: 'seq', qos: 1 }] }, remote: { name: 'cloud' } }],
        queue: { memory: 50, inflight: INFLIGHT },
        metrics: { listen: '127.0.0.1:0' },
        logger: { level: 'info' },
      }),
    );
    const agent = await startAgent({
      args: ['--config', configFile, '--data-dir', join(dataDisk, 'data')],
      cwd: root,
      teardown: td,
    });
    const metrics = /"url":"([^"]+)"/.exec(await agent.waitForLog(/metrics listening/, 10_000))?.[1] as string;
    await waitFor(async () => (await readMetric(metrics, 'tether_connection_up', 'hub/')) === 1, {
      what: 'hub connection up',
      timeoutMs: 10_000,
    });

    // 8 MB offered; the disk takes about 3 MB before the store's reserve
    const publisher = await connectClient(hub.url, { clientId: 'publisher', teardown: td });
    for (let n = 0; n < N; n++) publisher.publish('seq', payload(n), { qos: 1 });
    await agent.waitForLog(/disk full/, 30_000);
    expect(await readMetric(metrics, 'tether_connection_up', 'hub/')).toBe(1);

    await cloud.restart();
    const arrivals: number[] = [];
    const sink = mqtt.connect(cloud.url, { clientId: 'sink', clean: false, reconnectPeriod: 0 });
    td.add('sink client', () => sink.endAsync(true));
    sink.on('message', (_topic, p) => arrivals.push(Number.parseInt(p.toString('latin1', 0, 12), 10)));
    await connected(sink);
    await waitFor(() => new Set(arrivals).size === N, {
      what: `all ${N} messages at the sink`,
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    await agent.waitForLog(/room again/, 10_000);
    const distinct = new Set(arrivals);
    expect(Array.from({ length: N }, (_, n) => n).filter((n) => !distinct.has(n))).toEqual([]);
    expect(arrivals.length - distinct.size).toBeLessThanOrEqual(INFLIGHT);
    // paused, not reconnected: one "disk full" line, no "not stored" line, the hub link never dropped
    const out = agent.output();
    expect(out.match(/disk full/g)).toHaveLength(1);
    expect(out).not.toMatch(/message not stored/);
    expect(await readMetric(metrics, 'tether_connection_up', 'hub/')).toBe(1);
  }, 120_000);
});
