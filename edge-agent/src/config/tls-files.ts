import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { TetherError } from '@tether/shared';
import { resolveConfigPath } from './resolve-path.js';

/** The `ca`, `cert` and `key` fields of a client block or of the hub's `certificate`. */
export interface TlsFileFields {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/**
 * Reads a file a config field names (Baetyl's path rule). The one reader of certificates and keys:
 * `validate` and the start both use it, so a file that validates is one the start can read.
 */
export function readConfigFile(field: string, path: string, configDir: string): Buffer {
  const file = resolveConfigPath(path, configDir);
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EISDIR' ? 'it is a folder, not a file' : `(${code ?? (error as Error).message})`;
    throw new TetherError('TETHER_ERR_CONFIG_FILE', `${field}: cannot read ${file} ${why}`, { cause: error });
  }
}

/**
 * Reads a block's TLS files and checks them as the TLS stack will use them (PEM that parses, a
 * key that belongs to its certificate), so a bad file is named now and not at the first handshake.
 * Returns every problem, each as `field.name: why`.
 */
export function readTlsFiles(
  block: TlsFileFields,
  field: string,
  configDir: string,
): { material: TlsMaterial; problems: string[] } {
  const material: TlsMaterial = {};
  const problems: string[] = [];
  for (const name of ['ca', 'cert', 'key'] as const) {
    const path = block[name];
    if (!path) continue;
    try {
      material[name] = readConfigFile(`${field}.${name}`, path, configDir);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (block.cert && !block.key) problems.push(`${field}.key: a client certificate (${field}.cert) needs its key`);
  if (block.key && !block.cert) problems.push(`${field}.cert: a key (${field}.key) needs its certificate`);
  // OpenSSL takes a CA file without a certificate in it silently; every handshake would then fail
  if (material.ca && !holdsCertificate(material.ca)) {
    problems.push(`${field}.ca: ${resolveConfigPath(block.ca as string, configDir)} holds no PEM certificate`);
  }
  if (problems.length === 0 && (material.ca || material.cert)) {
    try {
      createSecureContext({ ...material });
    } catch (error) {
      const names = (['ca', 'cert', 'key'] as const).filter((n) => block[n]).map((n) => `${field}.${n}`);
      problems.push(`${names.join(', ')}: not usable for TLS (${(error as Error).message})`);
    }
  }
  return { material, problems };
}

function holdsCertificate(pem: Buffer): boolean {
  const first = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(pem.toString('latin1'));
  if (!first) return false;
  try {
    new X509Certificate(first[0]);
    return true;
  } catch {
    return false;
  }
}
