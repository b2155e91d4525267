import { type BridgeConfigInput, BridgeConfigSchema, BUNDLE_FILES, type ProvisioningProvider } from '@tether/shared';
import { stringify } from 'yaml';
import type { Provisioned } from '../providers/provider.js';
import { bridgeAddress } from './endpoint.js';
import type { ThingTopics } from './policy-map.js';

/** The local hub the generated bridge config connects to. */
export interface HubConnection {
  readonly address: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
}

export const DEFAULT_HUB: HubConnection = { address: 'tcp://127.0.0.1:1883' };
const REMOTE_NAME = 'cloud';

/**
 * What each cloud's broker supports: AWS IoT and Baidu have no QoS 2; Baidu speaks MQTT 3.1.1
 * (the aws-iot and baidu-iotcore remotes default to these themselves).
 */
const BROKER_LIMITS: Record<ProvisioningProvider, { protocol: 4 | 5; maxqos: 1 | 2 }> = {
  local: { protocol: 5, maxqos: 2 },
  'aws-iot': { protocol: 5, maxqos: 1 },
  'baidu-iotcore': { protocol: 4, maxqos: 1 },
  'baidu-iothub': { protocol: 4, maxqos: 1 },
};

/**
 * The bundle's one remote. AWS IoT gets `provider: aws-iot` (the AWS IoT Device SDK adapter: its
 * endpoint, port — 443 works there, with the ALPN the adapter offers — and the thing as client id);
 * Baidu IoT Core `provider: baidu-iotcore` with the fields the agent derives the address and the
 * signed login from (the device secret, never a password made from it); the others the generic
 * `mqtt` remote with the address and credentials.
 */
function remoteFor(provisioned: Provisioned, limits: { protocol: 4 | 5; maxqos: 1 | 2 }): RemoteInput {
  const tls = {
    ...(provisioned.caPem !== undefined ? { ca: BUNDLE_FILES.ca } : {}),
    ...(provisioned.certificate !== undefined ? { cert: BUNDLE_FILES.cert, key: BUNDLE_FILES.key } : {}),
  };
  const clientid = provisioned.clientId !== provisioned.thing ? { clientid: provisioned.clientId } : {};
  const iotCore = provisioned.baiduIotCore;
  if (provisioned.provider === 'baidu-iotcore' && iotCore) {
    return {
      name: REMOTE_NAME,
      provider: 'baidu-iotcore',
      iotcoreid: iotCore.iotCoreId,
      region: iotCore.region,
      devicekey: provisioned.thing,
      ...(iotCore.deviceSecret !== undefined ? { devicesecret: iotCore.deviceSecret } : {}),
      ...clientid,
      ...tls,
    };
  }
  if (provisioned.provider === 'aws-iot') {
    return {
      name: REMOTE_NAME,
      provider: 'aws-iot',
      endpoint: provisioned.endpoint.host,
      port: provisioned.endpoint.port,
      thing: provisioned.thing,
      ...clientid,
      ...tls,
    };
  }
  return {
    name: REMOTE_NAME,
    address: bridgeAddress(provisioned.endpoint),
    clientid: provisioned.clientId,
    ...(provisioned.username !== undefined ? { username: provisioned.username } : {}),
    ...(provisioned.password !== undefined ? { password: provisioned.password } : {}),
    ...tls,
    protocol: limits.protocol,
    maxqos: limits.maxqos,
  };
}

type RemoteInput = NonNullable<BridgeConfigInput['remotes']>[number];

/**
 * The bridge config (Baetyl-Remote-MQTT `service.yml`) for a provisioned thing: one remote (the
 * endpoint with the bundle's credentials, paths relative to the bundle folder) and one rule. What the
 * thing may publish goes up from the hub; what it may subscribe comes down to the hub. Validated with
 * BridgeConfigSchema before it is returned, so a bundle never carries a config the agent refuses.
 */
export function buildServiceConfig(provisioned: Provisioned, hub: HubConnection, topics: ThingTopics): string {
  const limits = BROKER_LIMITS[provisioned.provider];
  const config: BridgeConfigInput = {
    name: `tether-${provisioned.thing}`,
    hub: {
      address: hub.address,
      ...(hub.username !== undefined ? { username: hub.username } : {}),
      ...(hub.password !== undefined ? { password: hub.password } : {}),
    },
    remotes: [remoteFor(provisioned, limits)],
    rules: [
      {
        hub: { subscriptions: topics.publish.map((topic) => ({ topic, qos: 1 as const })) },
        remote: { name: REMOTE_NAME, subscriptions: topics.subscribe.map((topic) => ({ topic, qos: 1 as const })) },
      },
    ],
  };
  const checked = BridgeConfigSchema.safeParse(config);
  if (!checked.success) {
    throw new Error(`generated bridge config is invalid: ${checked.error.issues.map((i) => i.message).join('; ')}`);
  }
  const header = [
    `# Bridge config for thing ${provisioned.thing} (${provisioned.provider}), written by tether-cloud.`,
    '# Run: tether-agent --config <this folder> [--hub-config hub.yml]',
  ].join('\n');
  return `${header}\n${stringify(config)}`;
}
