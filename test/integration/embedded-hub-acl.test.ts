import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent } from '@tether/test-helpers/agent-process';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { collectMessages, connectClient } from '@tether/test-helpers/mqtt-clients';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { writeSeedLayout } from './seed-setup.js';

/**
 * The embedded hub enforces its principals on the bridge too: attached in process, the
 * bridge is held to its hub principal's permits exactly as a socket client would be.
 */
const td = new Teardown();
afterEach(() => td.run());

describe('the embedded hub with the agent', () => {
  it('refuses a bad password at CONNECT and holds the bridge and devices to their permits', async () => {
    const root = tempDir(td, 'tether-acl-');
    const seed = await writeSeedLayout(root, {
      remoteAddress: (port) => `tcp://127.0.0.1:${port}`,
      bridge: (config) => {
        delete config.remotes[0].ca;
        delete config.remotes[0].cert;
        delete config.remotes[0].key;
        config.hub.username = 'bridge';
        config.hub.password = 'bridge-secret';
        config.rules[0].hub.subscriptions = [
          { topic: 'up/#', qos: 1 },
          { topic: 'secret/#', qos: 1 },
        ];
        config.rules[0].remote.subscriptions = [{ topic: 'down/#', qos: 1 }];
      },
    });
    // the bridge principal may read up/# and write down/allowed only; the device has its own
    const hub = parse(await readFile(seed.hubConfig, 'utf8'));
    hub.principals = [
      {
        username: 'bridge',
        password: 'bridge-secret',
        permissions: [
          { action: 'sub', permit: ['up/#'] },
          { action: 'pub', permit: ['down/allowed'] },
        ],
      },
      {
        username: 'device',
        password: 'device-secret',
        permissions: [
          { action: 'pub', permit: ['up/#', 'secret/#'] },
          { action: 'sub', permit: ['down/#'] },
        ],
      },
    ];
    await writeFile(seed.hubConfig, stringify(hub));
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), port: seed.remotePort, teardown: td });
    const agent = await startAgent({
      args: ['--config', seed.bridgeConfig, '--hub-config', seed.hubConfig],
      cwd: root,
      teardown: td,
    });
    await agent.waitForLog(/bridge started/, 15_000);
    const hubUrl = `mqtt://127.0.0.1:${seed.hubPort}`;

    // a bad password is refused at CONNECT
    await expect(connectClient(hubUrl, { username: 'device', password: 'nope', teardown: td })).rejects.toThrow();
    // the bridge principal may not subscribe secret/#: reported, naming the hub and the filter
    await agent.waitForLog(/secret\/#/, 5_000);

    const device = await connectClient(hubUrl, {
      username: 'device',
      password: 'device-secret',
      clientId: 'device',
      teardown: td,
    });
    const app = await connectClient(cloud.url, { clientId: 'app', teardown: td });
    const atCloud = await collectMessages(app, 'up/#', { qos: 1 });
    const atDevice = await collectMessages(device, 'down/#', { qos: 1 });
    await agent.waitForLog(/"endpoint":"iothub".*"msg":"connected"/, 10_000);

    // up/# crosses; secret/# does not, because the bridge may not read it
    await device.publishAsync('secret/key', 'do-not-forward', { qos: 1 });
    await device.publishAsync('up/temp', '21', { qos: 1 });
    const [up] = await atCloud.waitForCount(1, 10_000);
    expect(up).toMatchObject({ topic: 'up/temp', text: '21' });

    // down/denied is refused by the hub for the bridge principal; down/allowed reaches the device
    await app.publishAsync('down/denied', 'no', { qos: 1 });
    await app.publishAsync('down/allowed', 'yes', { qos: 1 });
    const [down] = await atDevice.waitForCount(1, 10_000);
    expect(down).toMatchObject({ topic: 'down/allowed', text: 'yes' });
    await waitFor(() => /down\/denied/.test(agent.output()), {
      what: 'the refusal of down/denied in the log',
      timeoutMs: 5_000,
    });

    // a marker sent after both refusals arrives, and nothing refused arrived before it
    await device.publishAsync('up/marker', 'end', { qos: 1 });
    await atCloud.waitForCount(2, 10_000);
    expect(atCloud.messages.map((m) => m.topic)).toEqual(['up/temp', 'up/marker']);
    expect(atDevice.messages.map((m) => m.topic)).toEqual(['down/allowed']);
    expect(agent.output()).not.toMatch(/bridge-secret|device-secret/);
  });
});
