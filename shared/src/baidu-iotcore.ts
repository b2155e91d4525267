import { createHash } from 'node:crypto';

/**
 * Baidu IoT Core's MQTT conventions, the successor of IoT Hub (Baidu's Java SDK marks IotHubClient
 * `@deprecated Use IoTCoreClient, IoT-hub will not be supported in the future`). One home for the
 * rules both sides need: the agent derives its address and login from them, provisioning writes
 * the fields they are derived from. Sources:
 *
 * - Broker host `<IoTCoreId>.iot.<Region>.baidubce.com`, region `gz` or `bj`; ports TCP 1883, SSL
 *   1884, WSS 443 ("使用 MQTT 模拟器连接及收发消息", https://cloud.baidu.com/doc/IoTCore/s/Rk7omsg0f);
 *   the same host patterns in Baidu's device SDK (baidu/iotcore-sdk-java, MqttConfigFactory:
 *   `%s.iot.gz.baidubce.com:1883` and `:1884`).
 * - Signature ("密钥认证") login ("通过MQTT连接及收发消息", https://cloud.baidu.com/doc/IoTCore/s/Akck4811r):
 *   username `thingidp@{IoTCoreId}|{DeviceKey}|{timestamp}|{algorithm}`; password the lower-case
 *   hex MD5 or SHA256 of the UTF-8 bytes of `{DeviceKey}&{timestamp}&{algorithm}{DeviceSecret}`;
 *   the timestamp in seconds, compared with Baidu's clock (10 minutes either way), or 0 for a device
 *   whose clock cannot be trusted. The document's examples are the test vectors of
 *   shared/test/baidu-iotcore.test.ts; the SDK's SignatureGenerator computes the same.
 * - Device names ("设备管理" API, https://cloud.baidu.com/doc/IoTCore/s/6kaw7eova): 1–40 letters,
 *   digits, `-` and `_`, case-sensitive. They are also the DeviceKey of the login.
 */

export const BAIDU_IOTCORE_PORTS = { ssl: 1884, tcp: 1883 } as const;
export type BaiduIotCoreTransport = keyof typeof BAIDU_IOTCORE_PORTS;

export const BAIDU_IOTCORE_ALGORITHMS = ['SHA256', 'MD5'] as const;
export type BaiduIotCoreAlgorithm = (typeof BAIDU_IOTCORE_ALGORITHMS)[number];
/** Tether signs with SHA256 unless told otherwise (Baidu's default, when the username names none, is MD5). */
export const BAIDU_IOTCORE_DEFAULT_ALGORITHM: BaiduIotCoreAlgorithm = 'SHA256';

/** Baidu's rule for a device name (its DeviceKey); `|` and `&` would also break the login's format. */
export const BAIDU_IOTCORE_DEVICE_NAME = /^[A-Za-z0-9_-]{1,40}$/;

/** `<iotCoreId>.iot.<region>.baidubce.com`: the broker of one IoT Core instance. */
export function baiduIotCoreHost(iotCoreId: string, region: string): string {
  return `${iotCoreId}.iot.${region}.baidubce.com`;
}

/** `ssl://<host>:1884` or `tcp://<host>:1883`. */
export function baiduIotCoreAddress(iotCoreId: string, region: string, transport: BaiduIotCoreTransport): string {
  return `${transport}://${baiduIotCoreHost(iotCoreId, region)}:${BAIDU_IOTCORE_PORTS[transport]}`;
}

export interface BaiduIotCoreDevice {
  readonly iotCoreId: string;
  readonly deviceKey: string;
  readonly deviceSecret: string;
  readonly algorithm: BaiduIotCoreAlgorithm;
}

export interface MqttLogin {
  readonly username: string;
  readonly password: string;
}

/**
 * The MQTT username and password of a signature-auth device, signed at `timestampSec` (0: the form
 * for devices without a reliable clock, valid at any time; the current time: valid only near it).
 */
export function baiduIotCoreLogin(device: BaiduIotCoreDevice, timestampSec = 0): MqttLogin {
  const { iotCoreId, deviceKey, deviceSecret, algorithm } = device;
  const ts = Math.max(0, Math.floor(timestampSec));
  const signed = `${deviceKey}&${ts}&${algorithm}${deviceSecret}`;
  const hash = algorithm === 'MD5' ? 'md5' : 'sha256';
  return {
    username: `thingidp@${iotCoreId}|${deviceKey}|${ts}|${algorithm}`,
    password: createHash(hash).update(signed, 'utf8').digest('hex'),
  };
}
