import type { RemoteConfig } from '@tether/shared';
import type { Logger } from 'pino';
import type { MessageEndpoint } from '../transport/message-endpoint.js';

/**
 * The seam between Tether and a cloud. The dispatcher needs nothing more than a
 * MessageEndpoint; each provider (`provider:` in a remote's config) is one implementation
 * registered in ./registry.ts.
 */
export interface CloudAdapter extends MessageEndpoint {
  /** The remote's config name. */
  readonly remote: string;
}

export interface AdapterContext {
  readonly logger: Logger;
  /** Folder that relative paths in the config resolve against (then the working directory). */
  readonly configDir: string;
}

export type CloudAdapterFactory = (config: RemoteConfig, context: AdapterContext) => CloudAdapter;
