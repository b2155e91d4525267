import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BUNDLE_FILES, BUNDLE_FORMAT_VERSION, BundleManifestSchema, ConfigError, formatIssues } from '@tether/shared';

/**
 * `--config` may name a provisioning bundle (the folder `tether-cloud provision` or `tether-agent enroll`
 * wrote): then its `service.yml` is the bridge config, and the paths in it (ca.pem, client.pem,
 * client.key) resolve from that folder. Returns that service.yml, or undefined when `path` is not a
 * folder. A folder without a valid bundle.json, or without the key it needs, is a config error.
 */
export function bundleServicePath(path: string): string | undefined {
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    return undefined; // the file reader reports what is wrong with the path
  }
  if (!isDirectory) return undefined;
  const dir = resolve(path);
  const manifestFile = join(dir, BUNDLE_FILES.manifest);
  if (!existsSync(manifestFile)) {
    throw new ConfigError(dir, [
      `(file): a folder given as --config must be a Tether bundle (it has no ${BUNDLE_FILES.manifest})`,
    ]);
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch (error) {
    throw new ConfigError(manifestFile, [`(file): not readable JSON (${(error as Error).message.split('\n')[0]})`]);
  }
  const version = (data as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version > BUNDLE_FORMAT_VERSION) {
    throw new ConfigError(manifestFile, [
      `version: bundle format ${version} is newer than this agent reads (${BUNDLE_FORMAT_VERSION}); update tether-agent`,
    ]);
  }
  const parsed = BundleManifestSchema.safeParse(data);
  if (!parsed.success) throw new ConfigError(manifestFile, formatIssues(parsed.error.issues));
  const manifest = parsed.data;
  if (manifest.files.key && !existsSync(join(dir, manifest.files.key))) {
    const why = manifest.keyOnDevice
      ? ": the certificate was signed from the device's CSR, so the bundle carries no key; put the device's private key there (mode 0600)"
      : '';
    throw new ConfigError(manifestFile, [`files.key: ${join(dir, manifest.files.key)} is missing${why}`]);
  }
  return join(dir, manifest.files.service);
}
