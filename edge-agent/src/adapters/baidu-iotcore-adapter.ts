import { type BaiduIotCoreRemoteConfig, baiduIotCoreLogin } from '@tether/shared';
import { BaiduCloudAdapter } from './baidu-adapter.js';
import type { AdapterRequest } from './cloud-adapter.js';

/**
 * `provider: baidu-iotcore`: Baidu IoT Core. The schema derived the address
 * (`ssl://<iotcoreid>.iot.<region>.baidubce.com:1884`) and, for a signature device, the login
 * signed at timestamp 0 (shared/src/baidu-iotcore.ts). With `timestamped: true` every CONNECT is
 * signed again with the current time instead: Baidu accepts such a password only within 10
 * minutes of its clock, so a reconnect an hour later needs a new one.
 */
export class BaiduIotCoreCloudAdapter extends BaiduCloudAdapter {
  constructor(
    private readonly config: BaiduIotCoreRemoteConfig,
    request: AdapterRequest,
    private readonly now: () => number = Date.now,
  ) {
    super(config, request, 'Baidu IoT Core');
  }

  protected override login(): { readonly username?: string | undefined; readonly password?: string | undefined } {
    const { config } = this;
    if (!config.timestamped || config.devicesecret === undefined) return config;
    return baiduIotCoreLogin(
      {
        iotCoreId: config.iotcoreid ?? '',
        deviceKey: config.devicekey ?? '',
        deviceSecret: config.devicesecret,
        algorithm: config.algorithm,
      },
      this.now() / 1000,
    );
  }
}
