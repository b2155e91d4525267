/**
 * Tether's PKI, in production as much as in tests: a CA, server and client certificates, a
 * device's key and CSR, a certificate signed for a public key taken from a CSR, and a CRL.
 * ECDSA P-256 keys, SHA-256 signatures, PEM output (keys as PKCS#8). The cloud's `local`
 * provider runs a fleet CA on it and `tether-cloud serve` its server certificate; `tether-agent
 * enroll` makes the device's key and CSR; the quick-start demo and the tests make throw-away CAs.
 * Keys live in memory and in the files the caller writes.
 *
 * `x509.cryptoProvider.set` below is process-wide: @peculiar/x509 signs with Node's WebCrypto
 * wherever it is loaded (ARCHITECTURE.md, "Invariants", lists this exception).
 */
import 'reflect-metadata'; // before @peculiar/x509: its tsyringe needs a Reflect metadata polyfill at load time
import { randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

/** A certificate and its private key, both PEM. `keyPem` is PKCS#8 (`-----BEGIN PRIVATE KEY-----`). */
export interface CertKeyPair {
  certPem: string;
  keyPem: string;
}

export interface CreateCaOptions {
  commonName: string;
  /** Validity in days from now. Default 3650. */
  days?: number;
}

export interface IssueCertificateOptions {
  commonName: string;
  usage: 'server' | 'client';
  /** Subject alternative DNS names. Server default `['localhost']`; client default none. `[]` for none. */
  dnsNames?: string[];
  /** Subject alternative IP addresses. Server default `['127.0.0.1']`; client default none. `[]` for none. */
  ipAddresses?: string[];
  /** Validity in days from `notBefore`, used when `notAfter` is not given. Default 365. */
  days?: number;
  /** Default: 5 minutes ago (tolerates small clock skew). May be in the past, e.g. for an expired cert. */
  notBefore?: Date;
  /** Default: `notBefore` + `days`. May be in the past, e.g. for an expired cert. */
  notAfter?: Date;
}

export interface PemFilePaths {
  certPath: string;
  keyPath: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

function assertDays(days: number): void {
  if (!Number.isFinite(days) || days <= 0) throw new RangeError(`days must be a positive number, got ${days}`);
}

/** 16 random bytes as hex, first byte forced into 0x40..0x7f: positive and without a leading zero octet. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  // Extractable, so the private key can be exported as PKCS#8.
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function exportPrivateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importPrivateKeyPem(pem: string): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(pem), KEY_ALGORITHM, false, ['sign']);
}

/** Creates a self-signed CA: basicConstraints CA:true (critical), keyUsage keyCertSign + cRLSign (critical). */
export async function createCa(opts: CreateCaOptions): Promise<CertKeyPair> {
  const days = opts.days ?? 3650;
  assertDays(days);
  const keys = await generateKeys();
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [opts.commonName] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ski,
      new x509.AuthorityKeyIdentifierExtension(ski.keyId),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/**
 * Issues an end-entity certificate signed by `ca`: basicConstraints CA:false, keyUsage digitalSignature,
 * extendedKeyUsage serverAuth or clientAuth, subject/authority key identifiers, and a SAN when there are names.
 */
export async function issueCertificate(ca: CertKeyPair, opts: IssueCertificateOptions): Promise<CertKeyPair> {
  const keys = await generateKeys();
  const certPem = await issueCertificateForKey(ca, keys.publicKey, opts);
  return { certPem, keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/**
 * Like `issueCertificate`, for a public key the caller already has (e.g. from a device's CSR, whose
 * private key never leaves the device). Returns the certificate PEM.
 */
export async function issueCertificateForKey(
  ca: CertKeyPair,
  publicKey: x509.PublicKeyType,
  opts: IssueCertificateOptions,
): Promise<string> {
  const days = opts.days ?? 365;
  assertDays(days);
  const notBefore = opts.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new RangeError(`notAfter (${notAfter.toISOString()}) must be after notBefore (${notBefore.toISOString()})`);
  }

  const isServer = opts.usage === 'server';
  const dnsNames = opts.dnsNames ?? (isServer ? ['localhost'] : []);
  const ipAddresses = opts.ipAddresses ?? (isServer ? ['127.0.0.1'] : []);
  const altNames: x509.JsonGeneralNames = [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];

  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importPrivateKeyPem(ca.keyPem);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([
      isServer ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await authorityKeyIdentifier(caCert),
  ];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames));

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [opts.commonName] }],
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  return cert.toString('pem');
}

async function authorityKeyIdentifier(caCert: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  return caSki
    ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId)
    : x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey);
}

/** A new P-256 key and a PKCS#10 request for it (subject CN `commonName`), both PEM. */
export async function createKeyAndCsr(opts: { commonName: string }): Promise<{ csrPem: string; keyPem: string }> {
  const keys = await generateKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [opts.commonName] }],
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  return { csrPem: csr.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/**
 * A CRL signed by `ca` listing `revoked` (hex serial numbers). No nextUpdate: OpenSSL then never
 * treats the list as expired, so a broker that checks it keeps accepting the certificates not on it.
 */
export async function createCrl(
  ca: CertKeyPair,
  revoked: readonly { serialNumber: string; revokedAt: Date }[],
): Promise<string> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subjectName,
    thisUpdate: new Date(Date.now() - CLOCK_SKEW_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    signingKey: await importPrivateKeyPem(ca.keyPem),
    extensions: [await authorityKeyIdentifier(caCert)],
    entries: revoked.map((r) => ({ serialNumber: r.serialNumber, revocationDate: r.revokedAt })),
  });
  // OpenSSL (and so Mosquitto's `crlfile`) reads only the `X509 CRL` PEM label
  return `${x509.PemConverter.encode(crl.rawData, 'X509 CRL')}\n`;
}

/**
 * Writes `${name}.pem` (mode 0644) and `${name}.key` (mode 0600) into `dir` (created if missing) and returns their paths.
 * Existing files are overwritten and their modes reset.
 */
export async function writePemFiles(dir: string, name: string, pair: CertKeyPair): Promise<PemFilePaths> {
  await mkdir(dir, { recursive: true });
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  await writeFile(certPath, pair.certPem, { mode: 0o644 });
  await chmod(certPath, 0o644);
  // Tighten an existing key file before writing the new key into it; a new file is created 0600 (never broader).
  await chmod(keyPath, 0o600).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await writeFile(keyPath, pair.keyPem, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  return { certPath, keyPath };
}
