import type { RemoteConfig } from '@tether/shared';
import { MqttEndpoint } from '../transport/mqtt-endpoint.js';
import type { AdapterContext, CloudAdapter } from './cloud-adapter.js';

/**
 * `provider: mqtt` (the default): any MQTT 3.1.1/5 broker over tcp, ssl, ws or wss —
 * Mosquitto, EMQX, HiveMQ, VerneMQ, Baidu IoTHub's own endpoint.
 */
export class MqttCloudAdapter extends MqttEndpoint implements CloudAdapter {
  readonly remote: string;

  constructor(config: RemoteConfig, context: AdapterContext & { clientId: string; field: string }) {
    super({
      name: config.name,
      config,
      clientId: context.clientId,
      configDir: context.configDir,
      logger: context.logger,
      field: context.field,
    });
    this.remote = config.name;
  }
}
