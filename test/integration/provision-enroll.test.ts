import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent } from '@tether/test-helpers/agent-process';
import { collectMessages, connectClient } from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { SEED_PRINCIPAL, seedHubYaml } from '@tether/test-helpers/seed';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';
import { brokerUserArgs, runCloudCli, startCloudCli, startKitBroker } from './provision-setup.js';

/**
 * `tether-agent enroll` against `tether-cloud serve`: the device makes its key and CSR, the server
 * signs it, the device writes the bundle and runs it. The key never reaches the server.
 */
const td = new Teardown();
afterEach(() => td.run());

const FLEET_TOKEN = 'fleet-enrollment-token-7f3a9c';

async function enroll(url: string, caFile: string, thing: string, out: string, token: string, extra: string[] = []) {
  const proc = await startAgent({
    args: ['enroll', '--url', url, '--ca', caFile, '--thing', thing, '--out', out, ...extra],
    env: { TETHER_ENROLL_TOKEN: token },
    teardown: td,
  });
  const exit = await proc.waitForExit(30_000);
  return { code: exit.code, output: proc.output() };
}

/** The base64 body of a PEM, as it would appear in a log line or a file that leaked it. */
const pemBody = (pem: string) =>
  pem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');

async function filesUnder(dir: string): Promise<string> {
  const names = await readdir(dir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(
    names.filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name), 'latin1')),
  );
  return texts.join('\n');
}

