import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

/**
 * Baetyl's rule, kept so its configs run unchanged: a relative path is taken from the
 * config file's folder, and where nothing is there, from the working directory
 * (the seed's `var/db/baetyl/cert/ca.pem` is relative to the Baetyl root).
 */
export function resolveConfigPath(path: string, configDir: string, cwd: string = process.cwd()): string {
  if (isAbsolute(path)) return path;
  const besideConfig = resolve(configDir, path);
  if (existsSync(besideConfig)) return besideConfig;
  const fromCwd = resolve(cwd, path);
  return existsSync(fromCwd) ? fromCwd : besideConfig;
}

/**
 * The same rule for a file the agent creates (a log file): beside the config when its folder
 * exists there, else from the working directory, where Baetyl wrote it.
 */
export function resolveOutputPath(path: string, configDir: string, cwd: string = process.cwd()): string {
  if (isAbsolute(path)) return path;
  const besideConfig = resolve(configDir, path);
  return existsSync(dirname(besideConfig)) ? besideConfig : resolve(cwd, path);
}
