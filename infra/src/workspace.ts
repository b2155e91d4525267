import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The npm workspace root (the first ancestor whose package.json lists `workspaces`). Found by walking up so the same
 * code works from `infra/src` (tests run the sources) and from `infra/dist/src` (the compiled app).
 */
export function workspaceRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && 'workspaces' in (JSON.parse(readFileSync(manifest, 'utf8')) as object)) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no npm workspace root above ${from}`);
    dir = parent;
  }
}

/** Where the provisioning Lambda's source lives, relative to the workspace root. */
export const HANDLER_ENTRY = 'cloud/src/lambda/handler.ts';
