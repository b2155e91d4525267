/**
 * One edge site for tests and benchmarks of the shipped agent: Mosquitto as the cloud, and the config
 * files of an agent whose embedded hub takes devices on a free port and bridges `up/#` (hub → cloud)
 * and `down/#` (cloud → hub) at QoS 1.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type MosquittoProcess, startMosquitto } from './mosquitto.js';
import { freePort } from './ports.js';
import type { Teardown } from './teardown.js';

export interface EdgeSite {
  readonly cloud: MosquittoProcess;
  /** `mqtt://127.0.0.1:PORT` of the embedded hub (user `device`, password `device-pw`). */
  readonly hubUrl: string;
  readonly hubPort: number;
  /** Folder with `service.yml` (bridge) and `hub.yml`. */
  readonly config: string;
  /** For `--data-dir` (not created). */
  readonly data: string;
  /** The agent's arguments for this site. */
  readonly args: string[];
}

export const DEVICE_LOGIN = { username: 'device', password: 'device-pw' } as const;

export async function startEdgeSite(dir: string, teardown: Teardown): Promise<EdgeSite> {
  const cloud = await startMosquitto({ dir: join(dir, 'cloud'), teardown });
  const hubPort = await freePort();
  const config = join(dir, 'etc');
  await mkdir(config, { recursive: true });
  await writeFile(
    join(config, 'hub.yml'),
    [
      `listen: ["tcp://127.0.0.1:${hubPort}"]`,
      'principals:',
      '  - { username: bridge, password: bridge-pw, permissions: [{ action: pub, permit: ["#"] }, { action: sub, permit: ["#"] }] }',
      `  - { username: ${DEVICE_LOGIN.username}, password: ${DEVICE_LOGIN.password}, permissions: [{ action: pub, permit: ["up/#"] }, { action: sub, permit: ["down/#"] }] }`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(config, 'service.yml'),
    [
      'name: edge-site',
      // the embedded hub is attached in process: this address is never dialled
      'hub: { address: "tcp://127.0.0.1:1", username: bridge, password: bridge-pw }',
      `remotes: [{ name: cloud, address: "${cloud.url}", clientid: edge-1 }]`,
      'rules:',
      '  - hub: { subscriptions: [{ topic: "up/#", qos: 1 }] }',
      '    remote: { name: cloud, subscriptions: [{ topic: "down/#", qos: 1 }] }',
      '',
    ].join('\n'),
  );
  const data = join(dir, 'data');
  return {
    cloud,
    hubUrl: `mqtt://127.0.0.1:${hubPort}`,
    hubPort,
    config,
    data,
    args: ['--config', join(config, 'service.yml'), '--hub-config', join(config, 'hub.yml'), '--data-dir', data],
  };
}

/** The agent's log line once its cloud connection is up and subscribed (nothing published there is missed). */
export const CLOUD_CONNECTED = /"endpoint":"cloud".*"msg":"connected"/;
