import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createKeyAndCsr } from '@tether/node-shared/pki';
import { expandPolicy, PolicySchema } from '@tether/shared';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeBundle } from '../../src/cli/write-bundle.js';
import { buildBundle } from '../../src/core/bundle.js';
import { LocalProvider } from '../../src/providers/local.js';

const execFileAsync = promisify(execFile);
const policy = PolicySchema.parse({ publish: ['devices/{thing}/up'], subscribe: ['devices/{thing}/down'] });
const endpoint = { host: '127.0.0.1', port: 18883, protocol: 'mqtts' as const };
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

async function openssl(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('openssl', args, { timeout: 10_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

const td = new Teardown();
afterEach(() => td.run());
let dir: string;
let caDir: string;
beforeEach(() => {
  dir = tempDir(td, 'tether-local-');
  caDir = join(dir, 'ca');
});

describe('local provider', () => {
  it('creates the CA on first use and signs a P-256 client-auth certificate with CN = thing', async () => {
    const provider = new LocalProvider({ caDir, endpoint });
    const provisioned = await provider.apply(await provider.plan({ thing: 'sensor-1', policy }));
    const files = buildBundle(provisioned, {
      hub: { address: 'tcp://127.0.0.1:1883' },
      topics: expandPolicy(policy, 'sensor-1'),
    });
    const out = join(dir, 'bundle');
    await writeBundle(out, files, 'sensor-1');

    // node:crypto: subject, issuer signature, key type, usage, key pair
    const ca = new X509Certificate(await readFile(join(caDir, 'ca.pem')));
    const cert = new X509Certificate(await readFile(join(out, 'client.pem')));
    expect(cert.subject).toBe('CN=sensor-1');
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.checkPrivateKey(createPrivateKey(await readFile(join(out, 'client.key'), 'utf8')))).toBe(true);
    // openssl: the chain verifies for TLS client use
    const verified = await openssl([
      'verify',
      '-purpose',
      'sslclient',
      '-CAfile',
      join(out, 'ca.pem'),
      join(out, 'client.pem'),
    ]);
    expect(verified.out).toContain(': OK');
    // key files 0600 (bundle and CA dir), certificates readable
    expect(await mode(join(out, 'client.key'))).toBe(0o600);
    expect(await mode(join(out, 'service.yml'))).toBe(0o600);
    expect(await mode(join(out, 'client.pem'))).toBe(0o644);
    expect(await mode(join(caDir, 'ca.key'))).toBe(0o600);
    expect(await mode(join(caDir, 'server.key'))).toBe(0o600);
    expect(await mode(caDir)).toBe(0o700);
    // the broker kit: its server certificate names the endpoint's host
    const server = new X509Certificate(await readFile(join(caDir, 'server.pem')));
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.verify(ca.publicKey)).toBe(true);
  });

  it('writes a Mosquitto kit: mutual TLS on the endpoint, identity as username, ACL and CRL', async () => {
    const provider = new LocalProvider({ caDir, endpoint });
    await provider.apply(await provider.plan({ thing: 'sensor-1', policy }));
    const conf = await readFile(join(caDir, 'mosquitto.conf'), 'utf8');
    for (const line of [
      'listener 18883 127.0.0.1',
      `cafile ${join(caDir, 'ca.pem')}`,
      `crlfile ${join(caDir, 'crl.pem')}`,
      `acl_file ${join(caDir, 'acl')}`,
      'require_certificate true',
      'use_identity_as_username true',
      'allow_anonymous false',
    ]) {
      expect(conf.split('\n')).toContain(line);
    }
    // without --broker-user the broker runs as the files' owner (root drops to it; others ignore it)
    expect(conf).toMatch(new RegExp(`^user ${userInfo().username}$`, 'm'));
    expect(await readFile(join(caDir, 'acl'), 'utf8')).toContain(
      'user sensor-1\ntopic write devices/sensor-1/up\ntopic read devices/sensor-1/down\n',
    );
    const withUser = new LocalProvider({ caDir, endpoint, brokerUser: 'tether-broker' });
    await withUser.apply(await withUser.plan({ thing: 'sensor-2', policy }));
    expect(await readFile(join(caDir, 'mosquitto.conf'), 'utf8')).toMatch(/^user tether-broker$/m);
    // remembered: a later run without the option (serve, a batch) keeps the line
    const later = new LocalProvider({ caDir });
    await later.apply(await later.plan({ thing: 'sensor-3', policy }));
    expect(await readFile(join(caDir, 'mosquitto.conf'), 'utf8')).toMatch(/^user tether-broker$/m);
  });

  it('signs a device CSR: the bundle has no key, and the certificate is for the device key', async () => {
    const device = await createKeyAndCsr({ commonName: 'ignored-cn' });
    const provider = new LocalProvider({ caDir, endpoint });
    const provisioned = await provider.apply(await provider.plan({ thing: 'sensor-3', policy, csrPem: device.csrPem }));
    const files = buildBundle(provisioned, {
      hub: { address: 'tcp://127.0.0.1:1883' },
      topics: expandPolicy(policy, 'sensor-3'),
    });
    expect(files['client.key']).toBeUndefined();
    expect(JSON.parse(files['bundle.json'] ?? '{}')).toMatchObject({ keyOnDevice: true, files: { key: 'client.key' } });
    const cert = new X509Certificate(files['client.pem'] ?? '');
    expect(cert.subject).toBe('CN=sensor-3');
    expect(cert.checkPrivateKey(createPrivateKey(device.keyPem))).toBe(true);
    // a CSR that is not one, or whose signature does not match its key, names the field
    await expect(provider.apply(await provider.plan({ thing: 'x1', policy, csrPem: 'nope' }))).rejects.toThrow(
      /csr: not a PEM/,
    );
    const der = Buffer.from(device.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01; // one bit of the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(provider.apply(await provider.plan({ thing: 'x2', policy, csrPem: tampered }))).rejects.toThrow(
      /csr: the request is not signed by its own key/,
    );
  });

  it('is idempotent, rotates (old serial on the CRL) and revokes', async () => {
    const provider = new LocalProvider({ caDir, endpoint });
    const first = await provider.apply(await provider.plan({ thing: 'sensor-4', policy }));
    const again = await provider.plan({ thing: 'sensor-4', policy });
    expect(again.exists).toBe(true);
    await expect(provider.apply(again)).rejects.toMatchObject({ code: 'TETHER_ERR_EXISTS' });

    const rotated = await provider.rotate({ thing: 'sensor-4', policy });
    const oldPem = join(dir, 'old.pem');
    const newPem = join(dir, 'new.pem');
    await writeFile(oldPem, first.certificate?.certPem ?? '');
    await writeFile(newPem, rotated.certificate?.certPem ?? '');
    const crlArgs = ['verify', '-crl_check', '-CAfile', join(caDir, 'ca.pem'), '-CRLfile', join(caDir, 'crl.pem')];
    expect((await openssl([...crlArgs, oldPem])).out).toContain('certificate revoked');
    expect((await openssl([...crlArgs, newPem])).out).toContain(': OK');

    const revoked = await provider.revoke('sensor-4');
    expect(revoked.revoked).toEqual([rotated.certificate?.id]);
    expect((await openssl([...crlArgs, newPem])).out).toContain('certificate revoked');
    expect(await readFile(join(caDir, 'acl'), 'utf8')).not.toContain('sensor-4');
    expect((await provider.revoke('sensor-4')).revoked).toEqual([]);
    const described = await provider.describe('sensor-4');
    expect(described.exists).toBe(false);
    expect(described.credentials.map((c) => c.status)).toEqual(['revoked', 'revoked']);
  });

  it('needs the endpoint on first use and remembers it', async () => {
    await expect(new LocalProvider({ caDir }).plan({ thing: 'a', policy })).rejects.toThrow(
      /endpoint: the local provider needs --endpoint/,
    );
    const provider = new LocalProvider({ caDir, endpoint });
    await provider.apply(await provider.plan({ thing: 'a', policy }));
    const later = new LocalProvider({ caDir });
    expect((await later.apply(await later.plan({ thing: 'b', policy }))).endpoint).toEqual(endpoint);
  });

  it('two providers on one CA dir issuing at once lose no thing (registry lock)', async () => {
    const a = new LocalProvider({ caDir, endpoint });
    const b = new LocalProvider({ caDir, endpoint });
    await a.apply(await a.plan({ thing: 'seed', policy })); // the CA exists before the race
    const things = Array.from({ length: 12 }, (_, i) => `t${i}`);
    await Promise.all(
      things.map((thing, i) => (i % 2 ? a : b).plan({ thing, policy }).then((p) => (i % 2 ? a : b).apply(p))),
    );
    const registry = JSON.parse(await readFile(join(caDir, 'registry.json'), 'utf8'));
    expect(Object.keys(registry.things).sort()).toEqual(['seed', ...things].sort());
    const acl = await readFile(join(caDir, 'acl'), 'utf8');
    for (const thing of things) expect(acl).toContain(`user ${thing}\n`);
  });
});
