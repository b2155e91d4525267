import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent } from '@tether/test-helpers/agent-process';
import { mutualTls, startMosquitto } from '@tether/test-helpers/mosquitto';
import { collectMessages, connectClient, connected } from '@tether/test-helpers/mqtt-clients';
import { SEED_LOGIN } from '@tether/test-helpers/seed';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { writeSeedLayout } from './seed-setup.js';

const td = new Teardown();
afterEach(() => td.run());

describe('a rule that bridges the same topic both ways', () => {
  it.each([
    ['MQTT 3.1.1 (echo guard)', 4],
    ['MQTT 5 (No Local)', 5],
  ])('does not loop with %s', async (_label, protocol) => {
    // given one rule: hub sync/# up to the cloud, cloud sync/# down to the hub, both via Mosquitto
    const root = tempDir(td, 'tether-bridge-');
    const seed = await writeSeedLayout(root, {
      remoteAddress: (port) => `tcp://127.0.0.1:${port}`,
      bridge: (config) => {
        for (const block of [config.hub, config.remotes[0]]) {
          delete block.ca;
          delete block.cert;
          delete block.key;
          block.protocol = protocol;
        }
        config.rules[0].hub.subscriptions = [{ topic: 'sync/#', qos: 1 }];
        config.rules[0].remote.subscriptions = [{ topic: 'sync/#', qos: 1 }];
      },
    });
    const hubBroker = await startMosquitto({
      dir: join(root, 'hub'),
      port: seed.hubPort,
      users: { [SEED_LOGIN.username]: SEED_LOGIN.password },
      teardown: td,
    });
    const cloudBroker = await startMosquitto({ dir: join(root, 'cloud'), port: seed.remotePort, teardown: td });
    const agent = await startAgent({ args: ['--config', seed.bridgeConfig], cwd: root, teardown: td });
    await agent.waitForLog(/"endpoint":"iothub".*"msg":"connected"/, 15_000);
    await agent.waitForLog(/bridge started/, 15_000);

    const device = await connectClient(hubBroker.url, {
      ...SEED_LOGIN,
      clientId: 'device',
      teardown: td,
    });
    const cloudApp = await connectClient(cloudBroker.url, { clientId: 'cloud-app', teardown: td });
    const atHub = await collectMessages(device, 'sync/#', { qos: 1 });
    const atCloud = await collectMessages(cloudApp, 'sync/#', { qos: 1 });

    // when the device publishes once at the hub
    await device.publishAsync('sync/state', 'from-hub', { qos: 1 });
    await atCloud.waitForCount(1, 10_000);
    // and then the cloud publishes a marker, which travels the same path as an echo would
    await cloudApp.publishAsync('sync/marker', 'from-cloud', { qos: 1 });
    await atHub.waitForCount(2, 10_000);
    // and the device publishes a second marker up
    await device.publishAsync('sync/marker2', 'from-hub-2', { qos: 1 });
    await atCloud.waitForCount(3, 10_000);

    // then each publish arrived once on the other side and never came back
    expect(atHub.messages.map((m) => m.text)).toEqual(['from-hub', 'from-cloud', 'from-hub-2']);
    expect(atCloud.messages.map((m) => m.text)).toEqual(['from-hub', 'from-cloud', 'from-hub-2']);
  });
});

