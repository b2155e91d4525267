import { type BrokerAddress, type HubClientConfig, readBrokerAddress, TetherError } from '@tether/shared';
import { readTlsFiles, type TlsMaterial } from '../config/tls-files.js';

export type { TlsMaterial };

/** Where and how to reach a broker, derived once from a Baetyl client block. */
export interface ConnectionTarget extends BrokerAddress {
  /** The address as written in the config, for logs and errors. */
  readonly address: string;
}

/** The schema checked the address with the same reader, so a loaded config never fails here. */
export function parseAddress(address: string): ConnectionTarget {
  const read = readBrokerAddress(address);
  if (!read.ok) throw new TetherError('TETHER_ERR_CONFIG', read.problem);
  return { ...read.value, address };
}

/** Reads `ca`, `cert` and `key` (Baetyl path rule) as `validate` checked them; a bad file names its field. */
export function readTlsMaterial(
  config: Pick<HubClientConfig, 'ca' | 'cert' | 'key'>,
  configDir: string,
  fieldPrefix: string,
): TlsMaterial {
  const { material, problems } = readTlsFiles(config, fieldPrefix, configDir);
  if (problems.length > 0) throw new TetherError('TETHER_ERR_CONFIG_FILE', problems.join('; '));
  return material;
}
