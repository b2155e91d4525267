import { execFile } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAgent } from '@tether/test-helpers/agent-process';
import { collectMessages, connectClient } from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { makeTlsFixture } from '@tether/test-helpers/tls-fixture';
import { sleep } from '@tether/test-helpers/wait-for';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { brokerUserArgs, runCloudCli, startKitBroker } from './provision-setup.js';

/**
 * `tether-cloud provision --provider local` end to end: the CA dir's broker kit runs Mosquitto as is,
 * the thing's bundle runs tether-agent as is (with the embedded hub), and the broker enforces the
 * thing's identity and policy.
 */
const td = new Teardown();
afterEach(() => td.run());

const execFileAsync = promisify(execFile);

interface Fleet {
  root: string;
  caDir: string;
  brokerPort: number;
  hubPort: number;
  edge: string;
  backend: string;
}

async function provisionFleet(): Promise<Fleet> {
  const root = tempDir(td, 'tether-provision-');
  const caDir = join(root, 'ca');
  const brokerPort = await freePort();
  const hubPort = await freePort();
  const edge = join(root, 'edge-1');
  const backend = join(root, 'backend');
  const common = ['--provider', 'local', '--ca-dir', caDir, ...brokerUserArgs()];
  const first = await runCloudCli([
    'provision',
    ...common,
    '--endpoint',
    `mqtts://127.0.0.1:${brokerPort}`,
    '--thing',
    'edge-1',
    '--out',
    edge,
    '--hub',
    `tcp://127.0.0.1:${hubPort}`,
    '--allow-pub',
    'devices/{thing}/up',
    '--allow-sub',
    'devices/{thing}/down',
  ]);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toContain(`run: tether-agent --config ${edge}`);
  // the cloud side of the test: a backend thing that reads every device's uplink and writes downlinks
  const second = await runCloudCli([
    'provision',
    ...common,
    '--thing',
    'backend',
    '--out',
    backend,
    '--allow-pub',
    'devices/+/down',
    '--allow-sub',
    'devices/+/up',
  ]);
  expect(second.code, second.stderr).toBe(0);
  return { root, caDir, brokerPort, hubPort, edge, backend };
}

function asThing(fleet: Fleet, bundle: string, clientId: string, protocolVersion: 4 | 5 = 5): Promise<MqttClient> {
  return connectClient(`mqtts://127.0.0.1:${fleet.brokerPort}`, {
    clientId,
    protocolVersion,
    tlsFiles: { ca: join(bundle, 'ca.pem'), cert: join(bundle, 'client.pem'), key: join(bundle, 'client.key') },
    teardown: td,
  });
}

