import type { z } from 'zod';
import { ConfigError } from './errors.js';

/** zod issues as `path: message` lines, the form every Tether config error uses. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path =
      issue.path.length > 0
        ? issue.path
            .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
            .join('')
            .replace(/^\./, '')
        : '(root)';
    return `${path}: ${issue.message}`;
  });
}

/** Validate `data` against `schema`; on failure throw a ConfigError listing every problem. */
export function parseWith<S extends z.ZodType>(schema: S, data: unknown, file: string): z.output<S> {
  const result = schema.safeParse(data);
  if (!result.success) throw new ConfigError(file, formatIssues(result.error.issues));
  return result.data;
}
