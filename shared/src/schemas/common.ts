import { z } from 'zod';
import { baetylKeys } from './sections.js';

/** Go-style duration ("500ms", "30s", "1m", "1h30m") or a number of milliseconds. */
const GO_DURATION = /^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

export function parseDurationMs(text: string): number {
  let total = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (UNIT_MS[part[2] ?? 'ms'] ?? 1);
  }
  return Math.round(total);
}

const DURATION_HINT = 'expected a duration such as "500ms", "30s", "1m" or "1h", or a number of milliseconds';

export const DurationSchema = z.union([z.number(), z.string()], { error: DURATION_HINT }).transform((value, ctx) => {
  if (typeof value === 'number' && value >= 0) return value;
  if (typeof value === 'string' && GO_DURATION.test(value)) return parseDurationMs(value);
  ctx.addIssue({ code: 'custom', message: `${DURATION_HINT}, got ${JSON.stringify(value)}` });
  return z.NEVER;
});

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
// docker/go-units RAMInBytes, which Baetyl used: binary multipliers, optional "i" and "b"
const BYTE_SIZE = /^(\d+(?:\.\d+)?) ?([kmgt])?i?b?$/i;

/** Bytes from a Baetyl size ("32k", "32KiB", "1m", "1.5MB", "32768"); undefined when unreadable. */
export function parseByteSize(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 1 ? Math.floor(value) : undefined;
  const m = BYTE_SIZE.exec(value.trim());
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * (BYTE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1));
  return bytes >= 1 ? bytes : undefined;
}

const SIZE_HINT = 'expected a size such as 32k, 1m, 256MB or a number of bytes';

export const ByteSizeSchema = z.union([z.number(), z.string()], { error: SIZE_HINT }).transform((value, ctx) => {
  const bytes = parseByteSize(value);
  if (bytes !== undefined) return bytes;
  ctx.addIssue({
    code: 'custom',
    message: `${SIZE_HINT}, got ${JSON.stringify(value)}`,
  });
  return z.NEVER;
});

/** Reports `must be 0, 1 or 2 (got 7)` through the config error map. */
export const QosSchema = z.literal([0, 1, 2]);
export type QoS = z.infer<typeof QosSchema>;

/** Where a validated topic filter is required: `+` and `#` only as whole levels, `#` last. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'empty topic filter';
  if (Buffer.byteLength(filter) > 65535) return 'topic filter longer than 65535 bytes';
  if (filter.includes('\u0000')) return 'topic filter contains U+0000';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    // [MQTT-4.7.1-2] '#' alone and last; [MQTT-4.7.1-3] '+' occupies a whole level
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return `'#' must be the whole last level in "${filter}"`;
    }
    if (level.includes('+') && level !== '+') {
      return `'+' must be a whole level in "${filter}"`;
    }
  }
  return undefined;
}

export function topicNameProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'empty topic';
  if (topic.includes('+') || topic.includes('#')) return `wildcards are not allowed in topic "${topic}"`;
  if (topic.includes('\u0000')) return 'topic contains U+0000';
  return undefined;
}

export const TopicFilterSchema = z.string().superRefine((value, ctx) => {
  const problem = topicFilterProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const TopicNameSchema = z.string().superRefine((value, ctx) => {
  const problem = topicNameProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Baetyl's logger block, shared by the hub and the bridge config. */
export const LoggerSchema = z
  .object({
    path: z.string().optional(),
    level: z.enum(['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic', 'silent']).default('info'),
    format: z.enum(['text', 'json']).default('json'),
    age: z
      .object({ max: z.number().int().nonnegative().default(15) })
      .apply(baetylKeys)
      .partial()
      .optional(),
    size: z
      .object({ max: z.number().int().nonnegative().default(50) })
      .apply(baetylKeys)
      .partial()
      .optional(),
    backup: z
      .object({ max: z.number().int().nonnegative().default(15) })
      .apply(baetylKeys)
      .partial()
      .optional(),
  })
  .apply(baetylKeys)
  .default({ level: 'info', format: 'json' });
export type LoggerConfig = z.infer<typeof LoggerSchema>;
