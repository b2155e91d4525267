import type { RemoteConfig } from '@tether/shared';
import type { AdapterContext, CloudAdapter } from './cloud-adapter.js';
import { MqttCloudAdapter } from './mqtt-adapter.js';

export interface AdapterRequest extends AdapterContext {
  readonly clientId: string;
  /** Config path of the remote (`remotes[1]`) for error messages. */
  readonly field: string;
}

type Factory = (config: RemoteConfig, request: AdapterRequest) => CloudAdapter;

/** One entry per `provider:` value; adding a cloud is adding a line here. */
const PROVIDERS: Record<RemoteConfig['provider'], Factory> = {
  mqtt: (config, request) => new MqttCloudAdapter(config, request),
};

export function createCloudAdapter(config: RemoteConfig, request: AdapterRequest): CloudAdapter {
  return PROVIDERS[config.provider](config, request);
}
