import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent } from '@tether/test-helpers/agent-process';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { writeSeedLayout } from './seed-setup.js';

/** A bad config file: `validate` and the agent both name the field and exit 2, and start nothing. */
const td = new Teardown();
afterEach(() => td.run());

async function seedWith(change: (bridge: Record<string, any>) => void | Promise<void>) {
  const root = tempDir(td, 'tether-config-');
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

describe('strict configs: every problem of every file, errors and warnings', () => {
  // the files as a user in the Baetyl root names them: validate's lines name them so
  const bridgeName = 'var/db/baetyl/remote-iothub-conf/service.yml';
  const hubName = 'var/db/baetyl/localhub-conf/service.yml';
  const lines = (output: string, kind: 'error' | 'warning') =>
    output.split('\n').filter((line) => line.includes(`: ${kind}: `));

  async function withHub(root: string, hubConfig: string, change: (hub: Record<string, any>) => void) {
    const hub = parse(await readFile(hubConfig, 'utf8'));
    change(hub);
    await writeFile(hubConfig, stringify(hub));
    return root;
  }

  it('the seed files validate with no warning', async () => {
    const { root } = await seedWith(() => {});
    const result = await runCli(['validate', '--config', bridgeName, '--hub-config', hubName], root);
    expect(result.code).toBe(0);
    expect(result.output).not.toMatch(/warning/);
  });

  it('three mistakes in the bridge and two in the hub: five lines, each naming its file, exit 2', async () => {
    const { root, seed } = await seedWith((b) => {
      b.rules[0].hub.subscriptions[0].qos = 7;
      b.rules[0].remote.name = 'nosuchremote';
      b.queue = { durabilty: 'fsync' };
    });
    await withHub(root, seed.hubConfig, (h) => {
      h.listen.push('tcp://127.0.0.1:70000');
      h.limits = { conections: 10 };
    });
    const result = await runCli(['validate', '--config', bridgeName, '--hub-config', hubName], root);
    expect(result.code).toBe(2);
    expect(lines(result.output, 'error')).toEqual([
      `${bridgeName}: error: rules[0].hub.subscriptions[0].qos: must be 0, 1 or 2 (got 7)`,
      `${bridgeName}: error: queue.durabilty: unknown key (did you mean "durability"?)`,
      `${bridgeName}: error: rules[0].remote.name: no remote "nosuchremote" (remotes: iothub)`,
      `${hubName}: error: listen[1]: port must be 0 to 65535 (got 70000)`,
      `${hubName}: error: limits.conections: unknown key (did you mean "connections"?)`,
    ]);
    expect(result.output).not.toMatch(/Invalid input/);
  });

  it("typos in Baetyl's optional fields: warnings with a did-you-mean, exit 0", async () => {
    const { root } = await seedWith((b) => {
      b.remotes[0].cleansesion = true;
      b.hub.keepalve = '1m';
    });
    const result = await runCli(['validate', '--config', bridgeName], root);
    expect(result.code).toBe(0);
    expect(lines(result.output, 'warning')).toEqual([
      `${bridgeName}: warning: hub.keepalve: unknown key, ignored (did you mean "keepalive"?)`,
      `${bridgeName}: warning: remotes[0].cleansesion: unknown key, ignored (did you mean "cleansession"?)`,
    ]);
    expect(result.output).toContain(`${bridgeName}: ok (bridge config, 2 warnings)`);
  });

  it('the agent starts with a warning and logs it', async () => {
    const { root, seed } = await seedWith((b) => {
      b.remotes[0].keepalve = '1m';
    });
    const agent = await startAgent({
      args: ['--config', seed.bridgeConfig, '--hub-config', seed.hubConfig, '--data-dir', join(root, 'data')],
      cwd: root,
      teardown: td,
    });
    await agent.waitForLog(/bridge started/, 20_000);
    const warning = await agent.waitForLog(/remotes\[0\]\.keepalve: unknown key, ignored/);
    expect(JSON.parse(warning)).toMatchObject({ level: 'warn', file: seed.bridgeConfig });
    expect(await agent.stop()).toBe(0);
  });

  // each passed `validate` before and then failed at start (or, for the hash, ran as a plain-text password)
  const startFailures: Array<[string, (b: Record<string, any>) => void, (h: Record<string, any>) => void, string]> = [
    [
      'a remote port of 99999',
      (b) => (b.remotes[0].address = 'ssl://127.0.0.1:99999'),
      () => {},
      `${bridgeName}: error: remotes[0].address: port must be 1 to 65535 (got 99999)`,
    ],
    [
      'a listen port of 70000',
      () => {},
      (h) => (h.listen = ['tcp://127.0.0.1:70000']),
      `${hubName}: error: listen[0]: port must be 0 to 65535 (got 70000)`,
    ],
    [
      'a CA path that is a folder',
      (b) => (b.remotes[0].ca = 'var/db/baetyl/cert'),
      () => {},
      'error: remotes[0].ca: cannot read ', // the absolute path follows
    ],
    [
      'a malformed password hash',
      () => {},
      (h) => (h.principals[0].password = 'scrypt$bad'),
      `${hubName}: error: principals[0].password: starts like a hash but is not one`,
    ],
    [
      'a password inside an address',
      (b) => (b.remotes[0].address = 'ssl://user:secret@127.0.0.1:8883'),
      () => {},
      `${bridgeName}: error: remotes[0].address: credentials in the address are not used: put them in username and password`,
    ],
  ];

  it.each(startFailures)('%s: refused by validate and by the start alike', async (_label, bridge, hub, expected) => {
    const { root, seed } = await seedWith(bridge);
    await withHub(root, seed.hubConfig, hub);
    const validate = await runCli(['validate', '--config', bridgeName, '--hub-config', hubName], root);
    expect(validate.code).toBe(2);
    expect(validate.output).toContain(expected);
    const start = await runCli(['--config', seed.bridgeConfig, '--hub-config', seed.hubConfig], root);
    expect(start.code).toBe(2);
    // the start names the same field, without a stack trace and without the password
    const field = expected.split(': error: ')[1]?.split(':')[0] ?? '';
    expect(start.output).toContain(field);
    expect(start.output).not.toMatch(/TypeError| {4}at |secret|embedded hub listening/);
    expect(validate.output).not.toMatch(/secret/);
  });
});
