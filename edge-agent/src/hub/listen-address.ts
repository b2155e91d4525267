import { TetherError } from '@tether/shared';

/** One `listen` entry of the hub config, normalised to the four transports Baetyl had. */
export interface ListenAddress {
  readonly transport: 'tcp' | 'ssl' | 'ws' | 'wss';
  /** Empty means every interface (Baetyl accepted `tcp://:1883`). */
  readonly host: string;
  readonly port: number;
  /** WebSocket path; undefined accepts any path. */
  readonly path: string | undefined;
}

const ALIASES: Record<string, ListenAddress['transport']> = {
  tcp: 'tcp',
  mqtt: 'tcp',
  ssl: 'ssl',
  tls: 'ssl',
  mqtts: 'ssl',
  ws: 'ws',
  wss: 'wss',
};

// Not `new URL()`: it refuses an empty host and keeps IPv6 brackets in `hostname`.
const SHAPE = /^([a-z]+):\/\/(\[[^\]]*\]|[^\s/]*?):(\d+)(\/.*)?$/;

export function parseListenAddress(url: string): ListenAddress {
  const m = SHAPE.exec(url);
  const transport = m ? ALIASES[m[1] as string] : undefined;
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !transport || !(port >= 0 && port <= 65535)) {
    throw new TetherError(
      'TETHER_ERR_CONFIG',
      `listen: cannot use "${url}" (expected tcp://HOST:PORT, ssl://, ws://, wss://)`,
    );
  }
  const host = (m[2] as string).replace(/^\[(.*)\]$/, '$1');
  const rawPath = m[4];
  const path = (transport === 'ws' || transport === 'wss') && rawPath && rawPath !== '/' ? rawPath : undefined;
  return { transport, host, port, path };
}

/** The URL a client would use for a bound socket, e.g. `tcp://127.0.0.1:41234`. */
export function formatListenUrl(transport: ListenAddress['transport'], host: string, port: number, path?: string) {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${transport}://${h}:${port}${path ?? ''}`;
}
