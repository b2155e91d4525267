import { z } from 'zod';
import {
  BAIDU_IOTCORE_ALGORITHMS,
  BAIDU_IOTCORE_DEFAULT_ALGORITHM,
  BAIDU_IOTCORE_DEVICE_NAME,
  baiduIotCoreAddress,
  baiduIotCoreLogin,
} from '../baidu-iotcore.js';
import { BrokerAddressSchema, HostPortSchema } from './addresses.js';
import { ByteSizeSchema, DurationSchema, LoggerSchema, QosSchema, TopicFilterSchema } from './common.js';
import { baetylKeys, baetylSection, crossCheck, partly, partlyList, tetherKeys, tetherSection } from './sections.js';

/**
 * Baetyl-Remote-MQTT's `service.yml`, accepted unchanged, plus Tether's additive extensions.
 * Field names keep Baetyl's lowercase spelling so a Baetyl file means the same thing here.
 * A section Baetyl defined warns on an unknown key (`baetylSection`, `baetylKeys`); a section
 * only Tether has refuses one (`tetherSection`, `tetherKeys`).
 */

/** Topic mapping on the target side (Tether extension; Baetyl forwarded topics unchanged). */
export const TopicTargetSchema = z
  .object({
    /** Remove this prefix from the source topic (when present) before adding `prefix`. */
    strip: z.string().optional(),
    /** Add this prefix to the topic. */
    prefix: z.string().optional(),
    /**
     * A template for the whole target topic: `{topic}` is the source topic (after `strip`),
     * `{0}`, `{1}`… its levels. Used instead of `prefix` when both are set.
     */
    topic: z.string().min(1).optional(),
  })
  .apply(tetherKeys)
  .refine((t) => !t.topic?.includes('+') && !t.topic?.includes('#'), {
    message: 'a target topic template cannot contain wildcards',
    path: ['topic'],
  });
export type TopicTarget = z.infer<typeof TopicTargetSchema>;

export const SubscriptionSchema = baetylSection({
  topic: TopicFilterSchema,
  qos: QosSchema.default(0),
  /** Tether: map the topic on the other side. */
  target: TopicTargetSchema.optional(),
  /** Tether: carry the retain flag across (default) or clear it. */
  retain: z.boolean().default(true),
});
/** One `subscriptions[]` entry (a client block's or a rule side's); not the hub's own subscriptions. */
export type SubscriptionConfig = z.infer<typeof SubscriptionSchema>;

export const BackoffSchema = tetherSection({
  /** First delay; Baetyl starts at 500ms. */
  min: DurationSchema.default(500),
  /** Cap; defaults to the connection's `interval`. */
  max: DurationSchema.optional(),
  factor: z.number().min(1).max(10).default(2),
  /** 0..1: each delay is drawn from [d·(1−jitter), d]. */
  jitter: z.number().min(0).max(1).default(0.2),
});
/** A connection's `backoff` block; the Backoff class (edge-agent/src/transport) runs it. */
export type BackoffConfig = z.infer<typeof BackoffSchema>;

/**
 * Read pacing longer than this would only add latency: a pause of 1–2 ms already gathers a full
 * batch per read (BENCHMARKS.md, "Measurements behind the code").
 */
const MAX_READ_PAUSE_MS = 100;

