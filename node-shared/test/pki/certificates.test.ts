import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CertKeyPair, createCa, issueCertificate, writePemFiles } from '../../src/pki/certificates.js';

const execFileAsync = promisify(execFile);

/** Runs openssl with a bounded time; resolves with exit code and output instead of throwing on a non-zero exit. */
async function openssl(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('openssl', args, { timeout: 5_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

interface HandshakeResult {
  /** The client got the server's greeting over an authorised connection. */
  ok: boolean;
  peerCn?: string;
  serverError?: string;
  clientError?: string;
  /** Why the server found the client cert invalid (only recorded with `rejectUnauthorized: false`). */
  authorizationError?: string;
}

/**
 * A real mutual-TLS round trip on 127.0.0.1 with an OS-chosen port: the server requires and verifies a
 * client certificate against `serverCa`, the client verifies the server against `clientCa` (by IP SAN).
 */
async function mutualTls(
  server: CertKeyPair,
  serverCa: string,
  client: CertKeyPair,
  clientCa: string,
  rejectUnauthorized = true,
): Promise<HandshakeResult> {
  const result: HandshakeResult = { ok: false };
  const srv = tls.createServer(
    { key: server.keyPem, cert: server.certPem, ca: serverCa, requestCert: true, rejectUnauthorized },
    (socket) => {
      if (socket.authorizationError) result.authorizationError = String(socket.authorizationError);
      const cn = socket.getPeerCertificate().subject?.CN;
      if (typeof cn === 'string') result.peerCn = cn;
      socket.end('hello\n');
    },
  );
  srv.on('tlsClientError', (err) => {
    result.serverError = err.message;
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = srv.address() as AddressInfo;
  const socket = tls.connect({ host: '127.0.0.1', port, ca: clientCa, cert: client.certPem, key: client.keyPem });
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        result.clientError ??= 'timed out after 5000 ms';
        resolve();
      }, 5_000);
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        data += chunk;
        if (data.includes('hello\n')) result.ok = socket.authorized;
      });
      socket.on('error', (err) => {
        result.clientError = err.message;
      });
      socket.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } finally {
    socket.destroy();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
  return result;
}

describe('dev PKI', () => {
  let dir: string;
  let ca: CertKeyPair;
  let server: CertKeyPair;
  let client: CertKeyPair;
  let otherCa: CertKeyPair;
  let otherClient: CertKeyPair;
  let expiredClient: CertKeyPair;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tether-pki-'));
    ca = await createCa({ commonName: 'Tether Test CA' });
    server = await issueCertificate(ca, { commonName: 'localhost', usage: 'server' });
    client = await issueCertificate(ca, { commonName: 'edge-1', usage: 'client' });
    otherCa = await createCa({ commonName: 'Unrelated CA', days: 30 });
    otherClient = await issueCertificate(otherCa, { commonName: 'edge-1', usage: 'client' });
    expiredClient = await issueCertificate(ca, {
      commonName: 'edge-expired',
      usage: 'client',
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    for (const [name, pair] of Object.entries({ ca, server, client, otherCa, otherClient, expiredClient })) {
      await writePemFiles(dir, name, pair);
    }
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('produces PEM certificates and PKCS#8 keys', () => {
    for (const pair of [ca, server, client]) {
      expect(pair.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+-----END CERTIFICATE-----\s*$/);
      expect(pair.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\r?\n[\s\S]+-----END PRIVATE KEY-----\s*$/);
    }
  });

  it('passes openssl verify for server and client certs issued by the CA', async () => {
    const ok = await openssl([
      'verify',
      '-CAfile',
      join(dir, 'ca.pem'),
      join(dir, 'server.pem'),
      join(dir, 'client.pem'),
    ]);
    expect(ok.out).toContain('server.pem: OK');
    expect(ok.out).toContain('client.pem: OK');
    expect(ok.code).toBe(0);

    const purpose = await openssl([
      'verify',
      '-purpose',
      'sslserver',
      '-CAfile',
      join(dir, 'ca.pem'),
      join(dir, 'server.pem'),
    ]);
    expect(purpose.code, purpose.out).toBe(0);
    const clientPurpose = await openssl([
      'verify',
      '-purpose',
      'sslclient',
      '-CAfile',
      join(dir, 'ca.pem'),
      join(dir, 'client.pem'),
    ]);
    expect(clientPurpose.code, clientPurpose.out).toBe(0);
  });

  it('fails openssl verify for a cert from another CA and for an expired cert', async () => {
    const foreign = await openssl(['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'otherClient.pem')]);
    expect(foreign.code).not.toBe(0);
    expect(foreign.out).toMatch(/unable to get local issuer certificate/);

    const expired = await openssl(['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'expiredClient.pem')]);
    expect(expired.code).not.toBe(0);
    expect(expired.out).toMatch(/certificate has expired/);
  });

  it('marks the CA as a CA with keyCertSign and cRLSign', async () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=Tether Test CA');
    expect(cert.checkIssued(cert)).toBe(true);
    const ext = await openssl(['x509', '-in', join(dir, 'ca.pem'), '-noout', '-ext', 'basicConstraints,keyUsage']);
    expect(ext.out).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(ext.out).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
  });

  it('gives the server cert CA:false, SAN localhost + 127.0.0.1, serverAuth and key identifiers', async () => {
    const cert = new X509Certificate(server.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe('CN=localhost');
    expect(cert.issuer).toBe('CN=Tether Test CA');
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // extendedKeyUsage serverAuth
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');

    const ext = await openssl([
      'x509',
      '-in',
      join(dir, 'server.pem'),
      '-noout',
      '-ext',
      'basicConstraints,keyUsage,subjectKeyIdentifier,authorityKeyIdentifier',
    ]);
    expect(ext.out).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(ext.out).toMatch(/Key Usage: critical\s+Digital Signature/);
    const caSki = await openssl(['x509', '-in', join(dir, 'ca.pem'), '-noout', '-ext', 'subjectKeyIdentifier']);
    const caKeyId = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(caSki.out)?.[1];
    expect(caKeyId).toBeDefined();
    expect(ext.out).toMatch(/Subject Key Identifier:\s+[0-9A-F:]+/);
    expect(ext.out.replace(/\s+/g, ' ')).toContain(`Authority Key Identifier: ${caKeyId}`);

    const text = await openssl(['x509', '-in', join(dir, 'server.pem'), '-noout', '-text']);
    expect(text.out).toContain('ecdsa-with-SHA256');
  });

  it('gives the client cert clientAuth and no SAN unless asked', () => {
    const cert = new X509Certificate(client.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe('CN=edge-1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.subjectAltName).toBeUndefined();
  });

  it('honours explicit SANs and validity', async () => {
    const notBefore = new Date('2020-01-01T00:00:00Z');
    const notAfter = new Date('2020-01-02T00:00:00Z');
    const pair = await issueCertificate(ca, {
      commonName: 'broker',
      usage: 'server',
      dnsNames: ['broker.example', 'localhost'],
      ipAddresses: ['10.0.0.7', '::1'],
      notBefore,
      notAfter,
    });
    const cert = new X509Certificate(pair.certPem);
    expect(cert.subjectAltName).toBe(
      'DNS:broker.example, DNS:localhost, IP Address:10.0.0.7, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(new Date(cert.validFrom).toISOString()).toBe(notBefore.toISOString());
    expect(new Date(cert.validTo).toISOString()).toBe(notAfter.toISOString());

    const days = await issueCertificate(ca, { commonName: 'short', usage: 'client', days: 2 });
    const short = new X509Certificate(days.certPem);
    const span = new Date(short.validTo).getTime() - new Date(short.validFrom).getTime();
    expect(span).toBe(2 * 86_400_000);
  });

  it('rejects an empty validity period and non-positive days', async () => {
    const at = new Date();
    await expect(
      issueCertificate(ca, { commonName: 'x', usage: 'client', notBefore: at, notAfter: at }),
    ).rejects.toThrow(/notAfter/);
    await expect(issueCertificate(ca, { commonName: 'x', usage: 'client', days: 0 })).rejects.toThrow(/days/);
    await expect(createCa({ commonName: 'x', days: -1 })).rejects.toThrow(/days/);
  });

  it('issues unique serial numbers', () => {
    const serials = [ca, server, client, otherCa, otherClient].map((p) => new X509Certificate(p.certPem).serialNumber);
    expect(new Set(serials).size).toBe(serials.length);
  });

  it('writes the key file with mode 0600 and the cert readable, returning both paths', async () => {
    const paths = await writePemFiles(join(dir, 'nested', 'out'), 'server', server);
    expect(paths).toEqual({
      certPath: join(dir, 'nested', 'out', 'server.pem'),
      keyPath: join(dir, 'nested', 'out', 'server.key'),
    });
    expect((await stat(paths.keyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(paths.certPath)).mode & 0o777).toBe(0o644);
    expect(await readFile(paths.certPath, 'utf8')).toBe(server.certPem);
    expect(await readFile(paths.keyPath, 'utf8')).toBe(server.keyPem);

    // An existing, too-open key file is tightened when overwritten.
    const loose = join(dir, 'loose.key');
    await writeFile(loose, 'old', { mode: 0o644 });
    const again = await writePemFiles(dir, 'loose', client);
    expect((await stat(again.keyPath)).mode & 0o777).toBe(0o600);
    expect(await readFile(again.keyPath, 'utf8')).toBe(client.keyPem);
  });

  it('completes a real mutual-TLS handshake with the issued certs', async () => {
    const result = await mutualTls(server, ca.certPem, client, ca.certPem);
    expect(result.serverError).toBeUndefined();
    expect(result.clientError).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.peerCn).toBe('edge-1');
  });

  it('refuses a client cert from another CA', async () => {
    const result = await mutualTls(server, ca.certPem, otherClient, ca.certPem);
    expect(result.ok).toBe(false);
    expect(result.peerCn).toBeUndefined();
    expect(result.serverError).toBeDefined();

    const observed = await mutualTls(server, ca.certPem, otherClient, ca.certPem, false);
    expect(observed.authorizationError).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('refuses an expired client cert', async () => {
    const result = await mutualTls(server, ca.certPem, expiredClient, ca.certPem);
    expect(result.ok).toBe(false);
    expect(result.peerCn).toBeUndefined();
    expect(result.serverError).toBeDefined();

    // The same handshake with verification reported rather than enforced says why: the cert has expired.
    const observed = await mutualTls(server, ca.certPem, expiredClient, ca.certPem, false);
    expect(observed.authorizationError).toBe('CERT_HAS_EXPIRED');
  });

  it('lets the client refuse a server cert from another CA', async () => {
    const result = await mutualTls(server, ca.certPem, client, otherCa.certPem);
    expect(result.ok).toBe(false);
    expect(result.clientError).toBeDefined();
  });
});
