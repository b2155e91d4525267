import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.js';

/** The table's rows: code → meaning, as written in docs/errors.md. */
function documented(): Record<string, string> {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `(TETHER_ERR_[A-Z_]+)` *\|([^|]*)\|/gm)];
  return Object.fromEntries(rows.map((row) => [row[1], (row[2] ?? '').trim()]));
}

describe('docs/errors.md', () => {
  it('lists exactly the codes the code base defines', () => {
    expect(Object.keys(documented()).sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('gives each code the meaning shared/src/errors.ts gives it, word for word', () => {
    expect(documented()).toEqual(ERROR_CODES);
  });
});