/** The client shape Baetyl shares between `hub` and every `remotes[]` entry. */
const clientShape = {
  address: BrokerAddressSchema,
  username: z.string().optional(),
  password: z.string().optional(),
  clientid: z.string().optional(),
  cleansession: z.boolean().default(false),
  ca: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  /** Skip server certificate verification (Baetyl's name; there is no `insecureSkipVerify`). */
  insecure: z.boolean().default(false),
  timeout: DurationSchema.default(30_000),
  /** Maximum reconnect backoff (Baetyl: starts at 500ms and doubles up to this). */
  interval: DurationSchema.default(60_000),
  keepalive: DurationSchema.default(600_000),
  /** Baetyl's in-memory channel size; Tether uses it as the in-flight window when larger. */
  buffersize: z.number().int().positive().default(10),
  validatesubs: z.boolean().default(false),
  subscriptions: z.array(SubscriptionSchema).default([]),
  // --- Tether extensions ---
  /** MQTT protocol version of this connection. */
  protocol: z
    .literal(['3.1.1', '5', 4, 5])
    .transform((v) => (v === '5' || v === 5 ? 5 : 4) as 4 | 5)
    .default(4),
  backoff: BackoffSchema.optional(),
  /** Highest QoS used towards this broker (e.g. 1 for brokers without QoS 2). */
  maxqos: QosSchema.default(2),
  /** MQTT 5 session expiry; kept by the broker across agent restarts. */
  sessionexpiry: DurationSchema.default(3_600_000),
  /** TLS server name (SNI) when it differs from the address host. */
  servername: z.string().optional(),
  /** TLS ALPN protocols (e.g. `x-amzn-mqtt-ca` for AWS IoT on port 443). */
  alpn: z.array(z.string()).optional(),
  /**
   * Read pacing: when small reads come closer than half of this, reading pauses this long so the next
   * read takes a batch (fewer wakeups and syscalls per message, up to this much added latency). 0 = off.
   * tcp:// connections only (see ReadPacer).
   */
  readpause: DurationSchema.refine((ms) => ms <= MAX_READ_PAUSE_MS, {
    message: `at most ${MAX_READ_PAUSE_MS}ms: it is added to every message's latency under load`,
  }).default(1),
};

export const HubClientSchema = baetylSection(clientShape);
export type HubClientConfig = z.infer<typeof HubClientSchema>;

/** Mosquitto's bridge notification topic; `{clientid}` is the remote connection's client id. */
export const DEFAULT_STATE_TOPIC = '$SYS/broker/connection/{clientid}/state';
/** On the remote, outside `$SYS/`: brokers (Tether's hub among them) refuse a client's Will there. */
export const DEFAULT_REMOTE_STATE_TOPIC = 'tether/{clientid}/state';

/**
 * (Tether) Connection state topics, as Mosquitto's bridge `notifications`: a retained `1`/`0`
 * on the hub while this remote's connection is up/down, and on the remote a retained `1` at
 * connect with a Last Will of `0`, so the cloud sees the edge go offline.
 */
const notificationsSchema = (remoteByDefault: boolean) =>
  z
    .object({
      hub: z.boolean().default(true),
      hubtopic: z.string().min(1).default(DEFAULT_STATE_TOPIC),
      remote: z.boolean().default(remoteByDefault),
      remotetopic: z.string().min(1).default(DEFAULT_REMOTE_STATE_TOPIC),
    })
    .default({
      hub: true,
      hubtopic: DEFAULT_STATE_TOPIC,
      remote: remoteByDefault,
      remotetopic: DEFAULT_REMOTE_STATE_TOPIC,
    });
export type NotificationsConfig = z.infer<ReturnType<typeof notificationsSchema>>;

// --- remotes: one schema per `provider:` (a discriminated union; absent means `mqtt`) ---

const remoteName = z.string().min(1, 'a remote needs a name');

/** `provider: mqtt` (the default, and every Baetyl config): any MQTT 3.1.1/5 broker. */
export const MqttRemoteSchema = baetylSection({
  name: remoteName,
  provider: z.literal('mqtt').default('mqtt'),
  ...clientShape,
  notifications: notificationsSchema(true),
});
export type MqttRemoteConfig = z.infer<typeof MqttRemoteSchema>;

/** Baidu IoT Hub's ports per transport: MQTT over TLS 1884, WebSocket over TLS 8884, plain TCP 1883. */
export const BAIDU_IOTHUB_PORTS = { ssl: 1884, wss: 8884, tcp: 1883 } as const;
export type BaiduIotHubTransport = keyof typeof BAIDU_IOTHUB_PORTS;

