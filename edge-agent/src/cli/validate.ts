import { isAbsolute, relative, resolve } from 'node:path';
import { type BridgeConfig, ConfigError, type HubConfig } from '@tether/shared';
import { type ConfigFileCheck, checkBridgeConfig, checkHubConfig, readYamlFile } from '../config/load-config.js';
import { verifyPassword } from '../hub/password-hash.js';

const EXIT_INVALID = 2;

/**
 * `tether-agent validate`: every problem of every file, one line each, `FILE: error: PATH: MESSAGE`
 * (or `warning:`), with the checks the start runs, then `FILE: ok (…)` for each file without an
 * error. Exit 2 when any file has an error; warnings alone exit 0. A file given with --config that
 * looks like a hub config (it has `listen`) is checked as one, so both Baetyl service.yml files can
 * be passed either way. Given a bridge config and the hub config it runs with, the bridge's hub
 * login is checked against the hub's principals too: a login the hub refuses is a problem now, not
 * at run time.
 */
export function validateCommand(config: string | undefined, hubConfig: string | undefined): number {
  let failed = false;
  const report = <T>(given: string, kind: 'bridge' | 'hub', run: () => ConfigFileCheck<T>): T | undefined => {
    let result: ConfigFileCheck<T>;
    try {
      result = run();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      result = { file: error.file, errors: error.problems, warnings: [], loaded: undefined };
    }
    const name = shown(given, result.file);
    for (const problem of result.errors) console.error(`${name}: error: ${problem}`);
    for (const problem of result.warnings) console.error(`${name}: warning: ${problem}`);
    if (result.errors.length > 0) {
      failed = true;
      return undefined;
    }
    const warnings = result.warnings.length;
    console.log(`${given}: ok (${kind} config${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''})`);
    return result.loaded?.config;
  };
  const asHub = config !== undefined && looksLikeHubConfig(config);
  const bridge = config && !asHub ? report<BridgeConfig>(config, 'bridge', () => checkBridgeConfig(config)) : undefined;
  if (config && asHub) report<HubConfig>(config, 'hub', () => checkHubConfig(config));
  const hub = hubConfig ? report<HubConfig>(hubConfig, 'hub', () => checkHubConfig(hubConfig)) : undefined;
  if (bridge && hub && config && hubConfig) {
    const problem = hubLoginProblem(bridge.hub, hub, hubConfig);
    if (problem) {
      failed = true;
      console.error(`${config}: error: ${problem}`);
    }
  }
  return failed ? EXIT_INVALID : 0;
}

/** Why the hub would refuse the bridge's login (TETHER_ERR_AUTH at run time), or undefined. */
function hubLoginProblem(
  login: { username?: string | undefined; password?: string | undefined },
  hub: HubConfig,
  hubFile: string,
): string | undefined {
  const principals = hub.principals;
  if (principals.length === 0 && !hub.anonymous) return undefined;
  if (login.username === undefined) {
    if (hub.anonymous) return undefined; // logs in as the hub's anonymous principal
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

/**
 * A file as the user named it; a file inside a bundle folder (its service.yml, bundle.json)
 * relative to the working directory when it is inside it.
 */
function shown(given: string, file: string): string {
  if (resolve(given) === file) return given;
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

function looksLikeHubConfig(file: string): boolean {
  try {
    const data = readYamlFile(file);
    return typeof data === 'object' && data !== null && 'listen' in data && !('remotes' in data);
  } catch {
    return false;
  }
}
