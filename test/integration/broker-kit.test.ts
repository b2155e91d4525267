import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@tether/test-helpers/ports';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';
import { runCloudCli, startKitBroker } from './provision-setup.js';

/** The broker kit as the README shows it: `mosquitto -c <ca-dir>/mosquitto.conf`, whoever runs it. */
const td = new Teardown();
afterEach(() => td.run());

const provision = (caDir: string, port: number, thing: string, extra: string[] = []) =>
  runCloudCli([
    'provision',
    '--provider',
    'local',
    '--ca-dir',
    caDir,
    '--endpoint',
    `mqtts://127.0.0.1:${port}`,
    '--thing',
    thing,
    '--out',
    join(caDir, '..', thing),
    '--allow-pub',
    'devices/{thing}/up',
    ...extra,
  ]);

describe('the local broker kit', () => {
  it('runs as written without --broker-user (as root too: the conf names the files’ owner)', async () => {
    const root = tempDir(td, 'tether-kit-');
    const caDir = join(root, 'ca');
    const port = await freePort();
    const made = await provision(caDir, port, 'gw-1');
    expect(made.code, made.stderr).toBe(0);
    const conf = await readFile(join(caDir, 'mosquitto.conf'), 'utf8');
    expect(conf).toMatch(new RegExp(`^user ${userInfo().username}$`, 'm'));
    // Mosquitto reads the 0600 ACL, keys and password-less conf, and accepts connections
    const broker = await startKitBroker(caDir, port, td);
    expect(broker.proc.output.text()).not.toMatch(/Unable to open/);
  });

  it('--broker-user on a re-run for things that exist rewrites the kit with it', async () => {
    const root = tempDir(td, 'tether-kit-');
    const caDir = join(root, 'ca');
    const port = await freePort();
    expect((await provision(caDir, port, 'gw-2')).code).toBe(0);
    const again = await provision(caDir, port, 'gw-2', ['--broker-user', 'nobody']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/broker-user updated/);
    expect(await readFile(join(caDir, 'mosquitto.conf'), 'utf8')).toMatch(/^user nobody$/m);
  });
});
