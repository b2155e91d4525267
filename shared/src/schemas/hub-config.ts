import { z } from 'zod';
import { ListenAddressSchema } from './addresses.js';
import {
  ByteSizeSchema,
  DurationSchema,
  LoggerSchema,
  QosSchema,
  TopicFilterSchema,
  TopicNameSchema,
} from './common.js';
import { baetylKeys, baetylSection, crossCheck, partly, partlyList, tetherKeys, tetherSection } from './sections.js';

/**
 * Baetyl-Hub's `service.yml`, accepted unchanged, plus documented Tether extensions. Sections
 * Baetyl defined warn on an unknown key (`baetylSection`, `baetylKeys`); Tether's own (`limits`)
 * refuse one.
 */

export const PermissionSchema = baetylSection({
  action: z.enum(['pub', 'sub']),
  permit: z.array(TopicFilterSchema).default([]),
  /** Tether: carved out of `permit`. A topic, or a subscription's filter read as a topic, that one of these matches is refused (as Mosquitto's dynamic security does). */
  deny: z.array(TopicFilterSchema).optional(),
});
export type Permission = z.infer<typeof PermissionSchema>;

/**
 * `password` is plain text (as in Baetyl) or a hash `scrypt$N$r$p$SALT$HASH` (Tether,
 * see `tether-agent hash-password`). Without a password the principal is a certificate
 * login whose username is the client certificate's common name.
 */
export const PrincipalSchema = baetylSection({
  username: z.string().min(1),
  password: z.string().optional(),
  permissions: z.array(PermissionSchema).default([]),
});
export type Principal = z.infer<typeof PrincipalSchema>;

export const HubRouteSchema = baetylSection({
  source: baetylSection({ topic: TopicFilterSchema, qos: QosSchema.default(0) }),
  target: baetylSection({ topic: TopicNameSchema, qos: QosSchema.default(0) }),
});
export type HubRoute = z.infer<typeof HubRouteSchema>;

/**
 * Tether's bounds on the embedded hub (not in Baetyl-Hub), each with its default; Mosquitto's
 * option of the same job in brackets. Every one is per connection or per session unless it says.
 */
export const HubLimitsSchema = z
  .object({
    /** Largest MQTT packet, fixed header included; refused from the fixed header before it is buffered. Default: 1 MiB, or message.length.max + 64 KiB if that is larger [max_packet_size]. */
    packetsize: ByteSizeSchema.optional(),
    /** Client connections at once, whole hub [max_connections]. */
    connections: z.number().int().positive().default(10_000),
    /** A socket that sends no CONNECT within this is closed. */
    connecttimeout: DurationSchema.default(10_000),
    /** Longest keep alive a client may ask for: a 5.0 client asking for more (or for none) is told this one (Server Keep Alive); a 3.1/3.1.1 client asking for more is refused [max_keepalive]. Default 65535s. */
    keepalive: DurationSchema.default(65_535_000),
    /** Subscriptions per client. */
    subscriptions: z.number().int().positive().default(1_000),
    /** QoS 1/2 messages in flight per session, each way: outgoing unacknowledged (an MQTT 5 client's Receive Maximum lowers it) and, announced as the hub's Receive Maximum, incoming from 5.0 clients [max_inflight_messages]. */
    inflight: z.number().int().min(1).max(65_535).default(100),
    /** Messages waiting for a session (offline, or behind its in-flight window) [max_queued_messages]. */
    queue: z
      .object({
        messages: z.number().int().positive().default(10_000),
        bytes: ByteSizeSchema.default(64 * 1024 * 1024),
        /** At the bound: drop the oldest waiting message, or the new one [Mosquitto drops the new one]. */
        policy: z.enum(['drop-oldest', 'drop-new']).default('drop-oldest'),
      })
      .apply(tetherKeys)
      .prefault({}),
    /** Bytes waiting in a connection's socket buffer beyond which QoS 0 to it is dropped and QoS 1/2 waits in its session. */
    outbuffer: ByteSizeSchema.default(1024 * 1024),
    /** A connection whose socket stays over `outbuffer` this long is disconnected. */
    writetimeout: DurationSchema.default(30_000),
    /** How long the hub keeps an MQTT 3.1/3.1.1 persistent session (clean session 0) once its client is gone [persistent_client_expiration]. */
    sessionexpiry: DurationSchema.default(7 * 24 * 3_600_000),
    /** A failed password login is refused only after a delay per client address, doubling per failure from `min` to `max`, forgotten after `forget` without failures; `min: 0` turns it off. Certificate logins and logins that succeed are never delayed. */
    logindelay: z
      .object({
        min: DurationSchema.default(100),
        max: DurationSchema.default(10_000),
        forget: DurationSchema.default(600_000),
      })
      .prefault({}),
    /** Retained messages, whole hub: at the bound a new retained topic is refused (updates and deletes still work). */
    retained: z
      .object({
        messages: z.number().int().positive().default(100_000),
        bytes: ByteSizeSchema.default(256 * 1024 * 1024),
      })
      .apply(tetherKeys)
      .prefault({}),
  })
  .apply(tetherKeys)
  .prefault({});
