import type { BaiduIotCoreRemoteConfig, BaiduIotHubRemoteConfig, MqttRemoteConfig } from '@tether/shared';
import { MqttEndpoint } from '../transport/mqtt-endpoint.js';
import type { AdapterRequest, CloudAdapter } from './cloud-adapter.js';

/**
 * `provider: mqtt` (the default): any MQTT 3.1.1/5 broker over tcp, ssl (server TLS or mutual
 * TLS), ws or wss, with username/password — Mosquitto, EMQX, HiveMQ, VerneMQ, Baidu's brokers.
 */
export class MqttCloudAdapter extends MqttEndpoint implements CloudAdapter {
  /** Also the base of providers that are MQTT with conventions (baidu-iotcore, baidu-iothub). */
  constructor(config: MqttRemoteConfig | BaiduIotCoreRemoteConfig | BaiduIotHubRemoteConfig, request: AdapterRequest) {
    super({
      name: config.name,
      config,
      clientId: request.clientId,
      configDir: request.configDir,
      logger: request.logger,
      field: request.field,
      ...(request.stateTopic ? { stateTopic: request.stateTopic } : {}),
    });
  }
}
