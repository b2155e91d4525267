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
