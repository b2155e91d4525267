import { z } from 'zod';
import {
  ByteSizeSchema,
  DurationSchema,
  LoggerSchema,
  QosSchema,
  TopicFilterSchema,
  TopicNameSchema,
} from './common.js';

/** Baetyl-Hub's `service.yml`, accepted unchanged, plus documented Tether extensions. */

const LISTEN = /^(tcp|ssl|ws|wss|mqtt|mqtts|tls):\/\/[^\s/]*:\d+(\/.*)?$/;

export const PermissionSchema = z.object({
  action: z.enum(['pub', 'sub']),
  permit: z.array(TopicFilterSchema).default([]),
});
export type Permission = z.infer<typeof PermissionSchema>;

/**
 * `password` is plain text (as in Baetyl) or a hash `scrypt$N$r$p$SALT$HASH` (Tether,
 * see `tether-agent hash-password`). Without a password the principal is a certificate
 * login whose username is the client certificate's common name.
 */
export const PrincipalSchema = z.object({
  username: z.string().min(1),
  password: z.string().optional(),
  permissions: z.array(PermissionSchema).default([]),
});
export type Principal = z.infer<typeof PrincipalSchema>;

export const HubRouteSchema = z.object({
  source: z.object({ topic: TopicFilterSchema, qos: QosSchema.default(0) }),
  target: z.object({ topic: TopicNameSchema, qos: QosSchema.default(0) }),
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
      .prefault({}),
  })
  .prefault({});
export type HubLimits = z.infer<typeof HubLimitsSchema>;

export const HubConfigSchema = z
  .object({
    listen: z
      .array(
        z
          .string()
          .regex(LISTEN, 'expected tcp://HOST:PORT, ssl://HOST:PORT, ws://HOST:PORT[/PATH] or wss://HOST:PORT[/PATH]'),
      )
      .min(1, 'the hub needs at least one listen address'),
    certificate: z.object({ ca: z.string().optional(), cert: z.string(), key: z.string() }).optional(),
    principals: z.array(PrincipalSchema).default([]),
    subscriptions: z.array(HubRouteSchema).default([]),
    message: z
      .object({
        length: z.object({ max: ByteSizeSchema.optional() }).partial().optional(),
      })
      .passthrough()
      .optional(),
    storage: z
      .object({ dir: z.string().default('var/db/baetyl/data') })
      .partial()
      .optional(),
    shutdown: z
      .object({ timeout: DurationSchema.default(600_000) })
      .partial()
      .optional(),
    metrics: z
      .object({ report: z.object({ interval: DurationSchema.optional() }).partial().optional() })
      .partial()
      .optional(),
    limits: HubLimitsSchema,
    logger: LoggerSchema,
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.principals.forEach((p, i) => {
      if (seen.has(p.username)) {
        ctx.addIssue({
          code: 'custom',
          path: ['principals', i, 'username'],
          message: `duplicate username "${p.username}"`,
        });
      }
      seen.add(p.username);
    });
    const routes = new Set<string>();
    config.subscriptions.forEach((s, i) => {
      const key = `${s.source.topic}\u0000${s.target.topic}`;
      if (routes.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['subscriptions', i], message: 'duplicate source and target' });
      }
      routes.add(key);
    });
    const needsTls = config.listen.some((l) => /^(ssl|wss|mqtts|tls):/.test(l));
    if (needsTls && !config.certificate) {
      ctx.addIssue({
        code: 'custom',
        path: ['certificate'],
        message: 'ssl:// and wss:// listeners need certificate.cert and certificate.key',
      });
    }
  });
export type HubConfig = z.infer<typeof HubConfigSchema>;
