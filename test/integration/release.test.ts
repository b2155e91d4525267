import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@tether/test-helpers/agent-process';
import { CLOUD_CONNECTED, DEVICE_LOGIN, startEdgeSite } from '@tether/test-helpers/edge-site';
import { mutualTls, startMosquitto } from '@tether/test-helpers/mosquitto';
import { closeClient, collectMessages, connectClient } from '@tether/test-helpers/mqtt-clients';
import { findExecutable, ManagedProcess } from '@tether/test-helpers/process';
import { SEED_LOGIN } from '@tether/test-helpers/seed';
import { Teardown } from '@tether/test-helpers/teardown';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { writeSeedLayout } from './seed-setup.js';

const run = promisify(execFile);
const td = new Teardown();
afterEach(() => td.run());

const VERSION = (JSON.parse(await readFile(join(REPO_ROOT, 'edge-agent/package.json'), 'utf8')) as { version: string })
  .version;
const ELF_X64 = 0x3e;
const ELF_ARM64 = 0xb7;
/** Debian's `systemd` package; scripts/test.sh installs it. */
const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

let work: string;
/** The unpacked archives: `<work>/<arch>/tether-agent-<version>-linux-<arch>/`. */
const root = (arch: 'x64' | 'arm64') => join(work, arch, `tether-agent-${VERSION}-linux-${arch}`);
/** A PATH with only what the launcher calls (readlink): no node anywhere on it. */
let barePath: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tether-release-'));
  // the real `npm run release` (minus its tsc -b: npm test has built dist/), into a folder of its own;
  // the npm-packed Node runtimes stay cached in release/cache between runs
  await run(process.execPath, [join(REPO_ROOT, 'edge-agent/scripts/release.mjs'), '--out', join(work, 'out')], {
    cwd: REPO_ROOT,
    timeout: 240_000,
  });
  for (const arch of ['x64', 'arm64'] as const) {
    await mkdir(join(work, arch));
    await run('tar', [
      '-xzf',
      join(work, 'out', `tether-agent-${VERSION}-linux-${arch}.tar.gz`),
      '-C',
      join(work, arch),
    ]);
  }
  barePath = join(work, 'bare-path');
  await mkdir(barePath);
  for (const tool of ['readlink']) await symlink(findExecutable(tool), join(barePath, tool));
}, 300_000);
afterAll(() => rm(work, { recursive: true, force: true }));

/** e_machine of each ELF file under `dir` (executables and .node modules), by path relative to it. */
async function elfFiles(dir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const file = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await file.read(Buffer.alloc(20), 0, 20, 0);
      if (bytesRead === 20 && buffer.readUInt32BE(0) === 0x7f454c46) {
        found.set(path.slice(dir.length + 1), buffer.readUInt16LE(18));
      }
    } finally {
      await file.close();
    }
  }
  return found;
}

/** Device → hub → cloud and cloud → hub → device, QoS 1, through the running agent. */
async function expectMessagesBothWays(hubUrl: string, cloudUrl: string): Promise<void> {
  const device = await connectClient(hubUrl, { ...DEVICE_LOGIN, clientId: 'device-1' });
  td.add('device client', () => closeClient(device));
  const app = await connectClient(cloudUrl, { clientId: 'cloud-app' });
  td.add('cloud client', () => closeClient(app));
  const atCloud = await collectMessages(app, 'up/#', { qos: 1 });
  const atDevice = await collectMessages(device, 'down/#', { qos: 1 });

  await device.publishAsync('up/temperature', '21.5', { qos: 1 });
  const [up] = await atCloud.waitForCount(1, 15_000);
  expect(up?.topic).toBe('up/temperature');
  expect(up?.text).toBe('21.5');

  await app.publishAsync('down/reboot', 'now', { qos: 1 });
  const [down] = await atDevice.waitForCount(1, 15_000);
  expect(down?.topic).toBe('down/reboot');
  expect(down?.text).toBe('now');
}

