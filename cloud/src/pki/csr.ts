import 'reflect-metadata'; // before @peculiar/x509 (its tsyringe needs the Reflect metadata polyfill)
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export interface CheckedCsr {
  readonly pem: string;
  readonly publicKey: x509.PublicKey;
  /** The CN the device asked for (informational: certificates are issued with CN = thing). */
  readonly commonName: string | undefined;
}

/**
 * Parses a PKCS#10 request and checks its signature (proof that the sender holds the private key)
 * and its key type: EC P-256/P-384 or RSA of at least 2048 bits. Returns a problem message or the CSR.
 */
export async function checkCsr(pem: string): Promise<CheckedCsr | string> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem.trim());
  } catch {
    return 'not a PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----)';
  }
  const algorithm = csr.publicKey.algorithm as { name?: string; namedCurve?: string; modulusLength?: number };
  const ec = algorithm.name === 'ECDSA' && (algorithm.namedCurve === 'P-256' || algorithm.namedCurve === 'P-384');
  const rsa = algorithm.name?.startsWith('RSA') === true && (algorithm.modulusLength ?? 0) >= 2048;
  if (!ec && !rsa) return `unsupported key ${describe(algorithm)}: use EC P-256/P-384 or RSA ≥ 2048 bits`;
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) return 'the request is not signed by its own key';
  const commonName = csr.subjectName.getField('CN')[0];
  return { pem: csr.toString('pem'), publicKey: csr.publicKey, commonName };
}

function describe(algorithm: { name?: string; namedCurve?: string; modulusLength?: number }): string {
  return [algorithm.name ?? 'unknown', algorithm.namedCurve ?? algorithm.modulusLength].filter(Boolean).join(' ');
}
