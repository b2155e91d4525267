import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BundleFileName, type BundleFiles, bundleFileMode } from '@tether/shared';

/** Keys first, bundle.json last: a folder with a bundle.json holds a whole bundle. */
const WRITE_ORDER: readonly BundleFileName[] = ['client.key', 'service.yml', 'ca.pem', 'client.pem', 'bundle.json'];

/**
 * Writes bundle files into `dir` (created 0700): each through a temp file and a rename, with its mode
 * from `bundleFileMode` (client.key and service.yml 0600). Returns the names written, in order.
 * Shared by `tether-agent enroll` and `tether-cloud provision`.
 */
export async function writeBundleFiles(dir: string, files: BundleFiles): Promise<BundleFileName[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const written: BundleFileName[] = [];
  for (const name of WRITE_ORDER) {
    const content = files[name];
    if (content === undefined) continue;
    const path = join(dir, name);
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, content, { mode: bundleFileMode(name) });
    await chmod(temp, bundleFileMode(name)); // exact, whatever the umask
    await rename(temp, path);
    written.push(name);
  }
  return written;
}

/** Whether a PEM private key belongs to a PEM certificate (same public key). */
export function keyMatchesCertificate(keyPem: string, certPem: string): boolean {
  try {
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    return fromKey.equals(new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' }));
  } catch {
    return false;
  }
}
