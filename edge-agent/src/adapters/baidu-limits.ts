import type { PublishLimits } from './publish-limits.js';

/** The names messages give Baidu's two MQTT services. */
export type BaiduCloud = 'Baidu IoT Hub' | 'Baidu IoT Core';

/**
 * Baidu's documented MQTT limits ("系统限制", https://cloud.baidu.com/doc/IoTCore/s/3k7o8yehh,
 * updated 2025-07-29: the IoT Core document; IoT Core is the successor of IoT Hub and shares its
 * MQTT broker limits): topic at most 255 long, each level at most 40, at most 16 levels ("/" count
 * + 1); one PUBLISH at most 32 KB, raised to 128 KB on request (hence `maxpayload`); no QoS 2
 * (`maxqos` 1). Lengths are counted in UTF-8 bytes, the stricter reading.
 */
export const BAIDU_LIMITS = {
  cloud: 'Baidu IoT Hub',
  maxTopicBytes: 255,
  maxTopicLevels: 16,
  maxLevelBytes: 40,
  maxPayloadBytes: 32 * 1024,
  payloadField: 'maxpayload',
} as const satisfies PublishLimits;

/** Baidu's limits as `cloud` names them, with the payload bound the remote's config sets (`maxpayload`). */
export function baiduLimits(cloud: BaiduCloud, maxPayloadBytes: number): PublishLimits {
  return { ...BAIDU_LIMITS, cloud, maxPayloadBytes };
}
