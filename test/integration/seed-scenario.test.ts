import { join } from 'node:path';
import { type AgentProcess, startAgent } from '@tether/test-helpers/agent-process';
import { type MosquittoProcess, mutualTls, startMosquitto } from '@tether/test-helpers/mosquitto';
import {
  cliBrokerArgs,
  collectMessages,
  connectClient,
  mosquittoPub,
  mosquittoSub,
} from '@tether/test-helpers/mqtt-clients';
import { SEED_LOGIN } from '@tether/test-helpers/seed';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import { type SeedLayout, writeSeedLayout } from './seed-setup.js';

/**
 * The seed guide, end to end, with Tether in place of Baetyl-Hub and Baetyl-Remote-MQTT:
 * MQTTBox → hub → agent → cloud → MQTT.fx on t1, and back on t2. Mosquitto with mutual TLS
 * plays Baidu IoTHub; the hub is Mosquitto (external) or Tether's embedded hub.
 */
const td = new Teardown();
afterEach(() => td.run());

async function startCloud(seed: SeedLayout, root: string): Promise<MosquittoProcess> {
  return startMosquitto({
    dir: join(root, 'cloud'),
    port: seed.remotePort,
    tls: mutualTls(seed.certs),
    teardown: td,
  });
}

function cloudClient(seed: SeedLayout, clientId = 'mqttfx') {
  return connectClient(`mqtts://127.0.0.1:${seed.remotePort}`, {
    clientId,
    tlsFiles: { ca: seed.certs.ca, cert: seed.certs.client.cert, key: seed.certs.client.key },
    teardown: td,
  });
}

async function expectBothDirections(seed: SeedLayout, agent: AgentProcess): Promise<void> {
  const hubArgs = cliBrokerArgs({ port: seed.hubPort, ...SEED_LOGIN });
  // MQTT.fx subscribes t1 at the cloud, MQTTBox subscribes t2 at the hub
  const mqttfx = await cloudClient(seed);
  const atCloud = await collectMessages(mqttfx, 't1', { qos: 1 });
  const mqttbox = await mosquittoSub([...hubArgs, '-t', 't2', '-q', '1'], { teardown: td });
  // the agent is connected on both sides once it subscribed
  await agent.waitForLog(/"endpoint":"iothub".*"msg":"connected"/, 15_000);

  // when MQTTBox publishes on t1 at the hub
  const pub = await mosquittoPub([...hubArgs, '-t', 't1', '-q', '1', '-m', 'This message is from MQTTBox.']);
  expect(pub.code).toBe(0);
  // then MQTT.fx receives it from the cloud
  const [up] = await atCloud.waitForCount(1, 10_000);
  expect(up?.text).toBe('This message is from MQTTBox.');

  // when MQTT.fx publishes on t2 at the cloud, MQTTBox receives it at the hub
  await mqttfx.publishAsync('t2', 'This message is from MQTT.fx.', { qos: 1 });
  expect(await mqttbox.waitForMessages(1, 10_000)).toEqual(['This message is from MQTT.fx.']);
}

describe('the seed scenario', () => {
  it('works with Mosquitto as the hub and the seed config files unchanged but for addresses', async () => {
    // given the guide's layout, Mosquitto as hub (user test) and as the cloud (mutual TLS)
    const root = tempDir(td, 'tether-seed-');
    const seed = await writeSeedLayout(root);
    await startMosquitto({
      dir: join(root, 'hub'),
      port: seed.hubPort,
      users: { [SEED_LOGIN.username]: SEED_LOGIN.password },
      teardown: td,
    });
    await startCloud(seed, root);
    // and the agent run from the Baetyl root, so `var/db/baetyl/cert/…` resolves as in Baetyl
    const agent = await startAgent({ args: ['--config', seed.bridgeConfig], cwd: root, teardown: td });

    await expectBothDirections(seed, agent);

    // SIGTERM: a clean stop with exit 0, and no secret in any log line
    expect(await agent.stop('SIGTERM')).toBe(0);
    expect(agent.output()).not.toContain(SEED_LOGIN.password);
  });

  it('works with the embedded hub from the seed hub config, the bridge attached in process', async () => {
    const root = tempDir(td, 'tether-seed-');
    // the hub address is the guide's own `tcp://localhub:1883`: in process it is not dialled
    const seed = await writeSeedLayout(root, { hubAddress: () => 'tcp://localhub:1883' });
    await startCloud(seed, root);
    const agent = await startAgent({
      args: ['--config', seed.bridgeConfig, '--hub-config', seed.hubConfig],
      cwd: root,
      teardown: td,
    });
    await agent.waitForLog(/embedded hub listening/, 10_000);

    await expectBothDirections(seed, agent);

    expect(await agent.stop('SIGINT')).toBe(0);
    expect(agent.output()).not.toContain(SEED_LOGIN.password);
  });

  it('carries QoS, retain and wildcard subscriptions with the embedded hub', async () => {
    const root = tempDir(td, 'tether-seed-');
    const seed = await writeSeedLayout(root, {
      bridge: (config) => {
        config.rules[0].hub.subscriptions = [{ topic: 'sensors/+/temp', qos: 1 }];
        config.rules[0].remote.subscriptions = [{ topic: 'cmd/#', qos: 0 }];
      },
    });
    await startCloud(seed, root);
    const agent = await startAgent({
      args: ['--config', seed.bridgeConfig, '--hub-config', seed.hubConfig],
      cwd: root,
      teardown: td,
    });
    await agent.waitForLog(/"endpoint":"iothub".*"msg":"connected"/, 15_000);
    const mqttfx = await cloudClient(seed);
    const atCloud = await collectMessages(mqttfx, '#', { qos: 1 });
    const device = await connectClient(`mqtt://127.0.0.1:${seed.hubPort}`, {
      ...SEED_LOGIN,
      teardown: td,
    });
    const atHub = await collectMessages(device, 'cmd/#', { qos: 1 });

    // QoS 1 retained on a matching topic, QoS 0 on another match, and a topic the filter does not match
    await device.publishAsync('sensors/a/temp', '21.5', { qos: 1, retain: true });
    await device.publishAsync('sensors/b/temp', '19.0', { qos: 0 });
    await device.publishAsync('sensors/a/humidity', '40', { qos: 1 });
    await device.publishAsync('sensors/c/temp', 'last', { qos: 1 });
    // `#` also matches the agent's own retained connection state (notifications.remotetopic)
    const forwarded = () => atCloud.messages.filter((m) => m.topic !== 'tether/remote-iothub-1/state');
    await waitFor(() => forwarded().length >= 3, { what: 'three forwarded messages at the cloud', timeoutMs: 10_000 });
    const up = forwarded();
    expect(up.map((m) => [m.topic, m.text, m.qos])).toEqual([
      ['sensors/a/temp', '21.5', 1],
      ['sensors/b/temp', '19.0', 0],
      ['sensors/c/temp', 'last', 1],
    ]);
    // the retain flag crossed: a late subscriber at the cloud gets the retained value
    const late = await cloudClient(seed, 'late-subscriber');
    const retained = await collectMessages(late, 'sensors/a/temp', { qos: 1 });
    const [kept] = await retained.waitForCount(1, 5_000);
    expect(kept).toMatchObject({ text: '21.5', retain: true });

    // downlink: forwarded QoS = min(message QoS, subscription QoS) = 0
    await mqttfx.publishAsync('cmd/reboot', 'now', { qos: 1 });
    const [down] = await atHub.waitForCount(1, 10_000);
    expect(down).toMatchObject({ topic: 'cmd/reboot', text: 'now', qos: 0 });
  });
});
