import type { RemoteConfig, RemoteProvider } from '@tether/shared';
import { AwsIotCloudAdapter } from './aws-iot-adapter.js';
import { BaiduIotCoreCloudAdapter } from './baidu-iotcore-adapter.js';
import { BaiduIotHubCloudAdapter } from './baidu-iothub-adapter.js';
import type { AdapterRequest, CloudAdapter, CloudAdapterFactory } from './cloud-adapter.js';
import { MqttCloudAdapter } from './mqtt-adapter.js';

export type { AdapterRequest } from './cloud-adapter.js';

type Registry = { readonly [P in RemoteProvider]: CloudAdapterFactory<Extract<RemoteConfig, { provider: P }>> };

/**
 * One entry per `provider:` value; adding a cloud is adding a file and a line here. Constructors
 * only assign: the AWS SDK is imported by the aws-iot adapter's start(), so an agent without an
 * aws-iot remote never loads it.
 */
const PROVIDERS: Registry = {
  mqtt: (config, request) => new MqttCloudAdapter(config, request),
  'baidu-iotcore': (config, request) => new BaiduIotCoreCloudAdapter(config, request),
  'baidu-iothub': (config, request) => new BaiduIotHubCloudAdapter(config, request),
  'aws-iot': (config, request) => new AwsIotCloudAdapter(config, request),
};

export function createCloudAdapter(config: RemoteConfig, request: AdapterRequest): CloudAdapter {
  const factory = PROVIDERS[config.provider] as CloudAdapterFactory;
  return factory(config, request);
}
