import type { QoS } from '@tether/shared';

/**
 * A message as it crosses the bridge or a hub route, independent of the MQTT client or codec
 * that carried it. The hub's own messages (HubMessage) carry more; every consumer that needs
 * only these four fields takes this type.
 */
export interface BridgeMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
}