describe('enroll against tether-cloud serve', () => {
  it('the device enrolls with the fleet token, its key stays with it, and the bundle runs', async () => {
    // given a CA dir with a backend thing, its broker running, and the provisioning server
    const root = tempDir(td, 'tether-enroll-');
    const caDir = join(root, 'ca');
    const [brokerPort, hubPort, servePort] = [await freePort(), await freePort(), await freePort()];
    const backendDir = join(root, 'backend');
    const made = await runCloudCli([
      'provision',
      '--provider',
      'local',
      '--ca-dir',
      caDir,
      ...brokerUserArgs(),
      '--endpoint',
      `mqtts://127.0.0.1:${brokerPort}`,
      '--thing',
      'backend',
      '--out',
      backendDir,
      '--allow-pub',
      'devices/+/down',
      '--allow-sub',
      'devices/+/up',
    ]);
    expect(made.code, made.stderr).toBe(0);
    const broker = await startKitBroker(caDir, brokerPort, td);
    const tokenFile = join(root, 'token');
    await writeFile(tokenFile, `${FLEET_TOKEN}\n`, { mode: 0o600 });
    const server = await startCloudCli(
      [
        'serve',
        '--provider',
        'local',
        '--ca-dir',
        caDir,
        '--listen',
        `127.0.0.1:${servePort}`,
        '--allow-pub',
        'devices/{thing}/up',
        '--allow-sub',
        'devices/{thing}/down',
        '--hub',
        `tcp://127.0.0.1:${hubPort}`,
        '--token-file',
        tokenFile,
      ],
      td,
    );
    await server.waitForLine(/serving https:\/\//, 15_000);
    const url = `https://127.0.0.1:${servePort}/v1/provision`;
    const caFile = join(caDir, 'ca.pem');
    const bundle = join(root, 'edge-2');

    // a wrong token is refused, and nothing is written
    const wrong = await enroll(url, caFile, 'edge-2', bundle, 'not-the-token');
    expect(wrong.code).toBe(1);
    expect(wrong.output).toContain('enrollment refused (HTTP 403)');
    await expect(stat(join(bundle, 'bundle.json'))).rejects.toThrow();

    // when the device enrolls with the fleet token, next to the seed's hub config (with principals)
    const hubConfig = join(root, 'hub.yml');
    const sensor = {
      username: 'sensor',
      password: 'sensor-pw',
      permissions: [
        { action: 'pub', permit: ['devices/edge-2/up'] },
        { action: 'sub', permit: ['devices/edge-2/down'] },
      ],
    };
    await writeFile(hubConfig, seedHubYaml([`tcp://127.0.0.1:${hubPort}`], { principals: [SEED_PRINCIPAL, sensor] }));
    const ok = await enroll(url, caFile, 'edge-2', bundle, FLEET_TOKEN, [
      '--hub-config',
      hubConfig,
      '--hub-username',
      'test',
    ]);
    expect(ok.code, ok.output).toBe(0);

    // then it has a bundle whose certificate is for its own key, the key 0600 and made here
    const manifest = JSON.parse(await readFile(join(bundle, 'bundle.json'), 'utf8'));
    expect(manifest).toMatchObject({ thing: 'edge-2', keyOnDevice: true, provider: 'local' });
    expect((await stat(join(bundle, 'client.key'))).mode & 0o777).toBe(0o600);
    const key = pemBody(await readFile(join(bundle, 'client.key'), 'utf8'));
    // the private scalar (every P-256 PKCS#8 key starts with the same 36-byte header)
    const secret = key.slice(48, 64); // 96 bits of it, within the first PEM line
    // and neither the server's log nor anything it keeps holds the key (or the token)
    expect(server.output.text()).not.toContain(secret);
    expect(server.output.text()).not.toContain(FLEET_TOKEN);
    expect(await filesUnder(caDir)).not.toContain(secret);
    expect(await filesUnder(bundle)).toContain(secret); // (the check can find it where it is)

    // when Mosquitto reloads the ACL the server re-wrote, the agent runs the bundle as is
    await broker.reload();
    // the bridge logs in to the hub as its principal: the login was written on the device, never sent
    expect(await readFile(join(bundle, 'service.yml'), 'utf8')).toMatch(/username: test\n\s+password: hahaha/);
    expect(server.output.text()).not.toContain('hahaha');
    const agent = await startAgent({
      args: ['--config', bundle, '--hub-config', hubConfig, '--data-dir', join(root, 'data')],
      teardown: td,
    });
    await agent.waitForLog(/"endpoint":"cloud".*"msg":"connected"/, 15_000);
    const backend = await connectClient(`mqtts://127.0.0.1:${brokerPort}`, {
      clientId: 'backend',
      protocolVersion: 5,
      tlsFiles: { ca: caFile, cert: join(backendDir, 'client.pem'), key: join(backendDir, 'client.key') },
      teardown: td,
    });
    const atCloud = await collectMessages(backend, 'devices/+/up', { qos: 1 });
    const device = await connectClient(`mqtt://127.0.0.1:${hubPort}`, {
      clientId: 'sensor',
      username: 'sensor',
      password: 'sensor-pw',
      teardown: td,
    });
    const atHub = await collectMessages(device, 'devices/edge-2/down', { qos: 1 });
    await device.publishAsync('devices/edge-2/up', 'hello cloud', { qos: 1 });
    expect((await atCloud.waitForCount(1, 10_000))[0]).toMatchObject({
      topic: 'devices/edge-2/up',
      text: 'hello cloud',
    });
    await backend.publishAsync('devices/edge-2/down', 'hello edge', { qos: 1 });
    expect((await atHub.waitForCount(1, 10_000))[0]).toMatchObject({ text: 'hello edge' });
    expect(await agent.stop()).toBe(0);

    // the server refuses a thing it already issued, unless asked to rotate
    const again = await enroll(url, caFile, 'edge-2', join(root, 'edge-2-again'), FLEET_TOKEN);
    expect(again.code).toBe(1);
    expect(again.output).toContain('HTTP 409');
    const rotated = await enroll(url, caFile, 'edge-2', bundle, FLEET_TOKEN, ['--rotate']);
    expect(rotated.code, rotated.output).toBe(0);
    expect(pemBody(await readFile(join(bundle, 'client.key'), 'utf8'))).not.toBe(key);
  });

  it('a one-time token enrolls its thing once; the server checks the token per thing', async () => {
    const root = tempDir(td, 'tether-enroll-');
    const caDir = join(root, 'ca');
    const servePort = await freePort();
    const server = await startCloudCli(
      [
        'serve',
        '--provider',
        'local',
        '--ca-dir',
        caDir,
        '--listen',
        `127.0.0.1:${servePort}`,
        '--endpoint',
        'mqtts://127.0.0.1:8883',
        '--allow-pub',
        'devices/{thing}/up',
      ],
      td,
      { TETHER_ENROLL_TOKEN: '' },
    );
    await server.waitForLine(/serving https:\/\//, 15_000);
    const issued = await runCloudCli(['token', '--ca-dir', caDir, '--thing', 'edge-3']);
    expect(issued.code, issued.stderr).toBe(0);
    const token = issued.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const url = `https://127.0.0.1:${servePort}/`;
    const caFile = join(caDir, 'ca.pem');

    // the token is for edge-3 only
    expect((await enroll(url, caFile, 'edge-4', join(root, 'edge-4'), token)).code).toBe(1);
    // it works once
    const first = await enroll(url, caFile, 'edge-3', join(root, 'edge-3'), token);
    expect(first.code, first.output).toBe(0);
    const reuse = await enroll(url, caFile, 'edge-3', join(root, 'edge-3'), token, ['--rotate']);
    expect(reuse.code).toBe(1);
    expect(reuse.output).toContain('HTTP 403');
    expect(server.output.text()).not.toContain(token);
  });
});
