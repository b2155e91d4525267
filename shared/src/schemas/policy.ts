import { z } from 'zod';
import { topicFilterProblem } from './common.js';

/**
 * Tether's policy model: the topic filters a thing may publish and subscribe. `{thing}` stands for
 * the thing's name, so one policy serves a fleet. The cloud maps it to a Mosquitto ACL, an AWS IoT
 * policy document and Baidu IoTHub permissions; the bundle's bridge rules come from it too.
 */

export const THING_PLACEHOLDER = '{thing}';

/**
 * A thing name is also its MQTT client id, its certificate's CN and a path segment in cloud APIs:
 * letters, digits, `-` and `_` (what AWS IoT and Baidu IoTHub both accept), at most 128.
 */
export const ThingNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/,
    'expected 1-128 letters, digits, "-" or "_", starting with a letter or digit',
  );

/** Where a policy filter is wrong, or undefined: a valid MQTT filter once `{thing}` is replaced. */
export function policyFilterProblem(filter: string): string | undefined {
  const rest = filter.replaceAll(THING_PLACEHOLDER, 'x');
  // a line break would end a Mosquitto ACL line early; no broker needs control characters in a filter
  if ([...rest].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    return `control characters are not allowed in ${JSON.stringify(filter)}`;
  if (rest.includes('{') || rest.includes('}')) return `unknown placeholder in "${filter}" (only ${THING_PLACEHOLDER})`;
  return topicFilterProblem(rest);
}

export const PolicyFilterSchema = z.string().superRefine((value, ctx) => {
  const problem = policyFilterProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Baidu IoTHub takes at most 100 topics per policy; the same bound keeps every mapping small. */
const MAX_FILTERS = 100;

export const PolicySchema = z
  .object({
    /** Topic filters the thing may publish to (at the cloud). */
    publish: z.array(PolicyFilterSchema).max(MAX_FILTERS).default([]),
    /** Topic filters the thing may subscribe to (and receive from) at the cloud. */
    subscribe: z.array(PolicyFilterSchema).max(MAX_FILTERS).default([]),
  })
  .strict()
  .refine((p) => p.publish.length + p.subscribe.length > 0, {
    message: 'a policy needs at least one publish or subscribe filter',
  });
export type Policy = z.infer<typeof PolicySchema>;
export type PolicyInput = z.input<typeof PolicySchema>;

/** The filters of `policy` for one thing: `{thing}` replaced, duplicates removed, order kept. */
export function expandPolicy(policy: Policy, thing: string): { publish: string[]; subscribe: string[] } {
  const expand = (filters: readonly string[]) => [
    ...new Set(filters.map((f) => f.replaceAll(THING_PLACEHOLDER, thing))),
  ];
  return { publish: expand(policy.publish), subscribe: expand(policy.subscribe) };
}
