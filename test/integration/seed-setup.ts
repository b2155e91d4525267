import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '@tether/test-helpers/ports';
import { seedYaml } from '@tether/test-helpers/seed';
import { makeTlsFixture, type TlsFixture } from '@tether/test-helpers/tls-fixture';
import { stringify } from 'yaml';

/**
 * The seed guide's layout on disk: a Baetyl root with `var/db/baetyl/cert/` and the two
 * `service.yml` files, patched only where the guide points at hosts that do not exist here
 * (Baidu IoTHub's endpoint, the `0.0.0.0` listener).
 */
export interface SeedLayout {
  readonly root: string;
  readonly certs: TlsFixture;
  readonly bridgeConfig: string;
  readonly hubConfig: string;
  readonly hubPort: number;
  readonly remotePort: number;
}

export async function writeSeedLayout(
  root: string,
  patch: {
    remoteAddress?: (port: number) => string;
    hubAddress?: (port: number) => string;
    bridge?: (config: any) => void;
  } = {},
): Promise<SeedLayout> {
  const certDir = join(root, 'var/db/baetyl/cert');
  await mkdir(certDir, { recursive: true });
  const certs = await makeTlsFixture(certDir, { clientCommonName: 'remote-iothub-1' });
  const hubPort = await freePort();
  const remotePort = await freePort();

  const hub = seedYaml('hub-service.yml');
  hub.listen = [`tcp://127.0.0.1:${hubPort}`];
  delete hub.logger.path; // logs on stdout, where the test reads them
  const bridge = seedYaml('remote-service.yml');
  bridge.hub.address = patch.hubAddress ? patch.hubAddress(hubPort) : `tcp://127.0.0.1:${hubPort}`;
  bridge.remotes[0].address = patch.remoteAddress ? patch.remoteAddress(remotePort) : `ssl://127.0.0.1:${remotePort}`;
  delete bridge.logger.path;
  patch.bridge?.(bridge);

  const hubDir = join(root, 'var/db/baetyl/localhub-conf');
  const bridgeDir = join(root, 'var/db/baetyl/remote-iothub-conf');
  await mkdir(hubDir, { recursive: true });
  await mkdir(bridgeDir, { recursive: true });
  const hubConfig = join(hubDir, 'service.yml');
  const bridgeConfig = join(bridgeDir, 'service.yml');
  await writeFile(hubConfig, stringify(hub));
  await writeFile(bridgeConfig, stringify(bridge));
  return { root, certs, bridgeConfig, hubConfig, hubPort, remotePort };
}