describe('local provider, end to end', () => {
  it('the kit runs Mosquitto, the bundle runs tether-agent, and a message crosses both ways', async () => {
    // given a provisioned thing, the broker from the kit and the agent from the bundle with an embedded hub
    const fleet = await provisionFleet();
    expect((await stat(join(fleet.edge, 'client.key'))).mode & 0o777).toBe(0o600);
    const verified = await execFileAsync('openssl', [
      'verify',
      '-CAfile',
      join(fleet.edge, 'ca.pem'),
      join(fleet.edge, 'client.pem'),
    ]);
    expect(verified.stdout).toContain(': OK');
    await startKitBroker(fleet.caDir, fleet.brokerPort, td);
    const hubConfig = join(fleet.root, 'hub.yml');
    await writeFile(hubConfig, `listen:\n  - tcp://127.0.0.1:${fleet.hubPort}\n`);
    const agent = await startAgent({
      args: ['--config', fleet.edge, '--hub-config', hubConfig, '--data-dir', join(fleet.root, 'data')],
      teardown: td,
    });
    await agent.waitForLog(/"endpoint":"cloud".*"msg":"connected"/, 15_000);
    const backend = await asThing(fleet, fleet.backend, 'backend');
    const atCloud = await collectMessages(backend, 'devices/+/up', { qos: 1 });
    const device = await connectClient(`mqtt://127.0.0.1:${fleet.hubPort}`, { clientId: 'sensor', teardown: td });
    const atHub = await collectMessages(device, 'devices/edge-1/down', { qos: 1 });

    // when a device publishes at the hub what the thing may publish
    await device.publishAsync('devices/edge-1/up', '21.5', { qos: 1 });
    // then it reaches the cloud
    const [up] = await atCloud.waitForCount(1, 10_000);
    expect(up).toMatchObject({ topic: 'devices/edge-1/up', text: '21.5' });

    // when the cloud publishes what the thing may subscribe, it reaches the hub
    await backend.publishAsync('devices/edge-1/down', 'reboot', { qos: 1 });
    const [down] = await atHub.waitForCount(1, 10_000);
    expect(down).toMatchObject({ topic: 'devices/edge-1/down', text: 'reboot' });

    expect(await agent.stop()).toBe(0);
    expect(agent.output()).not.toContain('PRIVATE KEY');
  });

  it('refuses a certificate from another CA, enforces the policy, and a revoked certificate after a reload', async () => {
    const fleet = await provisionFleet();
    const broker = await startKitBroker(fleet.caDir, fleet.brokerPort, td);
    const backend = await asThing(fleet, fleet.backend, 'backend');
    const atCloud = await collectMessages(backend, 'devices/+/up', { qos: 1 });

    // a certificate with the thing's CN, signed by another CA, and no certificate at all: refused
    const other = await makeTlsFixture(join(fleet.root, 'other'), { clientCommonName: 'edge-1' });
    await expect(
      connectClient(`mqtts://127.0.0.1:${fleet.brokerPort}`, {
        clientId: 'impostor',
        tlsFiles: { ca: join(fleet.edge, 'ca.pem'), cert: other.otherClient.cert, key: other.otherClient.key },
        teardown: td,
      }),
    ).rejects.toThrow();
    await expect(
      connectClient(`mqtts://127.0.0.1:${fleet.brokerPort}`, {
        clientId: 'anonymous',
        tlsFiles: { ca: join(fleet.edge, 'ca.pem') },
        teardown: td,
      }),
    ).rejects.toThrow();

    // the thing itself: publishing outside its policy is refused (MQTT 5: PUBACK 0x87) and not delivered
    const thing = await asThing(fleet, fleet.edge, 'edge-1-direct');
    const refused = await thing.publishAsync('devices/edge-2/up', 'spoofed', { qos: 1 }).then(
      () => undefined,
      (error: { code?: number }) => error,
    );
    expect(refused?.code).toBe(0x87);
    await thing.publishAsync('devices/edge-1/up', 'own', { qos: 1 });
    const got = await atCloud.waitForCount(1, 5_000);
    expect(got.map((m) => m.text)).toEqual(['own']);

    // subscribing outside its policy gets nothing, while its own topic is delivered
    const own = await collectMessages(thing, 'devices/edge-1/down', { qos: 1 });
    const foreign: string[] = [];
    thing.on('message', (topic) => {
      if (topic === 'devices/edge-2/down') foreign.push(topic);
    });
    const granted = await thing.subscribeAsync('devices/edge-2/down', { qos: 1 });
    await backend.publishAsync('devices/edge-2/down', 'not for edge-1', { qos: 1 });
    await backend.publishAsync('devices/edge-1/down', 'for edge-1', { qos: 1 });
    await own.waitForCount(1, 5_000);
    await sleep(300); // the foreign message, had it been delivered, was published before the own one
    expect(foreign).toEqual([]);
    expect(granted.length).toBe(1);
    expect(atCloud.messages.map((m) => m.text)).toEqual(['own']);

    // revoked: once Mosquitto re-reads the CRL and ACL, the certificate no longer connects
    const revoked = await runCloudCli(['revoke', '--provider', 'local', '--ca-dir', fleet.caDir, '--thing', 'edge-1']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/thing edge-1: revoked [0-9a-f]+ at local/);
    await broker.reload();
    await expect(asThing(fleet, fleet.edge, 'edge-1-after')).rejects.toThrow();
    await expect(asThing(fleet, fleet.backend, 'backend-after')).resolves.toBeDefined();
  });
});
