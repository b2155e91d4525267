import { createHash, X509Certificate } from 'node:crypto';
import {
  BUNDLE_FILES,
  BUNDLE_FORMAT_VERSION,
  type BundleFiles,
  type BundleManifest,
  BundleManifestSchema,
} from '@tether/shared';
import type { Provisioned } from '../providers/provider.js';
import type { ThingTopics } from './policy-map.js';
import { buildServiceConfig, type HubConnection } from './service-config.js';

export interface BundleOptions {
  readonly hub: HubConnection;
  readonly topics: ThingTopics;
  readonly now?: Date;
}

/**
 * The bundle for a provisioned thing, as file name → text: `bundle.json` (validated), `service.yml`,
 * `ca.pem`, `client.pem` and — only when the provider made the key — `client.key`. Pure.
 */
export function buildBundle(provisioned: Provisioned, options: BundleOptions): BundleFiles {
  const cert = provisioned.certificate;
  const manifest: BundleManifest = BundleManifestSchema.parse({
    version: BUNDLE_FORMAT_VERSION,
    provider: provisioned.provider,
    thing: provisioned.thing,
    endpoint: provisioned.endpoint,
    clientId: provisioned.clientId,
    ...(provisioned.username !== undefined ? { username: provisioned.username } : {}),
    auth: cert ? 'certificate' : 'password',
    files: {
      service: BUNDLE_FILES.service,
      ...(provisioned.caPem !== undefined ? { ca: BUNDLE_FILES.ca } : {}),
      ...(cert ? { cert: BUNDLE_FILES.cert, key: BUNDLE_FILES.key } : {}),
    },
    keyOnDevice: provisioned.keyOnDevice,
    topics: { publish: [...options.topics.publish], subscribe: [...options.topics.subscribe] },
    hub: options.hub.address,
    ...(cert ? { certificate: certificateSummary(cert.id, cert.certPem) } : {}),
    createdAt: (options.now ?? new Date()).toISOString(),
  });
  const files: BundleFiles = {
    'bundle.json': `${JSON.stringify(manifest, null, 2)}\n`,
    'service.yml': buildServiceConfig(provisioned, options.hub, options.topics),
  };
  if (provisioned.caPem !== undefined) files['ca.pem'] = provisioned.caPem;
  if (cert) files['client.pem'] = cert.certPem;
  if (cert?.keyPem !== undefined) files['client.key'] = cert.keyPem;
  return files;
}

/** Certificate id, SHA-256 fingerprint (hex, lowercase) and expiry, for bundle.json and logs. */
export function certificateSummary(id: string, certPem: string): { id: string; sha256: string; notAfter: string } {
  const x509 = new X509Certificate(certPem);
  return {
    id,
    sha256: createHash('sha256').update(x509.raw).digest('hex'),
    notAfter: new Date(x509.validTo).toISOString(),
  };
}
