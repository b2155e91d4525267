import type { BaiduIotCoreRemoteConfig, BaiduIotHubRemoteConfig } from '@tether/shared';
import type { BridgeMessage } from '../core/bridge-message.js';
import type { PublishOutcome } from '../core/message-endpoint.js';
import { type BaiduCloud, baiduLimits } from './baidu-limits.js';
import type { AdapterRequest } from './cloud-adapter.js';
import { MqttCloudAdapter } from './mqtt-adapter.js';
import { limitProblem, overLimit, type PublishLimits } from './publish-limits.js';

/**
 * Baidu's MQTT brokers (IoT Hub and its successor IoT Core) are MQTT 3.1.1 with Baidu's
 * conventions, so their adapters are the MQTT transport with them applied: the schema derived the
 * address and login, and a message over Baidu's limits is refused here, before sending, with a
 * reason naming the limit.
 */
export class BaiduCloudAdapter extends MqttCloudAdapter {
  private readonly limits: PublishLimits;

  constructor(config: BaiduIotHubRemoteConfig | BaiduIotCoreRemoteConfig, request: AdapterRequest, cloud: BaiduCloud) {
    super(config, request);
    this.limits = baiduLimits(cloud, config.maxpayload);
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