describe('the x64 release archive', () => {
  it('runs from the untarred folder with no node on PATH, end to end', async () => {
    const dir = join(work, 'site-launcher');
    const site = await startEdgeSite(dir, td);
    const agent = await ManagedProcess.spawn(join(root('x64'), 'bin/tether-agent'), site.args, {
      name: 'archive agent',
      cwd: dir,
      env: { PATH: barePath, HOME: dir },
    });
    td.add('archive agent', () => agent.terminate('SIGTERM', 15_000));
    await agent.waitForLine(/"msg":"bridge started"/, 20_000);
    // logged once subscribed at the cloud: from here on nothing published there is missed
    await agent.waitForLine(CLOUD_CONNECTED, 20_000);

    await expectMessagesBothWays(site.hubUrl, site.cloud.url);

    // SIGTERM drains and exits 0; the queue stays in the data dir for the next version
    const exit = await agent.terminate('SIGTERM', 15_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect((await readdir(site.data)).length).toBeGreaterThan(0);
  });

  it('prints its version and validates the sample config without node on PATH', async () => {
    const env = { PATH: barePath };
    const version = await run(join(root('x64'), 'bin/tether-agent'), ['--version'], { env, timeout: 20_000 });
    expect(version.stdout.trim()).toBe(VERSION);
    // the sample needs the user's certificates: validate names exactly those, nothing else
    const sample = join(root('x64'), 'config');
    const validate = await run(
      join(root('x64'), 'bin/tether-agent'),
      ['validate', '--config', join(sample, 'service.yml'), '--hub-config', join(sample, 'hub.yml')],
      { env, timeout: 20_000 },
    ).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    const output = `${validate.stdout}\n${validate.stderr}`;
    expect(output).toContain('hub.yml: ok');
    expect(output.match(/remotes\[0\]\.(ca|cert|key): cannot read/g)).toHaveLength(3);
    expect(validate.code).toBe(2);
  });

  it('runs an aws-iot remote on its own aws-crt (mutual TLS, MQTT 5)', async () => {
    // the seed's layout (t1 hub → cloud, t2 cloud → hub) with remotes[0] an aws-iot remote at a
    // Mosquitto with mutual TLS standing in for AWS IoT Core
    const dir = join(work, 'site-aws-iot');
    const seed = await writeSeedLayout(dir);
    const broker = await startMosquitto({
      dir: join(dir, 'cloud'),
      port: seed.remotePort,
      tls: mutualTls(seed.certs),
      teardown: td,
    });
    const client = seed.certs.client;
    const bridge = parse(await readFile(seed.bridgeConfig, 'utf8'));
    bridge.remotes[0] = {
      name: 'iothub',
      provider: 'aws-iot',
      endpoint: '127.0.0.1',
      port: broker.port,
      thing: client.commonName,
      ca: seed.certs.ca,
      cert: client.cert,
      key: client.key,
    };
    await writeFile(seed.bridgeConfig, stringify(bridge));
    const agent = await ManagedProcess.spawn(
      join(root('x64'), 'bin/tether-agent'),
      ['--config', seed.bridgeConfig, '--hub-config', seed.hubConfig, '--data-dir', join(dir, 'data')],
      { name: 'archive agent (aws-iot)', cwd: dir, env: { PATH: barePath, HOME: dir } },
    );
    td.add('archive agent (aws-iot)', () => agent.terminate('SIGTERM', 15_000));
    await agent.waitForLine(/"endpoint":"iothub".*"msg":"connected"/, 30_000);

    const app = await connectClient(broker.url, {
      clientId: 'cloud-app',
      protocolVersion: 5,
      tlsFiles: { ca: seed.certs.ca, cert: client.cert, key: client.key },
      teardown: td,
    });
    const atCloud = await collectMessages(app, 't1', { qos: 1 });
    const device = await connectClient(`mqtt://127.0.0.1:${seed.hubPort}`, {
      clientId: 'device',
      ...SEED_LOGIN,
      teardown: td,
    });
    await device.publishAsync('t1', 'through aws-crt', { qos: 1 });
    const [up] = await atCloud.waitForCount(1, 15_000);
    expect(up?.text).toBe('through aws-crt');
    expect(await agent.terminate('SIGTERM', 15_000)).toEqual({ code: 0, signal: null });
  });

  it('holds an x64 runtime and no arm64 native file', async () => {
    const elves = await elfFiles(root('x64'));
    expect(elves.get('node/bin/node')).toBe(ELF_X64);
    expect([...elves].filter(([, machine]) => machine !== ELF_X64)).toEqual([]);
  });
});

describe('the Dockerfile in the archive', () => {
  it('copies only what the archive holds, and its ENTRYPOINT runs', async () => {
    const dockerfile = await readFile(join(root('x64'), 'Dockerfile'), 'utf8');
    // stage 1 copies the build context (the untarred folder) to /src and picks files from it
    const picked = [...new Set([...dockerfile.matchAll(/\/src\/([\w./-]+)/g)].map((m) => m[1] as string))];
    expect(picked.length).toBeGreaterThan(0);
    expect(picked.filter((path) => !existsSync(join(root('x64'), path)))).toEqual([]);
    const entrypoint = /^ENTRYPOINT \["\/opt\/tether-agent\/([^"]+)"\]/m.exec(dockerfile)?.[1];
    expect(entrypoint).toBe('bin/tether-agent');
    const version = await run(join(root('x64'), entrypoint as string), ['--version'], {
      env: { PATH: barePath },
      timeout: 20_000,
    });
    expect(version.stdout.trim()).toBe(VERSION);
  });
});

