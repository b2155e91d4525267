import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { issueMessage } from './issue-messages.js';
import type { ConfigIssueParams } from './schemas/sections.js';

/** Every problem of one file: errors refuse it; warnings (unknown keys in Baetyl's sections) do not. */
export interface ConfigProblems {
  /** `path: message`, the form every Tether config error uses. */
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
}

export interface ConfigCheck<T> extends ConfigProblems {
  /** The parsed config; undefined when there is an error. */
  readonly value: T | undefined;
}

/** `rules[0].hub.subscriptions[0].qos`, or `(root)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
}

/** zod issues as `path: message` lines. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

function isWarning(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'custom' && (issue.params as ConfigIssueParams | undefined)?.severity === 'warning';
}

/**
 * Checks `data` against `schema` and reports every problem at once. A warning's key is then left
 * out and the rest parsed again, so a file with only warnings loads (without those keys, as
 * Baetyl read it) and the errors are those of the file as it will run.
 */
export function checkConfig<S extends z.ZodType>(schema: S, data: unknown): ConfigCheck<z.output<S>> {
  const first = schema.safeParse(data, { error: issueMessage });
  if (first.success) return { value: first.data, errors: [], warnings: [] };
  const warned = first.error.issues.filter(isWarning);
  if (warned.length === 0) return { value: undefined, errors: formatIssues(first.error.issues), warnings: [] };
  const warnings = formatIssues(warned);
  const second = schema.safeParse(
    withoutKeys(
      data,
      warned.map((issue) => issue.path),
    ),
    { error: issueMessage },
  );
  if (second.success) return { value: second.data, errors: [], warnings };
  return { value: undefined, errors: formatIssues(second.error.issues.filter((i) => !isWarning(i))), warnings };
}

/** A copy of `data` without the keys at `paths` (each path ends at the key). */
function withoutKeys(data: unknown, paths: readonly (readonly PropertyKey[])[]): unknown {
  const copy: unknown = structuredClone(data);
  for (const path of paths) {
    let node: unknown = copy;
    for (const step of path.slice(0, -1)) node = (node as Record<PropertyKey, unknown> | undefined)?.[step];
    const key = path.at(-1);
    if (typeof node === 'object' && node !== null && key !== undefined)
      delete (node as Record<PropertyKey, unknown>)[key];
  }
  return copy;
}

/** Validate `data` against `schema`; on an error throw a ConfigError listing every one (warnings are dropped). */
export function parseWith<S extends z.ZodType>(schema: S, data: unknown, file: string): z.output<S> {
  const result = checkConfig(schema, data);
  if (result.errors.length > 0) throw new ConfigError(file, result.errors);
  return result.value as z.output<S>;
}
