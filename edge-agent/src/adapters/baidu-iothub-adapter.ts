import { BAIDU_IOTHUB_DEPRECATED, type BaiduIotHubRemoteConfig } from '@tether/shared';
import { BaiduCloudAdapter } from './baidu-adapter.js';
import type { AdapterRequest } from './cloud-adapter.js';

/** Once per process, however many remotes or connections use it: a reminder, not a failure. */
let warned = false;

/**
 * `provider: baidu-iothub`: Baidu IoT Hub, Baidu's deprecated service (new sites: baidu-iotcore).
 * The schema derived the address (`ssl://<endpoint>.mqtt.iot.<region>.baidubce.com:1884`, wss on
 * 8884) and the username (`<endpoint>/<thing>`); the password or client certificate come from the
 * config as usual.
 */
export class BaiduIotHubCloudAdapter extends BaiduCloudAdapter {
  constructor(config: BaiduIotHubRemoteConfig, request: AdapterRequest) {
    super(config, request, 'Baidu IoT Hub');
    if (!warned) {
      warned = true;
      request.logger.warn({ remote: config.name, provider: config.provider }, BAIDU_IOTHUB_DEPRECATED);
    }
  }
}
