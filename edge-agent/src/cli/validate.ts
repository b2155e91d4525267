import { ConfigError } from '@tether/shared';
import { loadBridgeConfig, loadHubConfig, readYamlFile } from '../config/load-config.js';

/**
 * `tether-agent validate`: every problem of every file, each with its field path; exit 2
 * when any file has one. A file given with --config that looks like a hub config (it has
 * `listen`) is checked as one, so both Baetyl service.yml files can be passed either way.
 */
export function validateCommand(config: string | undefined, hubConfig: string | undefined): number {
  let failed = false;
  const check = (file: string, kind: 'bridge' | 'hub') => {
    try {
      if (kind === 'hub') loadHubConfig(file);
      else loadBridgeConfig(file);
      console.log(`${file}: ok (${kind} config)`);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      failed = true;
      console.error(error.message);
    }
  };
  if (config) check(config, looksLikeHubConfig(config) ? 'hub' : 'bridge');
  if (hubConfig) check(hubConfig, 'hub');
  return failed ? 2 : 0;
}

function looksLikeHubConfig(file: string): boolean {
  try {
    const data = readYamlFile(file);
    return typeof data === 'object' && data !== null && 'listen' in data && !('remotes' in data);
  } catch {
    return false;
  }
}
