import { readFileSync } from 'node:fs';
import { type HubClientConfig, TetherError } from '@tether/shared';
import { resolveConfigPath } from '../config/resolve-path.js';

/** Where and how to reach a broker, derived once from a Baetyl client block. */
export interface ConnectionTarget {
  readonly scheme: 'tcp' | 'ssl' | 'ws' | 'wss';
  readonly host: string;
  readonly port: number;
  /** Path for ws/wss (default /mqtt, as MQTT.js and most brokers use). */
  readonly path: string;
  /** The address as written in the config, for logs and errors. */
  readonly address: string;
}

const SCHEMES: Record<string, ConnectionTarget['scheme']> = {
  tcp: 'tcp',
  mqtt: 'tcp',
  ssl: 'ssl',
  mqtts: 'ssl',
  tls: 'ssl',
  ws: 'ws',
  wss: 'wss',
};
const DEFAULT_PORTS = { tcp: 1883, ssl: 8883, ws: 80, wss: 443 } as const;

export function parseAddress(address: string): ConnectionTarget {
  const url = new URL(address);
  const scheme = SCHEMES[url.protocol.replace(/:$/, '')];
  if (!scheme) throw new TetherError('TETHER_ERR_CONFIG', `unsupported address scheme in ${address}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[scheme];
  const path = url.pathname && url.pathname !== '/' ? url.pathname : '/mqtt';
  return { scheme, host, port, path, address };
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Reads `ca`, `cert` and `key` (Baetyl path rule); an unreadable file names its field. */
export function readTlsMaterial(
  config: Pick<HubClientConfig, 'ca' | 'cert' | 'key'>,
  configDir: string,
  fieldPrefix: string,
): TlsMaterial {
  const material: TlsMaterial = {};
  for (const field of ['ca', 'cert', 'key'] as const) {
    const path = config[field];
    if (!path) continue;
    const file = resolveConfigPath(path, configDir);
    try {
      material[field] = readFileSync(file);
    } catch (error) {
      throw new TetherError(
        'TETHER_ERR_CONFIG_FILE',
        `${fieldPrefix}.${field}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        { cause: error },
      );
    }
  }
  if (material.cert && !material.key) {
    throw new TetherError('TETHER_ERR_CONFIG', `${fieldPrefix}.key: a client certificate needs its key`);
  }
  return material;
}
