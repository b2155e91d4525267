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
    const why = code === 'EISDIR' ? ': it is a folder, not a file' : ` (${code ?? (error as Error).message})`;
    throw new TetherError('TETHER_ERR_CONFIG_FILE', `${field}: cannot read ${file}${why}`, { cause: error });
  }
}

/** Reads a block's TLS files (each problem as `field.name: why`): what the start does with them. */
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
  return { material, problems };
}

/**
 * Every problem of a block's TLS files as the TLS stack will meet them: unreadable (missing, a
 * folder), no PEM in them, a key that is not the certificate's. Run when a config is loaded
 * (`validate` and the start alike), so a bad file is named then, not at the first handshake.
 */
export function tlsFileProblems(block: TlsFileFields, field: string, configDir: string): string[] {
  const { material, problems } = readTlsFiles(block, field, configDir);
  const at = (name: 'ca' | 'cert' | 'key') => resolveConfigPath(block[name] as string, configDir);
  // OpenSSL takes a CA file without a certificate in it silently; every handshake would then fail
  if (material.ca && !holdsCertificate(material.ca)) problems.push(`${field}.ca: ${at('ca')} holds no PEM certificate`);
  const certOk = material.cert !== undefined && holdsCertificate(material.cert);
  const keyOk =
    material.key !== undefined && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(material.key.toString('latin1'));
  if (material.cert && !certOk) problems.push(`${field}.cert: ${at('cert')} holds no PEM certificate`);
  if (material.key && !keyOk) problems.push(`${field}.key: ${at('key')} holds no PEM private key`);
  if (material.cert && material.key && certOk && keyOk) {
    try {
      createSecureContext({ cert: material.cert, key: material.key });
    } catch (error) {
      const why = (error as Error).message;
      problems.push(
        /key values mismatch/.test(why)
          ? `${field}.key: ${at('key')} is not the key of the certificate ${at('cert')}`
          : `${field}.cert, ${field}.key: not usable for TLS (${why})`,
      );
    }
  }
  return problems;
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
