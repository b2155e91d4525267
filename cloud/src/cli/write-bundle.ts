import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { keyMatchesCertificate, writeBundleFiles } from '@tether/node-shared/bundle';
import { type BundleFileName, type BundleFiles, BundleManifestSchema } from '@tether/shared';
import { usageError } from './options.js';

/**
 * Writes a bundle into `dir` with the writer `tether-agent enroll` uses too (temp file + rename, keys 0600). A folder holding
 * another thing's bundle is refused. A `client.key` left there that does not belong to the new
 * certificate is removed; the device's own key (CSR mode) is kept.
 */
export async function writeBundle(dir: string, files: BundleFiles, thing: string): Promise<BundleFileName[]> {
  const previous = await readFile(join(dir, 'bundle.json'), 'utf8').catch(() => undefined);
  if (previous !== undefined) {
    const parsed = BundleManifestSchema.safeParse(safeJson(previous));
    if (parsed.success && parsed.data.thing !== thing) {
      throw usageError(`--out: ${dir} holds the bundle of thing ${parsed.data.thing}; choose another folder`);
    }
  }
  const written = await writeBundleFiles(dir, files);
  const certPem = files['client.pem'];
  if (files['client.key'] === undefined && certPem !== undefined) {
    const stale = await readFile(join(dir, 'client.key'), 'utf8').catch(() => undefined);
    if (stale !== undefined && !keyMatchesCertificate(stale, certPem))
      await rm(join(dir, 'client.key'), { force: true });
  }
  return written;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
