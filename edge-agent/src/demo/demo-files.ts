import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, issueCertificate, writePemFiles } from '@tether/node-shared/pki';
import { stringify } from 'yaml';

export interface DemoFiles {
  readonly dir: string;
  readonly hubConfig: string;
  readonly cloudConfig: string;
  readonly bridgeConfig: string;
  readonly certDir: string;
}

/**
 * Writes the quick start's files: the seed guide's hub and remote `service.yml`, with the
 * remote pointed at a local TLS stand-in for Baidu IoTHub, and a fresh CA with a server
 * certificate for the stand-in and a client certificate for the agent.
 */
export async function writeDemoFiles(dir: string, ports: { hub: number; cloud: number }): Promise<DemoFiles> {
  const certDir = join(dir, 'var/db/baetyl/cert');
  await mkdir(certDir, { recursive: true });
  const ca = await createCa({ commonName: 'Tether demo CA' });
  await writePemFiles(certDir, 'ca', ca);
  await writePemFiles(certDir, 'server', await issueCertificate(ca, { commonName: 'localhost', usage: 'server' }));
  await writePemFiles(
    certDir,
    'client',
    await issueCertificate(ca, { commonName: 'remote-iothub-1', usage: 'client' }),
  );

  // The seed's Baetyl-Hub config, listening on loopback only.
  const hub = {
    listen: [`tcp://127.0.0.1:${ports.hub}`],
    principals: [
      {
        username: 'test',
        password: 'hahaha',
        permissions: [
          { action: 'pub', permit: ['#'] },
          { action: 'sub', permit: ['#'] },
        ],
      },
    ],
    logger: { level: 'info' },
  };
  // The stand-in cloud: mutual TLS, the client certificate's CN is the username.
  const cloud = {
    listen: [`ssl://127.0.0.1:${ports.cloud}`],
    certificate: {
      ca: 'var/db/baetyl/cert/ca.pem',
      cert: 'var/db/baetyl/cert/server.pem',
      key: 'var/db/baetyl/cert/server.key',
    },
    principals: [
      {
        username: 'remote-iothub-1',
        permissions: [
          { action: 'pub', permit: ['#'] },
          { action: 'sub', permit: ['#'] },
        ],
      },
      {
        username: 'mqttfx',
        password: 'demo',
        permissions: [
          { action: 'pub', permit: ['#'] },
          { action: 'sub', permit: ['#'] },
        ],
      },
    ],
  };
  // The seed's Baetyl-Remote-MQTT config, verbatim but for the remote's address.
  const bridge = {
    name: 'remote-iothub',
    hub: { address: 'tcp://localhub:1883', username: 'test', password: 'hahaha' },
    remotes: [
      {
        name: 'iothub',
        address: `ssl://127.0.0.1:${ports.cloud}`,
        clientid: 'remote-iothub-1',
        username: 'xxxx/test',
        ca: 'var/db/baetyl/cert/ca.pem',
        cert: 'var/db/baetyl/cert/client.pem',
        key: 'var/db/baetyl/cert/client.key',
      },
    ],
    rules: [
      {
        hub: { subscriptions: [{ topic: 't1' }] },
        remote: { name: 'iothub', subscriptions: [{ topic: 't2', qos: 1 }] },
      },
    ],
    logger: { level: 'info' },
  };
  const files = {
    dir,
    certDir,
    hubConfig: join(dir, 'localhub-service.yml'),
    cloudConfig: join(dir, 'cloud-standin-service.yml'),
    bridgeConfig: join(dir, 'remote-iothub-service.yml'),
  };
  await writeFile(files.hubConfig, stringify(hub));
  await writeFile(files.cloudConfig, stringify(cloud));
  await writeFile(files.bridgeConfig, stringify(bridge));
  return files;
}
