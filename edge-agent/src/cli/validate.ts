import { isAbsolute, relative } from 'node:path';
import { ConfigError } from '@tether/shared';
import { type ConfigFileCheck, checkBridgeConfig, checkHubConfig, readYamlFile } from '../config/load-config.js';

const EXIT_INVALID = 2;

/**
 * `tether-agent validate`: every problem of every file, one line each, `FILE: error: PATH: MESSAGE`
 * (or `warning:`), with the checks the start runs. Exit 2 when any file has an error; warnings
 * alone exit 0. A file given with --config that looks like a hub config (it has `listen`) is
 * checked as one, so both Baetyl service.yml files can be passed either way.
 */
export function validateCommand(config: string | undefined, hubConfig: string | undefined): number {
  let failed = false;
  const report = (kind: 'bridge' | 'hub', run: () => ConfigFileCheck<unknown>) => {
    let result: ConfigFileCheck<unknown>;
    try {
      result = run();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      result = { file: error.file, errors: error.problems, warnings: [], loaded: undefined };
    }
    const name = shown(result.file);
    for (const problem of result.errors) console.error(`${name}: error: ${problem}`);
    for (const problem of result.warnings) console.error(`${name}: warning: ${problem}`);
    if (result.errors.length > 0) {
      failed = true;
      return;
    }
    const warnings = result.warnings.length;
    console.log(`${name}: ok (${kind} config${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''})`);
  };
  if (config) {
    if (looksLikeHubConfig(config)) report('hub', () => checkHubConfig(config));
    else report('bridge', () => checkBridgeConfig(config));
  }
  if (hubConfig) report('hub', () => checkHubConfig(hubConfig));
  return failed ? EXIT_INVALID : 0;
}

/** The path relative to the working directory when it is inside it, as a user typed it. */
function shown(file: string): string {
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
