import type { IoTClient } from '@aws-sdk/client-iot';
import { BAIDU_IOTHUB_DEPRECATED, type BundleEndpoint } from '@tether/shared';
import type { IotCoreAuth } from './baidu-iotcore.js';
import type { BceCredentials } from './bce-signer.js';
import type { Provider } from './provider.js';

/** Attempts per AWS call (the SDK's default is 3): a batch at the IoT control plane's rate meets throttling. */
const AWS_MAX_ATTEMPTS = 6;

/** Everything a provider needs, by `provider`; the CLI builds it from flags, the Lambda from its environment. */
export type ProviderSettings =
  | {
      readonly provider: 'local';
      readonly caDir: string;
      readonly endpoint?: BundleEndpoint | undefined;
      readonly brokerUser?: string | undefined;
      readonly certificateDays?: number | undefined;
    }
  | {
      readonly provider: 'aws-iot';
      readonly region?: string | undefined;
      /** Another IoT API URL (a test's local server, a VPC endpoint). */
      readonly apiUrl?: string | undefined;
      /** An IoT client made by the caller (tests inject one); region and apiUrl are then unused. */
      readonly client?: IoTClient | undefined;
      /** The bundle's MQTT port: 8883 (default) or 443 (ALPN x-amzn-mqtt-ca, offered by the aws-iot adapter). */
      readonly port?: 8883 | 443 | undefined;
    }
  | {
      readonly provider: 'baidu-iotcore';
      readonly iotCoreId: string;
      readonly credentials: BceCredentials;
      /** The instance's region (`gz`, `bj`), for the MQTT host. */
      readonly region?: string | undefined;
      readonly apiUrl?: string | undefined;
      readonly auth?: IotCoreAuth | undefined;
    }
  | {
      readonly provider: 'baidu-iothub';
      readonly endpointName: string;
      readonly credentials: BceCredentials;
      readonly apiUrl?: string | undefined;
      readonly auth?: 'password' | 'certificate' | undefined;
    };

/** The provider for `settings`; each is loaded when asked for (the AWS SDK is not loaded for `local`). */
export async function createProvider(settings: ProviderSettings): Promise<Provider> {
  switch (settings.provider) {
    case 'local': {
      const { LocalProvider } = await import('./local.js');
      return new LocalProvider(settings);
    }
    case 'aws-iot': {
      const [{ IoTClient }, { AwsIotProvider }] = await Promise.all([
        import('@aws-sdk/client-iot'),
        import('./aws-iot.js'),
      ]);
      const client =
        settings.client ??
        new IoTClient({
          // throttling (ThrottlingException, 429) is retried with the SDK's client-side rate limiter
          retryMode: 'adaptive',
          maxAttempts: AWS_MAX_ATTEMPTS,
          ...(settings.region ? { region: settings.region } : {}),
          ...(settings.apiUrl ? { endpoint: settings.apiUrl } : {}),
        });
      return new AwsIotProvider({ client, port: settings.port });
    }
    case 'baidu-iotcore': {
      const { BaiduIotCoreProvider } = await import('./baidu-iotcore.js');
      return new BaiduIotCoreProvider(settings);
    }
    case 'baidu-iothub': {
      warnIotHubDeprecated();
      const { BaiduIotHubProvider } = await import('./baidu-iothub.js');
      return new BaiduIotHubProvider(settings);
    }
  }
}

let iotHubWarned = false;

/**
 * Once per process, on stderr as Node's own deprecations are (the CLI, a Lambda's log): Baidu is
 * retiring IoT Hub. Provisioning it keeps working.
 */
function warnIotHubDeprecated(): void {
  if (iotHubWarned) return;
  iotHubWarned = true;
  process.emitWarning(BAIDU_IOTHUB_DEPRECATED, { type: 'DeprecationWarning', code: 'TETHER_BAIDU_IOTHUB' });
}