/** `ssl://<endpoint>.mqtt.iot.<region>.baidubce.com:1884` (or the wss/tcp equivalent). */
export function baiduIotHubAddress(endpoint: string, region: string, transport: BaiduIotHubTransport): string {
  const host = `${endpoint}.mqtt.iot.${region}.baidubce.com`;
  const port = BAIDU_IOTHUB_PORTS[transport];
  return transport === 'wss' ? `wss://${host}:${port}/mqtt` : `${transport}://${host}:${port}`;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;

/**
 * Said once when a `baidu-iothub` remote (or provisioning) is used: Baidu is retiring IoT Hub. Its
 * Java SDK marks IotHubClient `@deprecated Use IoTCoreClient, IoT-hub will not be supported in the
 * future` (baidubce/bce-sdk-java, IotHubClient.java). Existing remotes keep working.
 */
export const BAIDU_IOTHUB_DEPRECATED =
  'Baidu IoT Hub is deprecated by Baidu ("IoT-hub will not be supported in the future"); it keeps working, but plan the move to its successor IoT Core (provider baidu-iotcore)';

/**
 * `provider: baidu-iothub`: Baidu IoT Hub's conventions (Baidu's deprecated service: new sites use
 * `baidu-iotcore`). `address` and `username` are derived from `endpoint`, `region` and `thing`
 * when not given; messages over its limits are refused before sending (`maxpayload`, 32 KiB
 * unless Baidu raised the instance's quota).
 */
export const BaiduIotHubRemoteSchema = z
  .object({
    name: remoteName,
    provider: z.literal('baidu-iothub'),
    ...clientShape,
    /** The remote side is off by default: a Will outside the device's topic permissions is refused. */
    notifications: notificationsSchema(false),
    address: BrokerAddressSchema.optional(),
    /** The IoT Hub endpoint (project) name: the first label of `<endpoint>.mqtt.iot.<region>.baidubce.com`. */
    endpoint: z.string().regex(DNS_LABEL, 'expected the endpoint name, e.g. "myproject"').optional(),
    /** Baidu Cloud region of the endpoint, e.g. `bj` or `gz`. */
    region: z.string().regex(DNS_LABEL, 'expected a region such as bj or gz').optional(),
    /** The thing (device) name; the MQTT username is `<endpoint>/<thing>`. */
    thing: z.string().min(1).optional(),
    /** How a derived address connects: `ssl` (1884), `wss` (8884) or `tcp` (1883). */
    transport: z.enum(['ssl', 'wss', 'tcp']).default('ssl'),
    /** Baidu IoT Hub has no QoS 2. */
    maxqos: QosSchema.default(1),
    /** Largest payload Baidu accepts: 32 KiB by default, up to 128 KiB on request. */
    maxpayload: ByteSizeSchema.default(32 * 1024),
  })
  .apply(tetherKeys)
  .check(
    crossCheck((remote, issue) => {
      if (remote.address === undefined && (remote.endpoint === undefined || remote.region === undefined)) {
        issue(
          ['address'],
          'give address, or endpoint and region (address becomes ssl://<endpoint>.mqtt.iot.<region>.baidubce.com:1884)',
        );
      }
      if (remote.username === undefined && (remote.endpoint === undefined || remote.thing === undefined)) {
        issue(
          ['username'],
          'give username, or endpoint and thing (Baidu IoT Hub expects the username <endpoint>/<thing>)',
        );
      }
      if (remote.password === undefined && remote.cert === undefined) {
        issue(['password'], 'Baidu IoT Hub needs a password, or a client certificate (cert and key)');
      }
    }),
  )
  .transform((remote) => {
    const { endpoint, region, thing } = remote;
    return {
      ...remote,
      address: remote.address ?? baiduIotHubAddress(endpoint ?? '', region ?? '', remote.transport),
      username: remote.username ?? `${endpoint}/${thing}`,
    };
  });
export type BaiduIotHubRemoteConfig = z.infer<typeof BaiduIotHubRemoteSchema>;

/**
 * `provider: baidu-iotcore`: Baidu IoT Core (../baidu-iotcore.ts has the rules and their sources).
 * The fields are what Baidu's console shows a device ("连接信息": IoTCoreId, DeviceKey,
 * DeviceSecret); `address` and the signature login (`thingidp@…` username, hashed password) are
 * derived from them. A certificate device gives `cert` and `key` instead of `devicesecret`.
 */
export const BaiduIotCoreRemoteSchema = z
  .object({
    name: remoteName,
    provider: z.literal('baidu-iotcore'),
    ...clientShape,
    /** The remote side is off by default: a Will outside the device's template topics is refused. */
    notifications: notificationsSchema(false),
    address: BrokerAddressSchema.optional(),
    /** The instance: the first label of `<iotcoreid>.iot.<region>.baidubce.com`. */
    iotcoreid: z.string().regex(DNS_LABEL, 'expected the IoT Core ID, e.g. "abcd123"').optional(),
    /** Baidu Cloud region of the instance: `gz` or `bj`. */
    region: z.string().regex(DNS_LABEL, 'expected a region such as gz or bj').optional(),
    /** The device's name (DeviceKey): also the client id unless `clientid` says otherwise. */
    devicekey: z
      .string()
      .regex(BAIDU_IOTCORE_DEVICE_NAME, 'expected the device name: 1-40 letters, digits, "-" or "_"')
      .optional(),
    /** The device's secret (DeviceSecret, signature auth): the password is derived from it, never sent. */
    devicesecret: z.string().min(1).optional(),
    /** The hash of the signature login. */
    algorithm: z
      .string()
      .transform((a) => a.toUpperCase())
      .pipe(z.enum(BAIDU_IOTCORE_ALGORITHMS, { error: 'expected SHA256 or MD5' }))
      .default(BAIDU_IOTCORE_DEFAULT_ALGORITHM),
    /**
     * Sign each CONNECT with the current time (Baidu accepts it within 10 minutes of its clock, so a
     * captured password soon stops working); false: timestamp 0, Baidu's form for devices whose
     * clock cannot be trusted, the same password every time.
     */
    timestamped: z.boolean().default(false),
    /** How a derived address connects: `ssl` (1884) or `tcp` (1883). */
    transport: z.enum(['ssl', 'tcp']).default('ssl'),
    /** IoT Core has no QoS 2 ("系统限制": 不支持 QoS2 消息). */
    maxqos: QosSchema.default(1),
    /** Largest payload Baidu accepts: 32 KiB by default, up to 128 KiB on request. */
    maxpayload: ByteSizeSchema.default(32 * 1024),
  })
  .apply(tetherKeys)
  .check(
    crossCheck((remote, report) => {
      const issue = (path: string, message: string) => report([path], message);
      const has = (field: string) => remote[field] !== undefined;
      if (!has('address') && (!has('iotcoreid') || !has('region'))) {
        issue(
          'address',
          'give address, or iotcoreid and region (address becomes ssl://<iotcoreid>.iot.<region>.baidubce.com:1884)',
        );
      }
      if (has('devicesecret')) {
        if (!has('iotcoreid') || !has('devicekey')) {
          issue(
            has('devicekey') ? 'iotcoreid' : 'devicekey',
            'devicesecret needs iotcoreid and devicekey: the username is thingidp@<iotcoreid>|<devicekey>|…',
          );
        }
        if (has('username') || has('password')) {
          issue(has('password') ? 'password' : 'username', 'give devicesecret or username and password, not both');
        }
      } else if (!has('password') && !has('cert')) {
        issue(
          'devicesecret',
          'Baidu IoT Core needs devicesecret (signature auth), or a client certificate (cert and key)',
        );
      }
      if (remote.timestamped === true && !has('devicesecret')) {
        issue('timestamped', 'a timestamped login is signed with devicesecret: give it');
      }
      if (!has('clientid') && !has('devicekey')) {
        issue('clientid', 'give devicekey (the client id defaults to it) or clientid');
      }
    }),
  )
  .transform((remote) => {
    const { iotcoreid, region, devicekey, devicesecret } = remote;
    const login =
      devicesecret === undefined
        ? {}
        : baiduIotCoreLogin({
            iotCoreId: iotcoreid ?? '',
            deviceKey: devicekey ?? '',
            deviceSecret: devicesecret,
            algorithm: remote.algorithm,
          });
    return {
      ...remote,
      address: remote.address ?? baiduIotCoreAddress(iotcoreid ?? '', region ?? '', remote.transport),
      clientid: remote.clientid ?? devicekey,
      // timestamp 0 here; a `timestamped` remote signs again at each CONNECT (the adapter)
      ...login,
    };
  });
export type BaiduIotCoreRemoteConfig = z.infer<typeof BaiduIotCoreRemoteSchema>;

/** AWS IoT Core's MQTT port (mutual TLS); 443 works too, with ALPN `x-amzn-mqtt-ca` (always offered). */
export const AWS_IOT_PORT = 8883;

/**
 * `provider: aws-iot`: AWS IoT Core over mutual TLS with the AWS IoT Device SDK's MQTT 5 client.
 * `address` is derived from `endpoint` and `port`; the client id defaults to `thing`; without
 * `ca` the Amazon Root CA 1 shipped with the agent is trusted.
 */
export const AwsIotRemoteSchema = z
  .object({
    name: remoteName,
    provider: z.literal('aws-iot'),
    ...clientShape,
    /** Only the hub side: AWS IoT reports presence itself ($aws/events/presence/...). */
    notifications: notificationsSchema(false),
    address: BrokerAddressSchema.optional(),
    /** The account's device data endpoint, e.g. `abc123-ats.iot.eu-west-1.amazonaws.com`. */
    endpoint: z
      .string()
      .regex(/^[a-z0-9.-]+$/i, 'expected a host name such as abc123-ats.iot.eu-west-1.amazonaws.com')
      .optional(),
    /** 8883 (default) or 443 (the agent offers ALPN x-amzn-mqtt-ca, as AWS IoT requires there). */
    port: z.number().int().min(1).max(65535).default(AWS_IOT_PORT),
    /** The thing name; the MQTT client id unless `clientid` says otherwise. */
    thing: z.string().min(1).max(128).optional(),
    /** The SDK's client speaks MQTT 5 only. */
    protocol: z
      .union([z.literal('5'), z.literal(5)], { error: 'aws-iot connects with MQTT 5 (the AWS IoT Device SDK client)' })
      .transform(() => 5 as const)
      .default(5),
    /** AWS IoT Core and the SDK have no QoS 2. */
    maxqos: QosSchema.default(1),
  })
  .apply(tetherKeys)
  .check(
    // runs even when a field failed, so one run reports every problem (a partly parsed remote)
    crossCheck((remote, report) => {
      const issue = (path: string, message: string) => report([path], message);
      if (remote.address === undefined && remote.endpoint === undefined) {
        issue('endpoint', 'give endpoint (your AWS IoT data endpoint) or address (ssl://HOST:8883)');
      }
      if (typeof remote.address === 'string' && !/^(ssl|mqtts|tls):\/\//.test(remote.address)) {
        issue('address', 'aws-iot connects over mutual TLS: expected ssl://HOST:8883 or ssl://HOST:443');
      }
      if (remote.cert === undefined) issue('cert', 'aws-iot needs the thing certificate (cert) and its key (key)');
      if (remote.key === undefined) issue('key', 'aws-iot needs the private key (key) of the thing certificate');
      if (remote.clientid === undefined && remote.thing === undefined) {
        issue('thing', 'give thing (the client id defaults to it) or clientid');
      }
      if (remote.username !== undefined || remote.password !== undefined) {
        issue(
          remote.password !== undefined ? 'password' : 'username',
          'aws-iot authenticates with the certificate only',
        );
      }
      if (remote.insecure === true) issue('insecure', 'aws-iot always verifies the server certificate');
      if (remote.alpn !== undefined) issue('alpn', 'aws-iot offers ALPN x-amzn-mqtt-ca itself');
      if (remote.servername !== undefined) issue('servername', 'aws-iot uses the endpoint host as TLS server name');
    }),
  )
  .transform((remote) => ({
    ...remote,
    address: remote.address ?? `ssl://${remote.endpoint}:${remote.port}`,
    clientid: remote.clientid ?? remote.thing,
  }));
export type AwsIotRemoteConfig = z.infer<typeof AwsIotRemoteSchema>;

/** A remote: its `provider:` picks the cloud adapter; absent means `mqtt` (Baetyl's configs). */
export const RemoteSchema = z.discriminatedUnion(
  'provider',
  [MqttRemoteSchema, BaiduIotCoreRemoteSchema, BaiduIotHubRemoteSchema, AwsIotRemoteSchema],
  {
    error: (issue): string | undefined =>
      issue.code === 'invalid_union'
        ? `unknown provider ${JSON.stringify((issue.input as { provider?: unknown } | undefined)?.provider)}: expected ${REMOTE_PROVIDERS.join(', ')} (mqtt when absent)`
        : undefined,
  },
);
export type RemoteConfig = z.infer<typeof RemoteSchema>;
/** A remote's `provider:`: which cloud adapter the agent connects it with (not ProvisioningProvider). */
export type RemoteProvider = RemoteConfig['provider'];

/** The providers a remote may name, in the union's order, read from RemoteSchema: a new member needs no second list. */
export const REMOTE_PROVIDERS: readonly RemoteProvider[] = [...(RemoteSchema._zod.propValues.provider ?? [])].filter(
  (provider): provider is RemoteProvider => typeof provider === 'string',
);

/**
 * Store-and-forward (Tether). One queue per destination connection, in the data dir.
 * `process` survives the agent being killed; `fsync` survives power loss (group commit keeps
 * it fast); `memory` keeps nothing across a crash.
 */
export const QueueConfigSchema = tetherSection({
  durability: z.enum(['memory', 'process', 'fsync']).default('process'),
  maxmessages: z.number().int().positive().default(1_000_000),
  maxbytes: ByteSizeSchema.default(1024 ** 3),
  /** `drop-oldest`: make room by dropping the oldest; `reject-new`: hold the source's ack until there is room. */
  overflow: z.enum(['drop-oldest', 'reject-new']).default('drop-oldest'),
  /** QoS 0 messages for a destination that is offline: dropped (as MQTT does) or queued. */
  qos0: z.enum(['drop', 'queue']).default('drop'),
  /** Publishes awaiting the destination's ack at once. */
  inflight: z.number().int().min(1).max(65535).default(100),
  /** Messages of a durable queue held in memory; the rest stay on disk until needed. */
  memory: z.number().int().min(1).default(10_000),
  /**
   * Longest wait of a message for its group commit (Go duration; 0 = the next event-loop turn).
   * The source is acknowledged once the message is committed or delivered, whichever is first,
   * so a message the destination acknowledges within it is never written.
   */
  commitdelay: DurationSchema.default(1),
  /**
   * Poison messages: one that fails `after` times in a row the same way (the destination drops
   * the connection with it alone in flight, or refuses it) moves to the store's dead letters.
   */
  deadletter: z.object({ after: z.number().int().min(1).max(1_000).default(5) }).default({ after: 5 }),
});
export type QueueConfig = z.infer<typeof QueueConfigSchema>;

export const RuleSchema = baetylSection({
  hub: z
    .object({
      clientid: z.string().optional(),
      subscriptions: z.array(SubscriptionSchema).default([]),
    })
    .apply(baetylKeys)
    .default({ subscriptions: [] }),
  remote: baetylSection({
    name: z.string().min(1, 'a rule must name its remote'),
    clientid: z.string().optional(),
    subscriptions: z.array(SubscriptionSchema).default([]),
  }),
});
export type Rule = z.infer<typeof RuleSchema>;

export const BridgeConfigSchema = z
  .object({
    name: z.string().default('tether'),
    hub: HubClientSchema,
    remotes: z.array(RemoteSchema).min(1, 'at least one remote is needed'),
    rules: z.array(RuleSchema).min(1, 'at least one rule is needed'),
    queue: QueueConfigSchema.default(QueueConfigSchema.parse({})),
    /** (Tether) Prometheus metrics at http://LISTEN/metrics, e.g. `127.0.0.1:9464`. */
    metrics: tetherSection({ listen: HostPortSchema }).optional(),
    logger: LoggerSchema,
  })
  .apply(baetylKeys)
  .check(
    // runs even when a field failed: a rule naming no remote shows in the same run as a bad qos
    crossCheck((config, issue) => {
      const names: string[] = [];
      const remotes = partlyList(config.remotes);
      remotes.forEach((remote, i) => {
        const { name } = partly(remote);
        if (typeof name !== 'string' || name === '') return;
        if (names.includes(name)) issue(['remotes', i, 'name'], `duplicate remote name "${name}"`);
        else names.push(name);
      });
      // a remote without a readable name is reported already; every rule would be reported with it
      if (remotes.length === 0 || remotes.some((r) => typeof partly(r).name !== 'string')) return;
      partlyList(config.rules).forEach((rule, i) => {
        const { name } = partly(partly(rule).remote);
        if (typeof name === 'string' && name !== '' && !names.includes(name)) {
          issue(['rules', i, 'remote', 'name'], `no remote "${name}" (remotes: ${names.join(', ') || 'none'})`);
        }
      });
    }),
  );
export type BridgeConfig = z.infer<typeof BridgeConfigSchema>;
export type BridgeConfigInput = z.input<typeof BridgeConfigSchema>;
