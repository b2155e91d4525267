import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { type CertKeyPair, createCa, createCrl, issueCertificate, writePemFiles } from '@tether/node-shared/pki';
import type { BundleEndpoint } from '@tether/shared';
import { isIpLiteral } from '../core/endpoint.js';
import { mosquittoAcl } from '../core/policy-map.js';
import type { Registry } from './local-registry.js';

/**
 * The `local` provider's CA dir: the CA (made on first use) and a broker kit that
 * `mosquitto -c <ca-dir>/mosquitto.conf` runs as is: mutual TLS on the endpoint's port, the client
 * certificate's CN as username, the ACL from the things' policies, and the CRL of revoked certificates.
 */

export const KIT_FILES = {
  ca: 'ca.pem',
  caKey: 'ca.key',
  server: 'server.pem',
  serverKey: 'server.key',
  acl: 'acl',
  crl: 'crl.pem',
  conf: 'mosquitto.conf',
  data: 'mosquitto-data',
} as const;

export interface KitOptions {
  /** Mosquitto's `user`: as root it otherwise drops to `mosquitto`, which cannot read the 0600 keys. */
  readonly brokerUser?: string | undefined;
}

/** The CA in `caDir`, created (ECDSA P-256, 10 years) when there is none. */
export async function loadOrCreateCa(caDir: string): Promise<CertKeyPair> {
  try {
    const [certPem, keyPem] = await Promise.all([
      readFile(join(caDir, KIT_FILES.ca), 'utf8'),
      readFile(join(caDir, KIT_FILES.caKey), 'utf8'),
    ]);
    return { certPem, keyPem };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(caDir, { recursive: true, mode: 0o700 });
  const ca = await createCa({ commonName: 'Tether fleet CA' });
  await writePemFiles(caDir, 'ca', ca);
  return ca;
}

/** Writes the broker kit for the registry's current state (endpoint, broker user, things, revocations). */
export async function writeKit(caDir: string, ca: CertKeyPair, registry: Registry): Promise<void> {
  const dir = resolve(caDir);
  const endpoint = registry.endpoint;
  if (endpoint) await ensureServerCertificate(dir, ca, endpoint);
  const entries = Object.entries(registry.things).map(([thing, issued]) => ({ username: thing, ...issued.topics }));
  await writeFile(join(dir, KIT_FILES.acl), mosquittoAcl(entries), { mode: 0o600 });
  const revoked = registry.revoked.map((r) => ({ serialNumber: r.serial, revokedAt: new Date(r.revokedAt) }));
  await writeFile(join(dir, KIT_FILES.crl), await createCrl(ca, revoked), { mode: 0o644 });
  if (endpoint) {
    await mkdir(join(dir, KIT_FILES.data), { recursive: true, mode: 0o700 });
    const conf = join(dir, KIT_FILES.conf);
    await writeFile(conf, mosquittoConf(dir, endpoint, { brokerUser: registry.brokerUser }), { mode: 0o600 });
    await chmod(conf, 0o600);
  }
}

/** A server certificate for the endpoint's host, issued again when the host changed. */
async function ensureServerCertificate(dir: string, ca: CertKeyPair, endpoint: BundleEndpoint): Promise<void> {
  const existing = await readFile(join(dir, KIT_FILES.server), 'utf8').catch(() => undefined);
  if (existing && new X509Certificate(existing).checkHost(endpoint.host) !== undefined) return;
  if (existing && isIpLiteral(endpoint.host) && new X509Certificate(existing).checkIP(endpoint.host)) return;
  const ip = isIpLiteral(endpoint.host);
  const server = await issueCertificate(ca, {
    commonName: endpoint.host,
    usage: 'server',
    dnsNames: ip ? [] : [endpoint.host],
    ipAddresses: ip ? [endpoint.host] : [],
    days: 825,
  });
  await writePemFiles(dir, 'server', server);
}

/** `listener PORT [ADDRESS]`: an IP endpoint binds that address; a name binds every interface. */
function listenAddress(endpoint: BundleEndpoint): string {
  if (endpoint.host === 'localhost') return ' 127.0.0.1';
  return isIpLiteral(endpoint.host) ? ` ${endpoint.host}` : '';
}

export function mosquittoConf(dir: string, endpoint: BundleEndpoint, options: KitOptions): string {
  const path = (name: string) => join(dir, name);
  const lines = [
    '# Mosquitto broker for Tether things (local provider), written by tether-cloud; re-written on every provision.',
    `# Run: mosquitto -c ${path(KIT_FILES.conf)}`,
    '# After provisioning or revoking, reload the ACL and CRL: kill -HUP <mosquitto pid>',
    // Mosquitto started as root drops to user `mosquitto`, which cannot read these 0600 files
    // ("Unable to open acl_file"); so the kit names the files' owner, whoever wrote them. As any
    // other user Mosquitto ignores `user` and runs as that user (mosquitto.conf(5), "user").
    `user ${options.brokerUser ?? fileOwner()}`,
    'per_listener_settings false',
    'allow_anonymous false',
    `acl_file ${path(KIT_FILES.acl)}`,
    `persistence true`,
    `persistence_location ${path(KIT_FILES.data)}/`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    '',
    `listener ${endpoint.port}${listenAddress(endpoint)}`,
    `cafile ${path(KIT_FILES.ca)}`,
    `certfile ${path(KIT_FILES.server)}`,
    `keyfile ${path(KIT_FILES.serverKey)}`,
    `crlfile ${path(KIT_FILES.crl)}`,
    'require_certificate true',
    'use_identity_as_username true',
  ];
  return `${lines.join('\n')}\n`;
}

/** The user this process runs as: the owner of every file the kit writes. */
function fileOwner(): string {
  try {
    return userInfo().username;
  } catch {
    return 'root';
  }
}
