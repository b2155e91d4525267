import { type CertKeyPair, createCa, issueCertificate, writePemFiles } from '@tether/node-shared/pki';

/** Paths of a certificate (`.pem`) and its PKCS#8 key (`.key`, mode 0600). */
export interface CertFiles {
  cert: string;
  key: string;
}

export interface TlsFixture {
  dir: string;
  /** Path of the CA certificate that signed `server`, `client` and `expiredClient`. */
  ca: string;
  caKey: string;
  /** CN `localhost`, SAN DNS:localhost + IP:127.0.0.1, serverAuth. */
  server: CertFiles;
  /** clientAuth, CN `clientCommonName`. */
  client: CertFiles & { commonName: string };
  /** An unrelated CA (`other-ca.pem`), not trusted by anything the fixture sets up. */
  otherCa: string;
  /** A client cert with the same CN as `client`, but signed by `otherCa`. */
  otherClient: CertFiles;
  /** Signed by `ca`, but its validity ended yesterday. CN `${clientCommonName}-expired`. */
  expiredClient: CertFiles;
  /** The PEMs in memory, e.g. to issue more certs with `issueCertificate(fixture.pems.ca, ...)`. */
  pems: Record<'ca' | 'server' | 'client' | 'otherCa' | 'otherClient' | 'expiredClient', CertKeyPair>;
}

export interface TlsFixtureOptions {
  /** CN of the client certs. Default `tether-client`. */
  clientCommonName?: string;
}

const DAY_MS = 86_400_000;

/**
 * Creates a complete set of TLS material in `dir` (created if missing):
 * `ca.pem/.key`, `server.pem/.key`, `client.pem/.key`, `other-ca.pem/.key`, `other-client.pem/.key`,
 * `expired-client.pem/.key`.
 */
export async function makeTlsFixture(dir: string, opts: TlsFixtureOptions = {}): Promise<TlsFixture> {
  const commonName = opts.clientCommonName ?? 'tether-client';
  const ca = await createCa({ commonName: 'Tether Test CA' });
  const server = await issueCertificate(ca, {
    commonName: 'localhost',
    usage: 'server',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  const client = await issueCertificate(ca, { commonName, usage: 'client' });
  const otherCa = await createCa({ commonName: 'Unrelated Test CA' });
  const otherClient = await issueCertificate(otherCa, { commonName, usage: 'client' });
  const now = Date.now();
  const expiredClient = await issueCertificate(ca, {
    commonName: `${commonName}-expired`,
    usage: 'client',
    notBefore: new Date(now - 30 * DAY_MS),
    notAfter: new Date(now - DAY_MS),
  });

  const caFiles = await writePemFiles(dir, 'ca', ca);
  const serverFiles = await writePemFiles(dir, 'server', server);
  const clientFiles = await writePemFiles(dir, 'client', client);
  const otherCaFiles = await writePemFiles(dir, 'other-ca', otherCa);
  const otherClientFiles = await writePemFiles(dir, 'other-client', otherClient);
  const expiredFiles = await writePemFiles(dir, 'expired-client', expiredClient);
  const files = ({ certPath, keyPath }: { certPath: string; keyPath: string }): CertFiles => ({
    cert: certPath,
    key: keyPath,
  });

  return {
    dir,
    ca: caFiles.certPath,
    caKey: caFiles.keyPath,
    server: files(serverFiles),
    client: { ...files(clientFiles), commonName },
    otherCa: otherCaFiles.certPath,
    otherClient: files(otherClientFiles),
    expiredClient: files(expiredFiles),
    pems: { ca, server, client, otherCa, otherClient, expiredClient },
  };
}