describe('connectivity', () => {
  it('starts while the remote is down and delivers once it comes up', async () => {
    const root = tempDir(td, 'tether-bridge-');
    const seed = await writeSeedLayout(root, {
      bridge: (config) => {
        config.rules[0].hub.subscriptions = [{ topic: 't1', qos: 1 }];
        config.remotes[0].backoff = { min: '100ms', max: '500ms' };
      },
    });
    // the cloud app's persistent session is made first, then the cloud goes down: whatever the
    // agent delivers the moment the cloud is back is kept for the app, however fast it reconnects
    const cloud = await startMosquitto({
      dir: join(root, 'cloud'),
      port: seed.remotePort,
      persistence: true,
      tls: mutualTls(seed.certs),
      teardown: td,
    });
    const tlsFiles = { ca: seed.certs.ca, cert: seed.certs.client.cert, key: seed.certs.client.key };
    const session = await connectClient(cloud.url, { clientId: 'app', clean: false, tlsFiles, teardown: td });
    await session.subscribeAsync('t1', { qos: 1 });
    await session.endAsync();
    await cloud.stop();

    const agent = await startAgent({
      args: ['--config', seed.bridgeConfig, '--hub-config', seed.hubConfig],
      cwd: root,
      teardown: td,
    });
    // the failure is reported once, with the remote's name and the reason, not a stack trace
    await agent.waitForLog(/"endpoint":"iothub".*connection refused by ssl:\/\/127\.0\.0\.1/, 10_000);
    const device = await connectClient(`mqtt://127.0.0.1:${seed.hubPort}`, {
      ...SEED_LOGIN,
      teardown: td,
    });
    await device.publishAsync('t1', 'sent-while-down', { qos: 1 });

    // when the cloud comes up
    await cloud.restart();
    const app = mqtt.connect(cloud.url, {
      clientId: 'app',
      clean: false,
      reconnectPeriod: 0,
      ca: await readFile(tlsFiles.ca),
      cert: await readFile(tlsFiles.cert),
      key: await readFile(tlsFiles.key),
    });
    td.add('app client', () => app.endAsync(true));
    const got: string[] = [];
    app.on('message', (topic, payload) => {
      if (topic === 't1') got.push(payload.toString());
    });
    await connected(app);
    // then what was published while it was down arrives, and new traffic flows
    await agent.waitForLog(/"endpoint":"iothub".*"msg":"connected"/, 10_000);
    await device.publishAsync('t1', 'sent-after-up', { qos: 1 });
    await waitFor(() => got.length >= 2, { what: 'two messages at the cloud app', timeoutMs: 10_000 });
    expect(got).toEqual(['sent-while-down', 'sent-after-up']);
    const refusals = agent
      .output()
      .split('\n')
      .filter((l) => l.includes('connection refused'));
    expect(refusals).toHaveLength(1);
    expect(agent.output()).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
  });

  it.each([
    ['an untrusted CA', 'ca', /not signed by the configured CA/],
    [
      'an expired client certificate',
      'expired',
      /refused the client certificate|refused the TLS handshake|closed the connection before CONNACK/,
    ],
    [
      'a client certificate from another CA',
      'other',
      /refused the client certificate|refused the TLS handshake|closed the connection before CONNACK/,
    ],
  ])('reports %s once per attempt series, names the remote and keeps running', async (_label, variant, reason) => {
    const root = tempDir(td, 'tether-bridge-');
    const seed = await writeSeedLayout(root, {
      bridge: (config) => {
        config.remotes[0].backoff = { min: '50ms', max: '100ms' };
      },
    });
    const remote = (await import('yaml')).parse(
      await (await import('node:fs/promises')).readFile(seed.bridgeConfig, 'utf8'),
    );
    if (variant === 'ca') remote.remotes[0].ca = seed.certs.otherCa;
    if (variant === 'expired') {
      remote.remotes[0].cert = seed.certs.expiredClient.cert;
      remote.remotes[0].key = seed.certs.expiredClient.key;
    }
    if (variant === 'other') {
      remote.remotes[0].cert = seed.certs.otherClient.cert;
      remote.remotes[0].key = seed.certs.otherClient.key;
    }
    await (await import('node:fs/promises')).writeFile(seed.bridgeConfig, (await import('yaml')).stringify(remote));
    await startMosquitto({
      dir: join(root, 'cloud'),
      port: seed.remotePort,
      tls: mutualTls(seed.certs),
      teardown: td,
    });
    const agent = await startAgent({
      args: ['--config', seed.bridgeConfig, '--hub-config', seed.hubConfig],
      cwd: root,
      teardown: td,
    });
    const line = await agent.waitForLog(
      /"endpoint":"iothub".*"level":"error"|"level":"error".*"endpoint":"iothub"/,
      10_000,
    );
    expect(line).toMatch(reason);
    expect(line).toContain('iothub');
    // many retries later (50–100 ms apart) it is still one error line, and the agent still runs
    await agent.waitForLog(/embedded hub listening/, 5_000);
    await new Promise((r) => setTimeout(r, 1_500));
    const errors = agent
      .output()
      .split('\n')
      .filter((l) => l.includes('"level":"error"'));
    expect(errors).toHaveLength(1);
    expect(agent.running).toBe(true);
    expect(agent.output()).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('reports a wrong password at the remote with the remote name', async () => {
    const root = tempDir(td, 'tether-bridge-');
    const seed = await writeSeedLayout(root, {
      remoteAddress: (port) => `tcp://127.0.0.1:${port}`,
      bridge: (config) => {
        delete config.remotes[0].ca;
        delete config.remotes[0].cert;
        delete config.remotes[0].key;
        config.remotes[0].username = 'edge';
        config.remotes[0].password = 'wrong-secret';
      },
    });
    await startMosquitto({
      dir: join(root, 'cloud'),
      port: seed.remotePort,
      users: { edge: 'right-secret' },
      teardown: td,
    });
    const agent = await startAgent({
      args: ['--config', seed.bridgeConfig, '--hub-config', seed.hubConfig],
      cwd: root,
      teardown: td,
    });
    const line = await agent.waitForLog(/"level":"error"/, 10_000);
    expect(line).toContain('iothub');
    expect(line).toMatch(/bad username or password|not authorized/);
    expect(agent.output()).not.toContain('wrong-secret');
    expect(agent.output()).not.toContain(SEED_LOGIN.password);
  });
});
