import { z } from 'zod';
import { closestMatch } from './closest-match.js';

/**
 * Whose a section of a config file is decides what an unknown key in it means. Baetyl ignored keys
 * it did not know, so in a section Baetyl defined an unknown key is a warning (a Baetyl file keeps
 * running); in a section only Tether has, no older file can carry one, so it is a typo: an error.
 */
export type Severity = 'error' | 'warning';

/** `params` of a config issue that does not stop the file from loading. */
export interface ConfigIssueParams {
  readonly severity: Severity;
}

/** A section Baetyl defined (Tether may add keys to it): an unknown key is a warning. */
export function baetylSection<T extends z.core.$ZodLooseShape>(shape: T) {
  return baetylKeys(z.object(shape));
}

/** A section only Tether has: an unknown key is an error. */
export function tetherSection<T extends z.core.$ZodLooseShape>(shape: T) {
  return tetherKeys(z.object(shape));
}

/** The same for an object built in a chain: `z.object({...}).apply(baetylKeys)`. */
export function baetylKeys<T extends z.ZodObject>(object: T): T {
  return withUnknownKeys(object, 'warning');
}

/** The same for an object built in a chain: `z.object({...}).apply(tetherKeys)`. */
export function tetherKeys<T extends z.ZodObject>(object: T): T {
  return withUnknownKeys(object, 'error');
}

function withUnknownKeys<T extends z.ZodObject>(object: T, severity: Severity): T {
  // the catchall only reports; the typed object keeps its exact keys (an index signature would let
  // `config.queue.durabilty` compile), so the cast hides the catchall from the output type. Apply
  // it to the whole shape: the did-you-mean knows the keys it had then.
  return object.catchall(unknownKey(Object.keys(object.shape), severity)) as unknown as T;
}

function unknownKey(known: readonly string[], severity: Severity) {
  const params: ConfigIssueParams = { severity };
  return z.custom<never>(() => false, {
    // not aborting: the section's own checks (and every check above it) still run, so one run
    // reports every problem
    abort: false,
    params,
    error: (issue) => unknownKeyMessage(String(issue.path?.at(-1) ?? ''), known, severity),
  });
}

export function unknownKeyMessage(key: string, known: readonly string[], severity: Severity): string {
  const what = severity === 'warning' ? 'unknown key, ignored' : 'unknown key';
  const close = closestMatch(key, known);
  if (close !== undefined) return `${what} (did you mean "${close}"?)`;
  return `${what} (known here: ${known.join(', ')})`;
}

/** A value as far as it parsed, read defensively by checks that run even when a field failed. */
export type Partly = Readonly<Record<string, unknown>>;

export function partly(value: unknown): Partly {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Partly) : {};
}

export function partlyList(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

type Issue = (path: readonly PropertyKey[], message: string) => void;

/**
 * A check across fields (a rule naming a remote, a duplicate name) that runs even when some field
 * failed to parse: zod skips refinements then, and the problem would show only on a second run.
 * It sees the value as far as it parsed, so it reads it with `partly`.
 */
export function crossCheck(check: (value: Partly, issue: Issue) => void) {
  return z.superRefine<unknown>(
    (value, ctx) => {
      check(partly(value), (path, message) => ctx.addIssue({ code: 'custom', path: [...path], message }));
    },
    { when: () => true },
  );
}
