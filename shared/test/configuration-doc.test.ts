import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { BridgeConfigSchema, HubConfigSchema } from '../src/index.js';

/**
 * docs/configuration.md names every key the config schemas accept: a key added to a schema without a
 * word in the doc fails here. A key counts as documented when it appears as a word in the doc's code
 * (inline `code` or a fenced block), with its parent keys there too (`queue.deadletter.after` needs
 * `deadletter` and `after`); the doc's prose around it is for people to read.
 */

const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

/** Every identifier in the doc's inline code and code blocks. */
function codeWords(markdown: string): Set<string> {
  const code = [...markdown.matchAll(/```[^\n]*\n([\s\S]*?)```|`([^`\n]+)`/g)].map((m) => m[1] ?? m[2] ?? '');
  return new Set(code.flatMap((text) => text.split(/[^A-Za-z0-9_]+/)).filter(Boolean));
}

/** The keys of a schema as paths (`remotes[].backoff.min`), through optionals, defaults, unions, arrays. */
function schemaKeys(schema: z.ZodType): string[] {
  const paths = new Set<string>();
  const inside = new Set<unknown>(); // the schemas being walked: a recursive one stops at itself
  const walk = (node: z.ZodType, path: string) => {
    if (inside.has(node)) return;
    inside.add(node);
    try {
      visit(node, path);
    } finally {
      inside.delete(node);
    }
  };
  const visit = (node: z.ZodType, path: string) => {
    const def = node._zod.def as unknown as Record<string, any>;
    switch (def.type) {
      case 'object':
        for (const [key, value] of Object.entries(def.shape as Record<string, z.ZodType>)) {
          const at = path ? `${path}.${key}` : key;
          paths.add(at);
          walk(value, at);
        }
        return;
      case 'optional':
      case 'nonoptional':
      case 'default':
      case 'prefault':
      case 'nullable':
      case 'readonly':
      case 'catch':
        return walk(def.innerType, path);
      case 'pipe':
        walk(def.in, path);
        return walk(def.out, path);
      case 'array':
        return walk(def.element, `${path}[]`);
      case 'union':
        for (const option of def.options) walk(option, path);
        return;
      case 'record':
        return walk(def.valueType, `${path}.*`);
      case 'intersection':
        walk(def.left, path);
        return walk(def.right, path);
      case 'lazy':
        return walk(def.getter(), path);
      default:
        return; // a leaf: string, number, enum, literal, transform, ...
    }
  };
  walk(schema, '');
  return [...paths];
}

/** The keys of `paths` with a name on their path that is not a word of the doc's code. */
function undocumented(paths: string[], words: Set<string>): string[] {
  const names = (path: string) => path.split('.').map((part) => part.replace(/\[\]$/, ''));
  return paths.filter((path) => names(path).some((name) => name !== '*' && !words.has(name)));
}

describe('docs/configuration.md', () => {
  const words = codeWords(doc);

  it('names every key of the bridge config (service.yml)', () => {
    const keys = schemaKeys(BridgeConfigSchema);
    expect(keys).toContain('remotes[].backoff.jitter'); // the walk reaches nested sections
    expect(undocumented(keys, words)).toEqual([]);
  });

  it('names every key of the hub config (--hub-config)', () => {
    const keys = schemaKeys(HubConfigSchema);
    expect(keys).toContain('limits.logindelay.forget');
    expect(undocumented(keys, words)).toEqual([]);
  });

  it('fails for a key it has never heard of', () => {
    expect(undocumented(['queue.nosuchkey'], words)).toEqual(['queue.nosuchkey']);
  });
});
