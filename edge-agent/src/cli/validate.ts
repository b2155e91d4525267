import { ConfigError } from '@tether/shared';
import { loadBridgeConfig, loadHubConfig, readYamlFile } from '../config/load-config.js';
import { verifyPassword } from '../hub/password-hash.js';

/**
 * `tether-agent validate`: every problem of every file, each with its field path; exit 2
 * when any file has one. A file given with --config that looks like a hub config (it has
 * `listen`) is checked as one, so both Baetyl service.yml files can be passed either way.
 * Given a bridge config and the hub config it runs with, the bridge's hub login is checked
 * against the hub's principals too: a login the hub refuses is a problem now, not at run time.
 */
export function validateCommand(config: string | undefined, hubConfig: string | undefined): number {
  let failed = false;
  const check = <T>(file: string, kind: 'bridge' | 'hub', load: (file: string) => T): T | undefined => {
    try {
      const loaded = load(file);
      console.log(`${file}: ok (${kind} config)`);
      return loaded;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      failed = true;
      console.error(error.message);
      return undefined;
    }
  };
  const asHub = config !== undefined && looksLikeHubConfig(config);
  const bridge = config && !asHub ? check(config, 'bridge', loadBridgeConfig) : undefined;
  if (config && asHub) check(config, 'hub', loadHubConfig);
  const hub = hubConfig ? check(hubConfig, 'hub', loadHubConfig) : undefined;
  if (bridge && hub && config && hubConfig) {
    const problem = hubLoginProblem(bridge.config.hub, hub.config.principals, hubConfig);
    if (problem) {
      failed = true;
      console.error(`${config}: hub login: ${problem}`);
    }
  }
  return failed ? 2 : 0;
}

/** Why the hub would refuse the bridge's login (as it does at CONNECT: hub-auth.ts), or undefined. */
function hubLoginProblem(
  login: { username?: string | undefined; password?: string | undefined },
  principals: readonly { username: string; password?: string | undefined }[],
  hubFile: string,
): string | undefined {
  if (principals.length === 0) return undefined;
  if (login.username === undefined) {
    return `hub.username: not set, and ${hubFile} has principals: the hub refuses the bridge (TETHER_ERR_AUTH)`;
  }
  const principal = principals.find((p) => p.username === login.username);
  if (!principal) return `hub.username: ${hubFile} has no principal ${login.username} (TETHER_ERR_AUTH at run time)`;
  if (principal.password === undefined) return undefined; // a certificate login
  if (login.password === undefined || !verifyPassword(principal.password, login.password)) {
    return `hub.password: not the password of principal ${login.username} in ${hubFile} (TETHER_ERR_AUTH at run time)`;
  }
  return undefined;
}

function looksLikeHubConfig(file: string): boolean {
  try {
    const data = readYamlFile(file);
    return typeof data === 'object' && data !== null && 'listen' in data && !('remotes' in data);
  } catch {
    return false;
  }
}