export type HubLimits = z.infer<typeof HubLimitsSchema>;

/** Baetyl-Hub's message buffers and batches: accepted, not used (Tether's bounds are `limits`). */
const BaetylBuffers = baetylSection({
  buffer: baetylSection({ size: z.number().int().nonnegative() }).partial(),
  batch: baetylSection({ max: z.number().int().nonnegative() }).partial(),
  cleanup: baetylSection({ retention: DurationSchema, interval: DurationSchema }).partial(),
  retry: baetylSection({ interval: DurationSchema }).partial(),
}).partial();
const BaetylQosBuffers = baetylSection({ qos0: BaetylBuffers, qos1: BaetylBuffers }).partial();

export const HubConfigSchema = z
  .object({
    listen: z.array(ListenAddressSchema).min(1, 'the hub needs at least one listen address'),
    certificate: baetylSection({ ca: z.string().optional(), cert: z.string(), key: z.string() }).optional(),
    principals: z.array(PrincipalSchema).default([]),
    /** Tether: what clients that send no username (and no certificate naming a principal) may do. Without it, such clients are refused once principals exist; with neither, anyone may do anything. */
    anonymous: tetherSection({ permissions: z.array(PermissionSchema).default([]) }).optional(),
    subscriptions: z.array(HubRouteSchema).default([]),
    message: z
      .object({
        length: baetylSection({ max: ByteSizeSchema.optional() }).partial().optional(),
        ingress: BaetylQosBuffers.optional(),
        egress: BaetylQosBuffers.optional(),
        offset: baetylSection({ buffer: BaetylBuffers.shape.buffer, batch: BaetylBuffers.shape.batch })
          .partial()
          .optional(),
      })
      .apply(baetylKeys)
      .optional(),
    storage: z
      .object({ dir: z.string().default('var/db/baetyl/data') })
      .apply(baetylKeys)
      .partial()
      .optional(),
    shutdown: z
      .object({ timeout: DurationSchema.default(600_000) })
      .apply(baetylKeys)
      .partial()
      .optional(),
    metrics: z
      .object({ report: baetylSection({ interval: DurationSchema.optional() }).partial().optional() })
      .apply(baetylKeys)
      .partial()
      .optional(),
    limits: HubLimitsSchema,
    logger: LoggerSchema,
  })
  .apply(baetylKeys)
  .check(
    // runs even when a field failed, so one run reports every problem
    crossCheck((config, issue) => {
      const seen = new Set<string>();
      partlyList(config.principals).forEach((principal, i) => {
        const { username } = partly(principal);
        if (typeof username !== 'string') return;
        if (seen.has(username)) issue(['principals', i, 'username'], `duplicate username "${username}"`);
        seen.add(username);
      });
      const routes = new Set<string>();
      partlyList(config.subscriptions).forEach((route, i) => {
        const source = partly(partly(route).source).topic;
        const target = partly(partly(route).target).topic;
        if (typeof source !== 'string' || typeof target !== 'string') return;
        const key = `${source}\u0000${target}`;
        if (routes.has(key)) issue(['subscriptions', i], 'duplicate source and target');
        routes.add(key);
      });
      const tls = partlyList(config.listen).some((l) => typeof l === 'string' && /^(ssl|wss|mqtts|tls):/i.test(l));
      if (tls && config.certificate === undefined) {
        issue(['certificate'], 'ssl:// and wss:// listeners need certificate.cert and certificate.key');
      }
    }),
  );
export type HubConfig = z.infer<typeof HubConfigSchema>;
