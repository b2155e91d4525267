import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@tether/test-helpers/agent-process';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';

/** The commit-msg hook `npm run hooks` enables (DEVELOPMENT.md): subjects of at most 72 characters. */

const td = new Teardown();
afterEach(() => td.run());

const HOOK = join(REPO_ROOT, '.githooks', 'commit-msg');

async function check(message: string): Promise<{ code: number; stderr: string }> {
  const file = join(tempDir(td, 'tether-commit-msg-'), 'COMMIT_EDITMSG');
  await writeFile(file, message);
  try {
    await promisify(execFile)('sh', [HOOK, file], { timeout: 10_000 });
    return { code: 0, stderr: '' };
  } catch (error) {
    const failure = error as { code?: number; stderr?: string };
    return { code: failure.code ?? -1, stderr: failure.stderr ?? '' };
  }
}

describe('the commit-msg hook', () => {
  it('takes a subject of 72 characters (multi-byte ones counted once) with a body after a blank line', async () => {
    const subject = `queue: ${'µ'.repeat(65)}`;
    expect(subject).toHaveLength(72);
    expect(await check(`${subject}\n\nThe detail.\n# a git comment line\n`)).toEqual({ code: 0, stderr: '' });
  });

  it('refuses a subject of 73 characters, saying how long it is', async () => {
    const result = await check(`${'x'.repeat(73)}\n\nbody\n`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the subject has 73 characters, at most 72');
  });

  it('refuses a body that starts on the second line, and an empty subject', async () => {
    const joined = await check('queue: a subject\nand the body right under it\n');
    expect(joined.code).toBe(1);
    expect(joined.stderr).toContain('leave the second line blank');
    const empty = await check('# only a comment\n');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('the subject line is empty');
  });
});
