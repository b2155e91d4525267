import type { BaiduIotHubRemoteConfig } from '@tether/shared';
import type { BridgeMessage, PublishOutcome } from '../transport/message-endpoint.js';
import { baiduIotHubLimits } from './baidu-iothub-limits.js';
import type { AdapterRequest } from './cloud-adapter.js';
import { MqttCloudAdapter } from './mqtt-adapter.js';
import { limitProblem, overLimit, type PublishLimits } from './publish-limits.js';

/**
 * `provider: baidu-iothub`: Baidu IoT Hub is an MQTT 3.1.1 broker with its own conventions, so
 * this is the MQTT transport with them applied. The schema derived the address
 * (`ssl://<endpoint>.mqtt.iot.<region>.baidubce.com:1884`, wss on 8884) and the username
 * (`<endpoint>/<thing>`); the password or client certificate come from the config as usual.
 * A message over Baidu's limits is refused here, before sending, with a reason naming the limit.
 */
export class BaiduIotHubCloudAdapter extends MqttCloudAdapter {
  private readonly limits: PublishLimits;

  constructor(config: BaiduIotHubRemoteConfig, request: AdapterRequest) {
    super(config, request);
    this.limits = baiduIotHubLimits(config.maxpayload);
  }

  /** publish() goes through send(), so this one check covers both. */
  override send(message: BridgeMessage, done: (outcome: PublishOutcome) => void): void {
    const problem = limitProblem(this.limits, message.topic, message.payload);
    if (problem !== undefined) {
      process.nextTick(done, overLimit(this.name, message.topic, problem));
      return;
    }
    super.send(message, done);
  }
}
