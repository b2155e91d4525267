import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent } from '@tether/test-helpers/agent-process';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { collectMessages, connectClient } from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

const td = new Teardown();
afterEach(() => td.run());

describe('several remotes and rules', () => {
  it('routes each rule to its remote with topic mapping, both ways, through an external Mosquitto hub', async () => {
    const root = tempDir(td, 'tether-multi-');
    const hub = await startMosquitto({ dir: join(root, 'hub'), name: 'hub', teardown: td });
    const cloudA = await startMosquitto({ dir: join(root, 'a'), name: 'a', teardown: td });
    const cloudB = await startMosquitto({ dir: join(root, 'b'), name: 'b', teardown: td });
    const config = {
      name: 'multi',
      hub: { address: hub.url, clientid: 'edge-hub' },
      remotes: [
        { name: 'a', address: cloudA.url, clientid: 'edge-a', protocol: '5' },
        { name: 'b', address: cloudB.url, clientid: 'edge-b' },
      ],
      rules: [
        // telemetry to a, under the site's prefix; commands from a, prefix stripped
        {
          hub: { subscriptions: [{ topic: 'telemetry/#', qos: 1, target: { prefix: 'site-7/' } }] },
          remote: { name: 'a', subscriptions: [{ topic: 'site-7/cmd/#', qos: 1, target: { strip: 'site-7/' } }] },
        },
        // alarms to both clouds, to b with a template
        { hub: { subscriptions: [{ topic: 'alarm/+', qos: 1 }] }, remote: { name: 'a' } },
        {
          hub: { subscriptions: [{ topic: 'alarm/+', qos: 1, target: { topic: 'edge/{1}/alarm' } }] },
          remote: { name: 'b' },
        },
      ],
      logger: { level: 'info' },
    };
    const file = join(root, 'bridge.yml');
    await writeFile(file, stringify(config));
    const agent = await startAgent({ args: ['--config', file], cwd: root, teardown: td });
    await agent.waitForLog(/bridge started/, 10_000);
    await waitFor(() => (agent.output().match(/"msg":"connected"/g) ?? []).length >= 3, {
      what: 'three connections',
      timeoutMs: 10_000,
    });

    const device = await connectClient(hub.url, { clientId: 'device', teardown: td });
    const appA = await connectClient(cloudA.url, { clientId: 'app-a', teardown: td });
    const appB = await connectClient(cloudB.url, { clientId: 'app-b', teardown: td });
    const atA = await collectMessages(appA, 'site-7/telemetry/#', { qos: 1 });
    const alarmsA = await collectMessages(appA, 'alarm/#', { qos: 1 });
    const atB = await collectMessages(appB, 'edge/#', { qos: 1 });
    const atDevice = await collectMessages(device, 'cmd/#', { qos: 1 });

    await device.publishAsync('telemetry/pump/1', 'p1', { qos: 1 });
    await device.publishAsync('alarm/fire', 'a1', { qos: 1 });
    await appA.publishAsync('site-7/cmd/stop', 'c1', { qos: 1 });

    expect((await atA.waitForCount(1)).map((m) => m.topic)).toEqual(['site-7/telemetry/pump/1']);
    expect((await alarmsA.waitForCount(1)).map((m) => m.topic)).toEqual(['alarm/fire']);
    expect((await atB.waitForCount(1)).map((m) => [m.topic, m.text])).toEqual([['edge/fire/alarm', 'a1']]);
    expect((await atDevice.waitForCount(1)).map((m) => [m.topic, m.text])).toEqual([['cmd/stop', 'c1']]);
  });

  it('starts while the external hub is down and bridges once it is up; writes logger.path from the Baetyl root', async () => {
    const root = tempDir(td, 'tether-multi-');
    const hubPort = await freePort();
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), name: 'cloud', teardown: td });
    const config = {
      hub: { address: `tcp://127.0.0.1:${hubPort}`, backoff: { min: '100ms', max: '300ms' } },
      remotes: [{ name: 'cloud', address: cloud.url }],
      rules: [{ hub: { subscriptions: [{ topic: 'up', qos: 1 }] }, remote: { name: 'cloud' } }],
      logger: { path: 'var/log/baetyl/remote-service.log', level: 'info' },
    };
    const file = join(root, 'etc', 'service.yml');
    await (await import('node:fs/promises')).mkdir(join(root, 'etc'));
    await writeFile(file, stringify(config));
    const agent = await startAgent({ args: ['--config', file], cwd: root, teardown: td });
    const log = join(root, 'var/log/baetyl/remote-service.log');
    await waitFor(async () => existsSync(log) && /connection refused/.test(await readFile(log, 'utf8')), {
      what: 'the refusal in the log file',
      timeoutMs: 10_000,
    });

    const hub = await startMosquitto({ dir: join(root, 'hub'), name: 'hub', port: hubPort, teardown: td });
    await waitFor(async () => (await readFile(log, 'utf8')).includes('"endpoint":"hub","address"'), {
      what: 'hub connected',
      timeoutMs: 10_000,
    });
    const app = await connectClient(cloud.url, { clientId: 'app', teardown: td });
    const atCloud = await collectMessages(app, 'up', { qos: 1 });
    const device = await connectClient(hub.url, { clientId: 'device', teardown: td });
    await device.publishAsync('up', 'hello', { qos: 1 });
    expect((await atCloud.waitForCount(1, 10_000)).map((m) => m.text)).toEqual(['hello']);
    expect(await agent.stop()).toBe(0);
  });
});
