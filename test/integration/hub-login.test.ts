import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_CLI_PATH, REPO_ROOT } from '@tether/test-helpers/agent-process';
import { ManagedProcess } from '@tether/test-helpers/process';
import { seedHubYaml } from '@tether/test-helpers/seed';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCloudCli } from './provision-setup.js';

/**
 * A hub with principals (the seed's: `test` / `hahaha`) refuses a bridge that brings no login. The
 * bundle carries the login when provision is told the hub config, and `validate` says so when not.
 */
const td = new Teardown();
afterEach(() => td.run());

const SEED_HUB = seedHubYaml(['tcp://0.0.0.0:11883']);

async function agentCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = await ManagedProcess.spawn(process.execPath, [AGENT_CLI_PATH, ...args], {
    name: 'tether-agent',
    cwd: REPO_ROOT,
  });
  const exit = await proc.waitForExit(30_000);
  return { code: exit.code, stdout: proc.stdout.text(), stderr: proc.stderr.text() };
}

function provisionArgs(root: string, thing: string, extra: string[]): string[] {
  return [
    'provision',
    '--provider',
    'local',
    '--ca-dir',
    join(root, 'ca'),
    '--endpoint',
    'mqtts://127.0.0.1:8883',
    '--thing',
    thing,
    '--out',
    join(root, thing),
    '--allow-pub',
    'devices/{thing}/up',
    ...extra,
  ];
}

describe('the hub login in a bundle', () => {
  it('provision --hub-config writes the principal and the listener; validate accepts it against the hub', async () => {
    const root = tempDir(td, 'tether-hub-login-');
    const hubFile = join(root, 'hub.yml');
    await writeFile(hubFile, SEED_HUB);
    // when the bundle is made for the seed's hub
    const run = await runCloudCli(provisionArgs(root, 'gw-1', ['--hub-config', hubFile]));
    expect(run.code, run.stderr).toBe(0);
    // then its bridge logs in as the hub's principal, on the hub's port, from the same host
    const service = parse(await readFile(join(root, 'gw-1', 'service.yml'), 'utf8'));
    expect(service.hub).toEqual({ address: 'tcp://127.0.0.1:11883', username: 'test', password: 'hahaha' });
    const ok = await agentCli(['validate', '--config', join(root, 'gw-1'), '--hub-config', hubFile]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('validate refuses a bundle without the login the hub needs, naming the field', async () => {
    const root = tempDir(td, 'tether-hub-login-');
    const hubFile = join(root, 'hub.yml');
    await writeFile(hubFile, SEED_HUB);
    expect((await runCloudCli(provisionArgs(root, 'gw-2', ['--hub', 'tcp://127.0.0.1:11883']))).code).toBe(0);
    const refused = await agentCli(['validate', '--config', join(root, 'gw-2'), '--hub-config', hubFile]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/error: hub\.username: not set, and .*hub\.yml has principals/);
    // a wrong password is named too
    expect(
      (await runCloudCli(provisionArgs(root, 'gw-3', ['--hub-username', 'test', '--hub-password', 'nope']))).code,
    ).toBe(0);
    const wrong = await agentCli(['validate', '--config', join(root, 'gw-3'), '--hub-config', hubFile]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/hub\.password: not the password of principal test/);
  });

  it('a hashed password in the hub config needs --hub-password; an unknown principal is named', async () => {
    const root = tempDir(td, 'tether-hub-login-');
    const hubFile = join(root, 'hub.yml');
    const hashed = await agentCli(['hash-password', '--password', 'hahaha']);
    expect(hashed.code, hashed.stderr).toBe(0);
    await writeFile(hubFile, SEED_HUB.replace('password: hahaha', `password: '${hashed.stdout.trim()}'`));
    const noPassword = await runCloudCli(provisionArgs(root, 'gw-4', ['--hub-config', hubFile]));
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toMatch(/--hub-password: the hub config holds only a hash of test's password/);
    const unknown = await runCloudCli(provisionArgs(root, 'gw-4', ['--hub-config', hubFile, '--hub-username', 'bob']));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--hub-username: the hub config has no principal bob \(it has: test\)/);
    const given = await runCloudCli(provisionArgs(root, 'gw-4', ['--hub-config', hubFile, '--hub-password', 'hahaha']));
    expect(given.code, given.stderr).toBe(0);
    const ok = await agentCli(['validate', '--config', join(root, 'gw-4'), '--hub-config', hubFile]);
    expect(ok.code, ok.stderr).toBe(0);
  });
});
