import { accessSync, constants, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type BridgeConfig,
  BridgeConfigSchema,
  ConfigError,
  formatIssues,
  type HubConfig,
  HubConfigSchema,
} from '@tether/shared';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { bundleServicePath } from './load-bundle.js';
import { resolveConfigPath } from './resolve-path.js';

export interface LoadedConfig<T> {
  readonly config: T;
  /** Absolute path of the file. */
  readonly file: string;
  /** Folder that relative paths in the file resolve against (then the working directory). */
  readonly dir: string;
}

/**
 * Reads and validates a Baetyl-Remote-MQTT `service.yml` (Tether's bridge config). `path` may also be a
 * provisioning bundle folder: its service.yml is read, relative paths resolving from the folder.
 */
export function loadBridgeConfig(path: string): LoadedConfig<BridgeConfig> {
  return load(bundleServicePath(path) ?? path, BridgeConfigSchema, (config, dir) => {
    const problems = fileProblems(config.hub, 'hub', dir);
    config.remotes.forEach((remote, i) => {
      problems.push(...fileProblems(remote, `remotes[${i}]`, dir));
    });
    return problems;
  });
}

/** Reads and validates a Baetyl-Hub `service.yml` (Tether's embedded hub config). */
export function loadHubConfig(path: string): LoadedConfig<HubConfig> {
  return load(path, HubConfigSchema, (config, dir) =>
    config.certificate ? fileProblems(config.certificate, 'certificate', dir) : [],
  );
}

/** Parses YAML text; syntax errors become config problems with line and column. */
export function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`(file): cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  try {
    const data: unknown = parseYaml(text);
    if (data === null || data === undefined) throw new ConfigError(file, ['(root): the file is empty']);
    return data;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (error instanceof YAMLParseError) {
      const at = error.linePos?.[0];
      throw new ConfigError(file, [
        `(yaml)${at ? ` line ${at.line}, column ${at.col}` : ''}: ${error.message.split('\n')[0]}`,
      ]);
    }
    throw error;
  }
}

function load<S extends z.ZodType>(
  path: string,
  schema: S,
  checkFiles: (config: z.output<S>, dir: string) => string[],
): LoadedConfig<z.output<S>> {
  const file = resolve(path);
  const dir = dirname(file);
  const result = schema.safeParse(readYamlFile(file));
  if (!result.success) throw new ConfigError(file, formatIssues(result.error.issues));
  const problems = checkFiles(result.data, dir);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return { config: result.data, file, dir };
}

/** Every `ca`/`cert`/`key` a block names must be readable now, not at the first connect. */
function fileProblems(
  block: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined },
  field: string,
  dir: string,
): string[] {
  const problems: string[] = [];
  for (const name of ['ca', 'cert', 'key'] as const) {
    const path = block[name];
    if (!path) continue;
    const file = resolveConfigPath(path, dir);
    try {
      accessSync(file, constants.R_OK);
    } catch (error) {
      problems.push(`${field}.${name}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (block.cert && !block.key) problems.push(`${field}.key: a client certificate (${field}.cert) needs its key`);
  if (block.key && !block.cert) problems.push(`${field}.cert: a key (${field}.key) needs its certificate`);
  return problems;
}
