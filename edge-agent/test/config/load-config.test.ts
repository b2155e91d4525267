import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, issueCertificate, type PemFilePaths, writePemFiles } from '@tether/node-shared/pki';
import { ConfigError } from '@tether/shared';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkBridgeConfig, checkHubConfig, loadBridgeConfig, loadHubConfig } from '../../src/config/load-config.js';
import { hashPassword, verifyPassword } from '../../src/hub/password-hash.js';
import { parseAddress } from '../../src/transport/connection-options.js';

/** Loading a config runs every check the start would fail on, with the functions the start uses. */

let dir: string;
let good: PemFilePaths;
let other: PemFilePaths;
let caPath: string;

const td = new Teardown();
afterEach(() => td.run());
beforeEach(async () => {
  dir = tempDir(td, 'tether-load-config-');
  const ca = await createCa({ commonName: 'Load CA' });
  caPath = join(dir, 'ca.pem');
  await writeFile(caPath, ca.certPem);
  good = await writePemFiles(dir, 'client', await issueCertificate(ca, { commonName: 'c', usage: 'client' }));
  other = await writePemFiles(dir, 'other', await issueCertificate(ca, { commonName: 'o', usage: 'client' }));
});

const bridgeFile = async (remote: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
  const file = join(dir, 'bridge.yml');
  const config = {
    hub: { address: 'tcp://127.0.0.1:1883' },
    remotes: [{ name: 'cloud', address: 'ssl://127.0.0.1:8883', ...remote }],
    rules: [{ hub: { subscriptions: [{ topic: 't1' }] }, remote: { name: 'cloud' } }],
    ...extra,
  };
  await writeFile(file, stringify(config));
  return file;
};
const hubFile = async (config: Record<string, unknown>) => {
  const file = join(dir, 'hub.yml');
  await writeFile(file, stringify({ listen: ['tcp://127.0.0.1:0'], ...config }));
  return file;
};

describe('TLS files are checked as TLS will use them', () => {
  it('a readable CA, certificate and matching key load', async () => {
    const loaded = loadBridgeConfig(await bridgeFile({ ca: caPath, cert: good.certPath, key: good.keyPath }));
    expect(loaded.config.remotes[0]).toMatchObject({ ca: caPath, cert: good.certPath });
    expect(loaded.warnings).toEqual([]);
  });

  it('a folder, a missing file, no PEM and a foreign key are each named, all in one run', async () => {
    const notPem = join(dir, 'notes.txt');
    await writeFile(notPem, 'not a certificate\n');
    await mkdir(join(dir, 'certs'));
    const result = checkBridgeConfig(
      await bridgeFile(
        { ca: join(dir, 'certs'), cert: good.certPath, key: other.keyPath },
        { hub: { address: 'ssl://127.0.0.1:8883', ca: notPem, cert: join(dir, 'missing.pem'), key: good.keyPath } },
      ),
    );
    expect(result.loaded).toBeUndefined();
    expect(result.errors).toEqual([
      `hub.cert: cannot read ${join(dir, 'missing.pem')} (ENOENT)`,
      `hub.ca: ${notPem} holds no PEM certificate`,
      `remotes[0].ca: cannot read ${join(dir, 'certs')}: it is a folder, not a file`,
      `remotes[0].key: ${other.keyPath} is not the key of the certificate ${good.certPath}`,
    ]);
  });

  it('a key given for a certificate, and a certificate without its key', async () => {
    const result = checkBridgeConfig(await bridgeFile({ cert: good.keyPath, key: good.certPath }));
    expect(result.errors).toEqual([
      `remotes[0].cert: ${good.keyPath} holds no PEM certificate`,
      `remotes[0].key: ${good.certPath} holds no PEM private key`,
    ]);
    expect(checkBridgeConfig(await bridgeFile({ cert: good.certPath })).errors).toEqual([
      'remotes[0].key: a client certificate (remotes[0].cert) needs its key',
    ]);
  });

  it("the hub's certificate, with a field that fails to parse in the same file", async () => {
    const result = checkHubConfig(
      await hubFile({
        listen: ['ssl://127.0.0.1:70000'],
        certificate: { cert: good.certPath, key: join(dir, 'nokey.pem') },
      }),
    );
    expect(result.errors).toEqual([
      'listen[0]: port must be 0 to 65535 (got 70000)',
      `certificate.key: cannot read ${join(dir, 'nokey.pem')} (ENOENT)`,
    ]);
  });
});

describe('password hashes', () => {
  it('a malformed hash is refused at load and never works as a plain-text password', async () => {
    const result = checkHubConfig(
      await hubFile({
        principals: [
          { username: 'a', password: 'scrypt$bad', permissions: [] },
          { username: 'b', password: `scrypt$3$8$1$${'A'.repeat(24)}$${'A'.repeat(44)}`, permissions: [] },
          { username: 'c', password: hashPassword('fine'), permissions: [] },
          { username: 'd', password: 'plain Baetyl password', permissions: [] },
        ],
      }),
    );
    expect(result.errors).toEqual([
      'principals[0].password: starts like a hash but is not one: expected scrypt$N$r$p$SALT$HASH as tether-agent hash-password writes it',
      'principals[1].password: a hash with unusable parameters: N a power of two up to 2^20, r 1 to 32, p 1 to 16, a key of 16 bytes or more',
    ]);
    // were it loaded some other way, the hub's check still refuses it rather than compare it as text
    expect(verifyPassword('scrypt$bad', 'scrypt$bad')).toBe(false);
    expect(verifyPassword('plain Baetyl password', 'plain Baetyl password')).toBe(true);
  });
});

describe('warnings', () => {
  it('a Baetyl typo loads, with the warning carried to the start', async () => {
    const loaded = loadBridgeConfig(await bridgeFile({ address: 'tcp://127.0.0.1:1883', keepalve: '1m' }));
    expect(loaded.warnings).toEqual(['remotes[0].keepalve: unknown key, ignored (did you mean "keepalive"?)']);
    expect(loaded.config.remotes[0]?.keepalive).toBe(600_000);
  });

  it('errors throw one ConfigError naming the file, with every problem', async () => {
    const file = await hubFile({ limits: { conections: 1 }, principals: [{ username: 'x', password: 'scrypt$' }] });
    let error: unknown;
    try {
      loadHubConfig(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).file).toBe(file);
    expect((error as ConfigError).problems).toHaveLength(2);
  });
});

describe('addresses', () => {
  it('every address the schema accepts, the start parses; the one the schema refuses, it refuses alike', async () => {
    const accepted = [
      'tcp://h',
      'mqtt://h:1',
      'ssl://h:65535',
      'wss://h:443/mqtt',
      'ws://[::1]:80/x',
      'tls://a-b.c_d:8883',
    ];
    for (const address of accepted) {
      expect(checkBridgeConfig(await bridgeFile({ address })).errors).toEqual([]);
      expect(() => parseAddress(address)).not.toThrow();
    }
    for (const address of ['tcp://h:99999', 'tcp://u:p@h:1883', 'http://h:1', 'tcp://:1883']) {
      const [problem] = checkBridgeConfig(await bridgeFile({ address })).errors;
      expect(problem).toMatch(/^remotes\[0\]\.address: /);
      expect(() => parseAddress(address)).toThrow(problem?.replace('remotes[0].address: ', ''));
    }
  });
});
