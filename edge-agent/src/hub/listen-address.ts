import { type ListenAddress, readListenAddress, TetherError } from '@tether/shared';

export type { ListenAddress };

/** The schema checked every `listen` entry with the same reader, so a loaded config never fails here. */
export function parseListenAddress(url: string): ListenAddress {
  const read = readListenAddress(url);
  if (!read.ok) throw new TetherError('TETHER_ERR_CONFIG', `listen: cannot use "${url}": ${read.problem}`);
  return read.value;
}

/** The URL a client would use for a bound socket, e.g. `tcp://127.0.0.1:41234`. */
export function formatListenUrl(transport: ListenAddress['transport'], host: string, port: number, path?: string) {
  const h = host.includes(':') ? `[${host}]` : host;
  return `${transport}://${h}:${port}${path ?? ''}`;
}
