import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent } from '@tether/test-helpers/agent-process';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { connectClient } from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

/**
 * Connection state topics (Mosquitto's bridge notifications): a retained 1/0 on the hub for each
 * remote, and on the remote a retained 1 at connect with a Last Will of 0.
 */
const td = new Teardown();
afterEach(() => td.run());

/** Mosquitto's topic on the hub; outside `$SYS/` on the remote. */
const HUB_TOPIC = '$SYS/broker/connection/edge-1/state';
const REMOTE_TOPIC = 'tether/edge-1/state';

/** Every value `client` receives on `watched`, in order (retained ones included). */
async function watchState(client: MqttClient, watched: string): Promise<string[]> {
  const seen: string[] = [];
  client.on('message', (topic, payload) => {
    if (topic === watched) seen.push(payload.toString());
  });
  await client.subscribeAsync(watched, { qos: 1 });
  return seen;
}

const last = (values: string[]) => values[values.length - 1];

describe('state topics', () => {
  it('flip on the hub when the remote dies and comes back; the cloud sees the Will when the agent dies', async () => {
    const root = tempDir(td, 'tether-state-');
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), teardown: td });
    const hubPort = await freePort();
    await writeFile(join(root, 'hub.yml'), stringify({ listen: [`tcp://127.0.0.1:${hubPort}`] }));
    await writeFile(
      join(root, 'bridge.yml'),
      stringify({
        hub: { address: `tcp://127.0.0.1:${hubPort}` },
        remotes: [
          {
            name: 'cloud',
            address: cloud.url.replace('mqtt://', 'tcp://'),
            clientid: 'edge-1',
            backoff: { min: '100ms', max: '300ms' },
          },
        ],
        rules: [{ hub: { subscriptions: [{ topic: 'up/#', qos: 1 }] }, remote: { name: 'cloud' } }],
      }),
    );
    const agent = await startAgent({
      args: ['--config', 'bridge.yml', '--hub-config', 'hub.yml', '--data-dir', join(root, 'data')],
      cwd: root,
      teardown: td,
    });
    await agent.waitForLog(/bridge started/, 15_000);

    const local = await connectClient(`mqtt://127.0.0.1:${hubPort}`, { clientId: 'local-app', teardown: td });
    const atHub = await watchState(local, HUB_TOPIC);
    await waitFor(() => last(atHub) === '1', { what: `${HUB_TOPIC} = 1 on the hub`, timeoutMs: 10_000 });
    let app = await connectClient(cloud.url, { clientId: 'cloud-app', teardown: td });
    let atCloud = await watchState(app, REMOTE_TOPIC);
    await waitFor(() => last(atCloud) === '1', {
      what: `${REMOTE_TOPIC} = 1 (retained) at the cloud`,
      timeoutMs: 10_000,
    });

    await cloud.kill();
    await waitFor(() => last(atHub) === '0', {
      what: `${HUB_TOPIC} = 0 on the hub after the remote died`,
      timeoutMs: 10_000,
    });

    await cloud.restart();
    await waitFor(() => last(atHub) === '1', {
      what: `${HUB_TOPIC} = 1 on the hub once the remote is back`,
      timeoutMs: 10_000,
    });
    app = await connectClient(cloud.url, { clientId: 'cloud-app-2', teardown: td });
    atCloud = await watchState(app, REMOTE_TOPIC);
    await waitFor(() => last(atCloud) === '1', {
      what: `${REMOTE_TOPIC} = 1 at the restarted cloud`,
      timeoutMs: 10_000,
    });

    // a crash sends no DISCONNECT: the cloud broker publishes the agent's Last Will
    await agent.kill();
    await waitFor(() => last(atCloud) === '0', {
      what: `the Will (${REMOTE_TOPIC} = 0) at the cloud`,
      timeoutMs: 10_000,
    });
    expect(atHub.slice(atHub.indexOf('1'))).toEqual(['1', '0', '1']);
  }, 90_000);

  it('are published on an external hub through the bridge connection', async () => {
    const root = tempDir(td, 'tether-state-');
    const hub = await startMosquitto({ dir: join(root, 'hub'), name: 'hub', teardown: td });
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), name: 'cloud', teardown: td });
    await writeFile(
      join(root, 'bridge.yml'),
      stringify({
        hub: { address: hub.url.replace('mqtt://', 'tcp://'), clientid: 'bridge' },
        remotes: [
          {
            name: 'cloud',
            address: cloud.url.replace('mqtt://', 'tcp://'),
            clientid: 'edge-1',
            backoff: { min: '100ms', max: '300ms' },
          },
        ],
        rules: [{ hub: { subscriptions: [{ topic: 'up/#', qos: 1 }] }, remote: { name: 'cloud' } }],
      }),
    );
    const agent = await startAgent({
      args: ['--config', 'bridge.yml', '--data-dir', join(root, 'data')],
      cwd: root,
      teardown: td,
    });
    await agent.waitForLog(/bridge started/, 15_000);
    const local = await connectClient(hub.url, { clientId: 'local-app', teardown: td });
    const atHub = await watchState(local, HUB_TOPIC);
    await waitFor(() => last(atHub) === '1', { what: `${HUB_TOPIC} = 1 on Mosquitto`, timeoutMs: 10_000 });
    await cloud.kill();
    await waitFor(() => last(atHub) === '0', { what: `${HUB_TOPIC} = 0 on Mosquitto`, timeoutMs: 10_000 });
    // a clean stop leaves 0 behind (retained)
    await cloud.restart();
    await waitFor(() => last(atHub) === '1', { what: `${HUB_TOPIC} = 1 again`, timeoutMs: 10_000 });
    expect(await agent.stop()).toBe(0);
    const later = await connectClient(hub.url, { clientId: 'later-app', teardown: td });
    const retained = await watchState(later, HUB_TOPIC);
    await waitFor(() => retained.length > 0, { what: 'the retained state', timeoutMs: 5_000 });
    expect(retained).toEqual(['0']);
  }, 60_000);
});
