import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The AWS IoT actions the cloud package's sources call: every `FooCommand` (and `paginateFoo`) imported from
 * `@aws-sdk/client-iot`, as `Foo`, with the files that import it. Read from source, so the IAM table in
 * infra/src/iot-permissions.ts is checked against what the provider really sends.
 */
export function iotActionsCalledBy(sourceDir: string): Map<string, string[]> {
  const calls = new Map<string, string[]>();
  for (const file of tsFiles(sourceDir)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"]@aws-sdk\/client-iot['"]/g)) {
      for (const raw of (match[1] ?? '').split(',')) {
        // `type Foo`, `FooCommand as Bar`: the imported name is what matters.
        const name =
          raw
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)[0] ?? '';
        const action = /^(\w+)Command$/.exec(name)?.[1] ?? /^paginate(\w+)$/.exec(name)?.[1];
        if (action === undefined || raw.trim().startsWith('type ')) continue;
        const where = relative(sourceDir, file);
        calls.set(action, [...(calls.get(action) ?? []), where]);
      }
    }
  }
  return calls;
}

function* tsFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}
