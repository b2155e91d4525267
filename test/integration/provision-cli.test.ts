import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createKeyAndCsr } from '@tether/node-shared/pki';
import { startAgent } from '@tether/test-helpers/agent-process';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeAwsIot, REGION } from '../../cloud/test/helpers/fake-aws-iot.js';
import { FakeBaiduIotCore } from '../../cloud/test/helpers/fake-baidu-iotcore.js';
import { BAIDU_CREDENTIALS, FakeBaiduIotHub } from '../../cloud/test/helpers/fake-baidu-iothub.js';
import { runCloudCli } from './provision-setup.js';

/** `tether-cloud` as a user runs it: exit codes, messages, dry runs, batches, and the cloud providers. */
const td = new Teardown();
afterEach(() => td.run());

const POLICY = ['--allow-pub', 'devices/{thing}/up', '--allow-sub', 'devices/{thing}/down'];
const AWS_ENV = { AWS_ACCESS_KEY_ID: FAKE_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: FAKE_SECRET_KEY, AWS_REGION: REGION };

async function fakeAws(): Promise<FakeAwsIot> {
  const fake = new FakeAwsIot();
  await fake.start();
  td.add('fake AWS IoT', () => fake.stop());
  return fake;
}

describe('tether-cloud command line', () => {
  it('exits 2 with a message naming the field on bad input', async () => {
    const root = tempDir(td, 'tether-cli-');
    const ca = join(root, 'ca');
    const local = ['provision', '--provider', 'local', '--ca-dir', ca, '--out', join(root, 'out')];
    await writeFile(join(root, 'policy.yml'), 'publish: [ok]\nsubscribe: ["a/#/b"]\n');
    await writeFile(join(root, 'csr.pem'), 'not a csr\n');
    await writeFile(join(root, 'devices.csv'), 'thing\ngood\nbad thing\n');
    const cases: [string[], RegExp][] = [
      [[], /a command is needed/],
      [['provision', '--thing', 'x'], /--provider local\|aws-iot\|baidu-iotcore\|baidu-iothub is required/],
      [
        ['provision', '--provider', 'gcp', '--thing', 'x'],
        /--provider: expected local, aws-iot, baidu-iotcore or baidu-iothub, got "gcp"/,
      ],
      [['provision', '--provider', 'local', '--thing', 'x', '--out', root, ...POLICY], /--ca-dir DIR is required/],
      [
        [...local, '--endpoint', 'http://h:1', '--thing', 'x', ...POLICY],
        /--endpoint: expected mqtts:\/\/HOST:PORT, got "http:\/\/h:1"/,
      ],
      [[...local, '--thing', 'a b', ...POLICY], /--thing: expected 1-128 letters/],
      [[...local, '--thing', 'x'], /a policy is needed: --allow-pub\/--allow-sub FILTER or --policy FILE/],
      [[...local, '--thing', 'x', '--allow-pub', 'a/#/b'], /--allow-pub "a\/#\/b": '#' must be the whole last level/],
      [
        [...local, '--thing', 'x', '--policy', join(root, 'policy.yml')],
        /policy\.yml: invalid config\n {2}subscribe\[0\]: '#' must be/,
      ],
      [
        [...local, '--thing', 'x', ...POLICY],
        /endpoint: the local provider needs --endpoint mqtts:\/\/HOST:PORT on first use/,
      ],
      [
        [...local, '--endpoint', 'mqtts://127.0.0.1:1', '--thing', 'x', ...POLICY, '--csr', join(root, 'csr.pem')],
        /csr: not a PEM certificate signing request/,
      ],
      [
        [...local, '--batch', join(root, 'devices.csv'), ...POLICY],
        /devices\.csv: invalid config\n {2}line 3: thing: expected 1-128/,
      ],
      [
        ['provision', '--provider', 'baidu-iothub', '--thing', 'x', '--out', root, ...POLICY],
        /baidu-iothub needs BCE_ACCESS_KEY_ID and BCE_SECRET_ACCESS_KEY/,
      ],
      [
        ['provision', '--provider', 'baidu-iotcore', '--iotcore-id', 'c1', '--thing', 'x', '--out', root, ...POLICY],
        /baidu-iotcore needs BCE_ACCESS_KEY_ID and BCE_SECRET_ACCESS_KEY/,
      ],
      [
        ['provision', '--provider', 'baidu-iotcore', '--iotcore-id', 'c1', '--auth', 'password', '--thing', 'x'],
        /--auth: expected signature or certificate/,
      ],
      [[...local, '--thing', 'x', '--frob'], /Unknown option '--frob'/],
    ];
    for (const [args, message] of cases) {
      const run = await runCloudCli(args, { env: { BCE_ACCESS_KEY_ID: '', BCE_SECRET_ACCESS_KEY: '' } });
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
    }
    // with Baidu's keys, the IoT Core instance is the next thing named
    const noId = await runCloudCli(['provision', '--provider', 'baidu-iotcore', '--thing', 'x', '--out', root], {
      env: { BCE_ACCESS_KEY_ID: 'ak', BCE_SECRET_ACCESS_KEY: 'sk' },
    });
    expect(noId.code).toBe(2);
    expect(noId.stderr).toMatch(/--iotcore-id ID \(the IoT Core ID in Baidu's console\) is required/);
    // nothing was provisioned by any of them
    expect(existsSync(join(ca, 'registry.json'))).toBe(false);
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    const root = tempDir(td, 'tether-cli-');
    const run = await runCloudCli([
      'provision',
      '--provider',
      'local',
      '--ca-dir',
      join(root, 'ca'),
      '--endpoint',
      'mqtts://127.0.0.1:8883',
      '--thing',
      'gw-1',
      '--out',
      join(root, 'out'),
      ...POLICY,
      '--dry-run',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/plan for thing gw-1 at local:\n {2}create {2}ca/);
    expect(run.stdout).toContain('create  certificate  issue key and certificate');
    expect(run.stdout).toContain('nothing was changed (dry run)');
    expect(await readdir(root)).toEqual([]);
  });

  it('batch: provisions many things with a summary; a re-run skips what exists', async () => {
    const root = tempDir(td, 'tether-cli-');
    const count = 40;
    const csv = [
      'thing,publish',
      ...Array.from({ length: count }, (_, i) => `gw-${i},${i === 0 ? 'special/{thing}' : ''}`),
    ];
    await writeFile(join(root, 'devices.csv'), `${csv.join('\n')}\n`);
    const args = [
      'provision',
      '--provider',
      'local',
      '--ca-dir',
      join(root, 'ca'),
      '--endpoint',
      'mqtts://127.0.0.1:8883',
      '--batch',
      join(root, 'devices.csv'),
      '--out',
      join(root, 'bundles'),
      ...POLICY,
    ];
    const started = Date.now();
    const first = await runCloudCli(args);
    const seconds = (Date.now() - started) / 1000;
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      new RegExp(`batch: ${count} things in [\\d.]+ s: ${count} provisioned, 0 skipped \\(exist\\), 0 failed`),
    );
    expect((await readdir(join(root, 'bundles'))).length).toBe(count);
    expect((await stat(join(root, 'bundles', 'gw-7', 'client.key'))).mode & 0o777).toBe(0o600);
    const special = JSON.parse(await readFile(join(root, 'bundles', 'gw-0', 'bundle.json'), 'utf8'));
    expect(special.topics).toEqual({ publish: ['special/gw-0'], subscribe: [] });
    const acl = await readFile(join(root, 'ca', 'acl'), 'utf8');
    expect(acl.match(/^user /gm)?.length).toBe(count);
    console.log(`batch of ${count} things (local provider, CLI process included): ${seconds.toFixed(2)} s`);

    const again = await runCloudCli(args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(
      new RegExp(`batch: ${count} things in [\\d.]+ s: 0 provisioned, ${count} skipped \\(exist\\), 0 failed`),
    );
  });

  it('aws-iot: writes the bundle, a re-run only reads, a failing step exits 1 naming it', async () => {
    const fake = await fakeAws();
    const root = tempDir(td, 'tether-cli-');
    const out = join(root, 'sensor-1');
    const args = [
      'provision',
      '--provider',
      'aws-iot',
      '--api-url',
      fake.url,
      '--thing',
      'sensor-1',
      '--out',
      out,
      ...POLICY,
    ];
    const run = await runCloudCli(args, { env: AWS_ENV });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('thing sensor-1: provisioned at aws-iot (certificate ');
    expect((await stat(join(out, 'client.key'))).mode & 0o777).toBe(0o600);
    expect(parse(await readFile(join(out, 'service.yml'), 'utf8')).remotes[0]).toMatchObject({
      provider: 'aws-iot',
      endpoint: expect.stringMatching(/^abc123xyz-ats\.iot/),
    });
    expect(`${run.stdout}${run.stderr}`).not.toContain('PRIVATE KEY');

    const writes = () => fake.operations().filter((op) => /^(Create|Attach)/.test(op)).length;
    const before = writes();
    const again = await runCloudCli(args, { env: AWS_ENV });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('thing sensor-1: exists at aws-iot; nothing changed');
    expect(writes()).toBe(before);

    fake.failures.set('CreateThing', [403, 'UnauthorizedException', 'Access Denied']);
    const failed = await runCloudCli(
      [...args.slice(0, -POLICY.length - 4), '--thing', 'sensor-2', '--out', join(root, 's2'), ...POLICY],
      {
        env: AWS_ENV,
      },
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      'tether-cloud: TETHER_ERR_PROVISION: aws-iot: step CreateThing failed for thing sensor-2: UnauthorizedException: Access Denied (HTTP 403)',
    );
  });

  it('aws-iot batch: 20 things, one policy; a re-run creates nothing', async () => {
    const fake = await fakeAws();
    const root = tempDir(td, 'tether-cli-');
    await writeFile(join(root, 'devices.csv'), `thing\n${Array.from({ length: 20 }, (_, i) => `s-${i}`).join('\n')}\n`);
    const args = [
      'provision',
      '--provider',
      'aws-iot',
      '--api-url',
      fake.url,
      '--batch',
      join(root, 'devices.csv'),
      '--out',
      join(root, 'b'),
      ...POLICY,
    ];
    const first = await runCloudCli(args, { env: AWS_ENV });
    expect(first.stdout, first.stderr).toMatch(
      /batch: 20 things in [\d.]+ s: 20 provisioned, 0 skipped \(exist\), 0 failed/,
    );
    expect(fake.policies.size).toBe(1);
    expect(fake.certificates.size).toBe(20);
    const second = await runCloudCli(args, { env: AWS_ENV });
    expect(second.stdout).toMatch(/0 provisioned, 20 skipped \(exist\), 0 failed/);
    expect(fake.certificates.size).toBe(20);
  });

  it('baidu-iothub: the password goes into service.yml (0600) and nowhere else', async () => {
    const fake = new FakeBaiduIotHub();
    const url = await fake.start();
    td.add('fake Baidu IoTHub', () => fake.stop());
    const root = tempDir(td, 'tether-cli-');
    const out = join(root, 'gw-1');
    const run = await runCloudCli(
      [
        'provision',
        '--provider',
        'baidu-iothub',
        '--api-url',
        url,
        '--baidu-endpoint',
        'tetherep',
        '--thing',
        'gw-1',
        '--out',
        out,
        ...POLICY,
      ],
      {
        env: {
          BCE_ACCESS_KEY_ID: BAIDU_CREDENTIALS.accessKeyId,
          BCE_SECRET_ACCESS_KEY: BAIDU_CREDENTIALS.secretAccessKey,
        },
      },
    );
    expect(run.code, run.stderr).toBe(0);
    const password = fake.principals.get('tether-gw-1')?.password ?? '';
    expect(password.length).toBeGreaterThan(8);
    expect(parse(await readFile(join(out, 'service.yml'), 'utf8')).remotes[0]).toMatchObject({
      username: 'tetherep/gw-1',
      password,
    });
    expect((await stat(join(out, 'service.yml'))).mode & 0o777).toBe(0o600);
    expect(`${run.stdout}${run.stderr}`).not.toContain(password);
    expect(await readFile(join(out, 'bundle.json'), 'utf8')).not.toContain(password);
    expect(fake.badSignatures).toBe(0);
    // and it still works, but says once that Baidu deprecated the service
    expect(run.stderr.match(/DeprecationWarning: Baidu IoT Hub is deprecated by Baidu/g)).toHaveLength(1);
  });

  it('baidu-iotcore: the device secret goes into service.yml (0600) only; the agent accepts the bundle', async () => {
    const fake = new FakeBaiduIotCore('clicore');
    const url = await fake.start();
    td.add('fake Baidu IoT Core', () => fake.stop());
    const root = tempDir(td, 'tether-cli-');
    const out = join(root, 'gw-1');
    const env = {
      BCE_ACCESS_KEY_ID: BAIDU_CREDENTIALS.accessKeyId,
      BCE_SECRET_ACCESS_KEY: BAIDU_CREDENTIALS.secretAccessKey,
    };
    const args = ['--provider', 'baidu-iotcore', '--api-url', url, '--iotcore-id', 'clicore', '--region', 'bj'];
    const dry = await runCloudCli(['provision', ...args, '--thing', 'gw-1', '--out', out, ...POLICY, '--dry-run'], {
      env,
    });
    expect(dry.code, dry.stderr).toBe(0);
    expect(fake.devices.size).toBe(0);
    const run = await runCloudCli(['provision', ...args, '--thing', 'gw-1', '--out', out, ...POLICY], { env });
    expect(run.code, run.stderr).toBe(0);
    const secret = fake.devices.get('gw-1')?.secretKey ?? '';
    expect(secret.length).toBeGreaterThan(8);
    expect(parse(await readFile(join(out, 'service.yml'), 'utf8')).remotes[0]).toMatchObject({
      provider: 'baidu-iotcore',
      iotcoreid: 'clicore',
      region: 'bj',
      devicekey: 'gw-1',
      devicesecret: secret,
    });
    expect((await stat(join(out, 'service.yml'))).mode & 0o777).toBe(0o600);
    expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
    expect(run.stderr).not.toContain('DeprecationWarning');
    expect(await readFile(join(out, 'bundle.json'), 'utf8')).not.toContain(secret);
    expect([...fake.templates.values()][0]?.policies.map((p) => `${p.permission} ${p.topicFilter}`)).toEqual([
      'PUB devices/{deviceName}/up',
      'SUB devices/{deviceName}/down',
    ]);
    // the agent takes the bundle as it is
    const agent = await startAgent({ args: ['validate', '--config', out], teardown: td });
    const exit = await agent.waitForExit(15_000);
    expect(exit.code, agent.output()).toBe(0);
    expect(agent.output()).not.toContain(secret);
    // describe and revoke through the same flags
    const described = await runCloudCli(['describe', ...args, '--thing', 'gw-1'], { env });
    expect(JSON.parse(described.stdout)).toMatchObject({ provider: 'baidu-iotcore', exists: true });
    const revoked = await runCloudCli(['revoke', ...args, '--thing', 'gw-1'], { env });
    expect(revoked.stdout).toContain('thing gw-1: revoked gw-1 at baidu-iotcore');
    expect(fake.devices.has('gw-1')).toBe(false);
    expect(fake.badSignatures).toBe(0);
  });

  it('tether-agent takes a bundle folder as --config; a folder that is not a whole bundle exits 2', async () => {
    const root = tempDir(td, 'tether-cli-');
    const validate = async (config: string) => {
      const agent = await startAgent({ args: ['validate', '--config', config], teardown: td });
      const exit = await agent.waitForExit(15_000);
      return { code: exit.code, output: agent.output() };
    };
    // a bundle from the CSR of a device: no key inside until the device puts its own there
    const device = await createKeyAndCsr({ commonName: 'gw-1' });
    await writeFile(join(root, 'gw-1.csr'), device.csrPem);
    const out = join(root, 'gw-1');
    const made = await runCloudCli([
      'provision',
      '--provider',
      'local',
      '--ca-dir',
      join(root, 'ca'),
      '--endpoint',
      'mqtts://127.0.0.1:8883',
      '--thing',
      'gw-1',
      '--out',
      out,
      ...POLICY,
      '--csr',
      join(root, 'gw-1.csr'),
    ]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain("client.key is the device's own key");
    const missing = await validate(out);
    expect(missing.code).toBe(2);
    expect(missing.output).toContain(
      `files.key: ${join(out, 'client.key')} is missing: the certificate was signed from the device's CSR`,
    );
    await writeFile(join(out, 'client.key'), device.keyPem, { mode: 0o600 });
    const ok = await validate(out);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toContain(`${out}: ok (bridge config)`);
    // a folder that is not a bundle
    const notBundle = await validate(root);
    expect(notBundle.code).toBe(2);
    expect(notBundle.output).toContain('a folder given as --config must be a Tether bundle (it has no bundle.json)');
  });
});
