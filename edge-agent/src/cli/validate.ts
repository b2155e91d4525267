import { isAbsolute, relative, resolve } from 'node:path';
import { ConfigError } from '@tether/shared';
import { type ConfigFileCheck, checkBridgeConfig, checkHubConfig, readYamlFile } from '../config/load-config.js';

const EXIT_INVALID = 2;

/**
 * `tether-agent validate`: every problem of every file, one line each, `FILE: error: PATH: MESSAGE`
 * (or `warning:`), with the checks the start runs, then `FILE: ok (…)` for each file without an error. Exit 2 when any file has an error; warnings
 * alone exit 0. A file given with --config that looks like a hub config (it has `listen`) is
 * checked as one, so both Baetyl service.yml files can be passed either way.
 */
export function validateCommand(config: string | undefined, hubConfig: string | undefined): number {
  let failed = false;
  const report = (given: string, kind: 'bridge' | 'hub', run: () => ConfigFileCheck<unknown>) => {
    let result: ConfigFileCheck<unknown>;
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
      return;
    }
    const warnings = result.warnings.length;
    console.log(`${given}: ok (${kind} config${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''})`);
  };
  if (config) {
    if (looksLikeHubConfig(config)) report(config, 'hub', () => checkHubConfig(config));
    else report(config, 'bridge', () => checkBridgeConfig(config));
  }
  if (hubConfig) report(hubConfig, 'hub', () => checkHubConfig(hubConfig));
  return failed ? EXIT_INVALID : 0;
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
