import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type BridgeConfig,
  BridgeConfigSchema,
  ConfigError,
  type ConfigProblems,
  checkConfig,
  type HubConfig,
  HubConfigSchema,
  partly,
  partlyList,
} from '@tether/shared';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { passwordHashProblem } from '../hub/password-hash.js';
import { bundleServicePath } from './load-bundle.js';
import { tlsFileProblems } from './tls-files.js';

export interface LoadedConfig<T> {
  readonly config: T;
  /** Absolute path of the file. */
  readonly file: string;
  /** Folder that relative paths in the file resolve against (then the working directory). */
  readonly dir: string;
  /** Unknown keys in Baetyl's sections, left out (Baetyl ignored them): worth a look, not a refusal. */
  readonly warnings: readonly string[];
}

/** Every problem of one file, with the config when it has no error. */
export interface ConfigFileCheck<T> extends ConfigProblems {
  readonly file: string;
  readonly loaded: LoadedConfig<T> | undefined;
}

/**
 * Checks a Baetyl-Remote-MQTT `service.yml` (Tether's bridge config) as the agent will run it: the
 * schema, then what the start reads (certificates and keys). `path` may also be a provisioning
 * bundle folder: its service.yml is checked, relative paths resolving from the folder.
 */
export function checkBridgeConfig(path: string): ConfigFileCheck<BridgeConfig> {
  return check(bundleServicePath(path) ?? path, BridgeConfigSchema, (data, dir) => {
    const config = partly(data);
    const problems = tlsProblems(config.hub, 'hub', dir);
    partlyList(config.remotes).forEach((remote, i) => {
      problems.push(...tlsProblems(remote, `remotes[${i}]`, dir));
    });
    return problems;
  });
}

/** Checks a Baetyl-Hub `service.yml` (Tether's embedded hub config): the schema, the certificate, password hashes. */
export function checkHubConfig(path: string): ConfigFileCheck<HubConfig> {
  return check(path, HubConfigSchema, (data, dir) => {
    const config = partly(data);
    const problems = config.certificate === undefined ? [] : tlsProblems(config.certificate, 'certificate', dir);
    partlyList(config.principals).forEach((principal, i) => {
      const { password } = partly(principal);
      const problem = typeof password === 'string' ? passwordHashProblem(password) : undefined;
      if (problem) problems.push(`principals[${i}].password: ${problem}`);
    });
    return problems;
  });
}

/** The bridge config, or a ConfigError listing every problem. Used by the start and `validate` alike. */
export function loadBridgeConfig(path: string): LoadedConfig<BridgeConfig> {
  return loadedOrThrow(checkBridgeConfig(path));
}

/** The embedded hub's config, or a ConfigError listing every problem. */
export function loadHubConfig(path: string): LoadedConfig<HubConfig> {
  return loadedOrThrow(checkHubConfig(path));
}

function loadedOrThrow<T>(result: ConfigFileCheck<T>): LoadedConfig<T> {
  if (result.loaded === undefined) throw new ConfigError(result.file, result.errors);
  return result.loaded;
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

/**
 * The schema and the file checks run on every file, the file checks on the raw data: a bad
 * certificate path is reported in the same run as a bad field elsewhere.
 */
function check<S extends z.ZodType>(
  path: string,
  schema: S,
  fileProblems: (data: unknown, dir: string) => string[],
): ConfigFileCheck<z.output<S>> {
  const file = resolve(path);
  const dir = dirname(file);
  const data = readYamlFile(file);
  const result = checkConfig(schema, data);
  const errors = [...result.errors, ...fileProblems(data, dir)];
  const { warnings } = result;
  if (errors.length > 0 || result.value === undefined) return { file, errors, warnings, loaded: undefined };
  return { file, errors, warnings, loaded: { config: result.value, file, dir, warnings } };
}

function tlsProblems(block: unknown, field: string, dir: string): string[] {
  const { ca, cert, key } = partly(block);
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return tlsFileProblems({ ca: text(ca), cert: text(cert), key: text(key) }, field, dir);
}