describe('the arm64 release archive', () => {
  it('holds an arm64 runtime, arm64 aws-crt, and no x64 native file', async () => {
    const elves = await elfFiles(root('arm64'));
    expect(elves.get('node/bin/node')).toBe(ELF_ARM64);
    expect(elves.get('lib/node_modules/aws-crt/dist/bin/linux-arm64-glibc/aws-crt-nodejs.node')).toBe(ELF_ARM64);
    expect([...elves].filter(([, machine]) => machine !== ELF_ARM64)).toEqual([]);
  });
});

describe('the systemd unit', () => {
  /** The archive's unit with its install paths moved into the untarred folder and a test site. */
  async function unitFor(site: { config: string; data: string }, dir: string): Promise<{ unit: string; text: string }> {
    const original = await readFile(join(root('x64'), 'packaging/tether-agent.service'), 'utf8');
    const text = original
      .replaceAll('/opt/tether-agent', root('x64'))
      .replaceAll('/etc/tether', site.config)
      .replaceAll('/var/lib/tether', site.data);
    const unit = join(dir, 'tether-agent.service');
    await writeFile(unit, text);
    return { unit, text };
  }

  it.skipIf(!SYSTEMD_ANALYZE)(
    'passes systemd-analyze verify (skipped when systemd-analyze is absent: apt-get install systemd)',
    async () => {
      const dir = join(work, 'unit-verify');
      await mkdir(dir, { recursive: true });
      const { unit } = await unitFor({ config: join(dir, 'etc'), data: join(dir, 'data') }, dir);
      // verify exits non-zero and prints the problem for an unknown key, a bad value or a missing binary
      const result = await run(SYSTEMD_ANALYZE as string, ['verify', unit], { timeout: 30_000 }).then(
        (r) => ({ code: 0, output: r.stdout + r.stderr }),
        (err: { code: number; stdout: string; stderr: string }) => ({
          code: err.code,
          output: err.stdout + err.stderr,
        }),
      );
      expect(result.output.split('\n').filter((line) => line.includes('tether-agent.service'))).toEqual([]);
      expect(result.code).toBe(0);
    },
  );

  it('its ExecStart line starts the agent from the archive', async () => {
    const dir = join(work, 'unit-exec');
    const site = await startEdgeSite(dir, td);
    const { text } = await unitFor(site, dir);
    const execStart = text.split('\n').find((line) => line.startsWith('ExecStart='));
    expect(execStart).toBeDefined();
    const [command, ...args] = (execStart as string).slice('ExecStart='.length).trim().split(/\s+/);
    // systemd creates StateDirectory= itself; here the test does
    await mkdir(site.data, { recursive: true });
    await chmod(site.data, 0o700);
    const agent = await ManagedProcess.spawn(command as string, args, {
      name: 'unit ExecStart',
      cwd: site.data,
      env: { PATH: barePath },
    });
    td.add('unit agent', () => agent.terminate('SIGTERM', 15_000));
    await agent.waitForLine(/"msg":"bridge started"/, 20_000);
    // logged once subscribed at the cloud: from here on nothing published there is missed
    await agent.waitForLine(CLOUD_CONNECTED, 20_000);
    await expectMessagesBothWays(site.hubUrl, site.cloud.url);
    expect(await agent.terminate('SIGTERM', 15_000)).toEqual({ code: 0, signal: null });
  });
});
