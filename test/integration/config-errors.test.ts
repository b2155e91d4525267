import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startAgent } from '../helpers/agent-process.js';
import { Teardown } from '../helpers/teardown.js';
import { writeSeedLayout } from './seed-setup.js';

/** A bad config file: `validate` and the agent both name the field and exit 2, and start nothing. */
const td = new Teardown();
afterEach(() => td.run());

async function seedWith(change: (bridge: Record<string, any>) => void | Promise<void>) {
  const root = await mkdtemp(join(tmpdir(), 'tether-config-'));
  td.add('remove temp dir', () => rm(root, { recursive: true, force: true }));
  const seed = await writeSeedLayout(root);
  const bridge = parse(await readFile(seed.bridgeConfig, 'utf8'));
  await change(bridge);
  await writeFile(seed.bridgeConfig, stringify(bridge));
  return { root, seed };
}

async function runCli(args: string[], cwd: string) {
  const agent = await startAgent({ args, cwd, teardown: td });
  const exit = await agent.waitForExit(15_000);
  return { code: exit.code, output: agent.output() };
}

const cases: Array<[string, (bridge: Record<string, any>) => void, RegExp]> = [
  [
    'a missing field',
    (b) => {
      delete b.remotes[0].address;
    },
    /remotes\[0\]\.address: /,
  ],
  [
    'a wrong type',
    (b) => {
      b.remotes[0].keepalive = true;
    },
    /remotes\[0\]\.keepalive: expected a duration/,
  ],
  [
    'an unknown remote name in a rule',
    (b) => {
      b.rules[0].remote.name = 'aws';
    },
    /rules\[0\]\.remote\.name: no remote "aws" \(remotes: iothub\)/,
  ],
  [
    'an unreadable cert file',
    (b) => {
      b.remotes[0].cert = 'var/db/baetyl/cert/missing.pem';
    },
    /remotes\[0\]\.cert: cannot read .*missing\.pem \(ENOENT\)/,
  ],
];

describe('bad bridge config files', () => {
  it.each(cases)('%s: validate names the field and exits 2', async (_label, change, expected) => {
    const { root, seed } = await seedWith(change);
    const result = await runCli(['validate', '--config', seed.bridgeConfig], root);
    expect(result.code).toBe(2);
    expect(result.output).toMatch(expected);
  });

  it.each(cases)('%s: the agent names the field and exits 2', async (_label, change, expected) => {
    const { root, seed } = await seedWith(change);
    const result = await runCli(['--config', seed.bridgeConfig, '--hub-config', seed.hubConfig], root);
    expect(result.code).toBe(2);
    expect(result.output).toMatch(expected);
    expect(result.output).not.toMatch(/embedded hub listening/);
  });

  it('lists every problem at once', async () => {
    const { root, seed } = await seedWith((b) => {
      delete b.remotes[0].address;
      b.rules[0].remote.name = 'aws';
      b.rules[0].hub.subscriptions[0].qos = 7;
    });
    const result = await runCli(['validate', '--config', seed.bridgeConfig], root);
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/remotes\[0\]\.address/);
    expect(result.output).toMatch(/rules\[0\]\.hub\.subscriptions\[0\]\.qos/);
  });

  it('a key file the agent cannot read (permissions) is named', async () => {
    if (process.getuid?.() === 0) {
      // root reads any file: the permission case is covered by ENOENT above; check the YAML error instead
      const { root, seed } = await seedWith(() => {});
      await writeFile(seed.bridgeConfig, 'name: [unclosed\n');
      const result = await runCli(['validate', '--config', seed.bridgeConfig], root);
      expect(result.code).toBe(2);
      expect(result.output).toMatch(/\(yaml\) line \d+, column \d+: /);
      return;
    }
    const { root, seed } = await seedWith(() => {});
    await chmod(seed.certs.client.key, 0o000);
    const result = await runCli(['validate', '--config', seed.bridgeConfig], root);
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/remotes\[0\]\.key: cannot read .* \(EACCES\)/);
  });
});

describe('good config files and the command line', () => {
  it('validate accepts the seed files and exits 0', async () => {
    const { root, seed } = await seedWith(() => {});
    const result = await runCli(['validate', '--config', seed.bridgeConfig, '--hub-config', seed.hubConfig], root);
    expect(result.output).toMatch(/service\.yml: ok \(bridge config\)/);
    expect(result.output).toMatch(/service\.yml: ok \(hub config\)/);
    expect(result.code).toBe(0);
  });

  it('a bad hub config names its field and exits 2', async () => {
    const { root, seed } = await seedWith(() => {});
    const hub = parse(await readFile(seed.hubConfig, 'utf8'));
    hub.principals[0].permissions[0].permit = ['a/#/b'];
    await writeFile(seed.hubConfig, stringify(hub));
    const result = await runCli(['hub', '--config', seed.hubConfig], root);
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/principals\[0\]\.permissions\[0\]\.permit\[0\]: '#' must be/);
  });

  it('an unknown option or command exits 2 with a hint; --version and --help exit 0', async () => {
    const { root } = await seedWith(() => {});
    expect((await runCli(['--bogus'], root)).code).toBe(2);
    const unknown = await runCli(['frobnicate'], root);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toMatch(/unknown command "frobnicate"/);
    const version = await runCli(['--version'], root);
    expect(version.code).toBe(0);
    expect(version.output.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = await runCli(['--help'], root);
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/tether-agent validate --config FILE/);
  });
});
