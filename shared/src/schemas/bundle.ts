import { z } from 'zod';
import { ThingNameSchema } from './policy.js';

/**
 * A provisioning bundle: the folder `tether-cloud provision` (or `tether-agent enroll`) writes and
 * `tether-agent --config <folder>` runs as is. `bundle.json` describes it; `service.yml` is the bridge
 * config that connects to the endpoint with the credentials beside it. File names are fixed, so a
 * bundle never points outside its folder.
 */

export const BUNDLE_FORMAT_VERSION = 1;

/**
 * Where `tether-cloud` provisions a thing (the bundle's `provider`, `--provider`). Not a remote's
 * `provider:` (RemoteProvider: the adapter the agent connects with), though names overlap.
 */
export const ProvisioningProviderSchema = z.enum(['local', 'aws-iot', 'baidu-iotcore', 'baidu-iothub']);
export type ProvisioningProvider = z.infer<typeof ProvisioningProviderSchema>;

export const BUNDLE_FILES = {
  manifest: 'bundle.json',
  service: 'service.yml',
  ca: 'ca.pem',
  cert: 'client.pem',
  key: 'client.key',
} as const;

export const BundleFileNameSchema = z.enum(BUNDLE_FILES);
export type BundleFileName = z.infer<typeof BundleFileNameSchema>;

export const BundleEndpointSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  /** `mqtts`: MQTT over TLS (the bridge's `ssl://`); `mqtt`: plain TCP. */
  protocol: z.enum(['mqtts', 'mqtt']),
});
export type BundleEndpoint = z.infer<typeof BundleEndpointSchema>;

export const BundleManifestSchema = z.object({
  version: z.literal(BUNDLE_FORMAT_VERSION),
  provider: ProvisioningProviderSchema,
  thing: ThingNameSchema,
  endpoint: BundleEndpointSchema,
  clientId: z.string().min(1),
  username: z.string().min(1).optional(),
  /** How the thing proves who it is: a client certificate, or a password (in service.yml). */
  auth: z.enum(['certificate', 'password']),
  files: z.object({
    service: z.literal(BUNDLE_FILES.service),
    ca: z.literal(BUNDLE_FILES.ca).optional(),
    cert: z.literal(BUNDLE_FILES.cert).optional(),
    key: z.literal(BUNDLE_FILES.key).optional(),
  }),
  /**
   * The certificate was signed from the device's CSR: `client.key` is not in the bundle; it is the
   * device's own key, put beside the other files on the device.
   */
  keyOnDevice: z.boolean(),
  /** The policy's filters for this thing (`{thing}` replaced). */
  topics: z.object({ publish: z.array(z.string()), subscribe: z.array(z.string()) }),
  /** The local hub the bridge config connects to. */
  hub: z.string().min(1),
  certificate: z
    .object({
      /** Provider's id: AWS certificate id, Baidu principal, or the local CA's serial number. */
      id: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      notAfter: z.string().min(1),
    })
    .optional(),
  createdAt: z.string().min(1),
});
export type BundleManifest = z.infer<typeof BundleManifestSchema>;

/** A bundle in transit (the provisioning function's JSON answer): file name → text. */
export const BundleFilesSchema = z
  .partialRecord(BundleFileNameSchema, z.string().min(1))
  .refine((files) => files[BUNDLE_FILES.manifest] !== undefined && files[BUNDLE_FILES.service] !== undefined, {
    message: 'a bundle needs bundle.json and service.yml',
  });
export type BundleFiles = z.infer<typeof BundleFilesSchema>;

/** Modes bundle files are written with: keys and the bridge config (it may hold a password) 0600. */
export function bundleFileMode(name: BundleFileName): number {
  return name === BUNDLE_FILES.key || name === BUNDLE_FILES.service ? 0o600 : 0o644;
}
