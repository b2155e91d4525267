import { z } from 'zod';
import { ByteSizeSchema, DurationSchema, LoggerSchema, QosSchema, TopicFilterSchema } from './common.js';

/**
 * Baetyl-Remote-MQTT's `service.yml`, accepted unchanged, plus Tether's additive extensions.
 * Field names keep Baetyl's lowercase spelling so a Baetyl file means the same thing here.
 */

const ADDRESS = /^(tcp|ssl|ws|wss|mqtt|mqtts|tls):\/\/[^\s/]+(:\d+)?(\/.*)?$/;
export const BrokerAddressSchema = z
  .string()
  .regex(ADDRESS, 'expected tcp://HOST:PORT, ssl://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH');

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
  .refine((t) => !t.topic?.includes('+') && !t.topic?.includes('#'), {
    message: 'a target topic template cannot contain wildcards',
    path: ['topic'],
  });
export type TopicTarget = z.infer<typeof TopicTargetSchema>;

export const SubscriptionSchema = z.object({
  topic: TopicFilterSchema,
  qos: QosSchema.default(0),
  /** Tether: map the topic on the other side. */
  target: TopicTargetSchema.optional(),
  /** Tether: carry the retain flag across (default) or clear it. */
  retain: z.boolean().default(true),
});
export type Subscription = z.infer<typeof SubscriptionSchema>;

export const BackoffSchema = z.object({
  /** First delay; Baetyl starts at 500ms. */
  min: DurationSchema.default(500),
  /** Cap; defaults to the connection's `interval`. */
  max: DurationSchema.optional(),
  factor: z.number().min(1).max(10).default(2),
  /** 0..1: each delay is drawn from [d·(1−jitter), d]. */
  jitter: z.number().min(0).max(1).default(0.2),
});
export type Backoff = z.infer<typeof BackoffSchema>;

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
    .union([z.literal('3.1.1'), z.literal('5'), z.literal(4), z.literal(5)])
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
};

export const HubClientSchema = z.object(clientShape);
export type HubClientConfig = z.infer<typeof HubClientSchema>;

export const RemoteSchema = z.object({
  name: z.string().min(1, 'a remote needs a name'),
  provider: z.literal('mqtt').default('mqtt'),
  ...clientShape,
});
export type RemoteConfig = z.infer<typeof RemoteSchema>;

/**
 * Store-and-forward (Tether). One queue per destination connection, in the data dir.
 * `process` survives the agent being killed; `fsync` survives power loss (group commit keeps
 * it fast); `memory` keeps nothing across a crash.
 */
export const QueueConfigSchema = z.object({
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
});
export type QueueConfig = z.infer<typeof QueueConfigSchema>;

export const RuleSchema = z.object({
  hub: z
    .object({
      clientid: z.string().optional(),
      subscriptions: z.array(SubscriptionSchema).default([]),
    })
    .default({ subscriptions: [] }),
  remote: z.object({
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
    metrics: z
      .object({ listen: z.string().regex(/^(\[[^\]]+\]|[^:\s]+):\d+$/, 'expected HOST:PORT, e.g. 127.0.0.1:9464') })
      .optional(),
    logger: LoggerSchema,
  })
  .superRefine((config, ctx) => {
    const names = new Set<string>();
    config.remotes.forEach((remote, i) => {
      if (names.has(remote.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['remotes', i, 'name'],
          message: `duplicate remote name "${remote.name}"`,
        });
      }
      names.add(remote.name);
    });
    config.rules.forEach((rule, i) => {
      if (!names.has(rule.remote.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'remote', 'name'],
          message: `unknown remote "${rule.remote.name}" (remotes: ${[...names].join(', ') || 'none'})`,
        });
      }
    });
  });
export type BridgeConfig = z.infer<typeof BridgeConfigSchema>;
export type BridgeConfigInput = z.input<typeof BridgeConfigSchema>;
