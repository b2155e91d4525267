/**
 * The edge agent's PKI module (ECDSA P-256 CA and certificates with @peculiar/x509), reused here rather
 * than copied. Imported from its compiled output: cloud and edge-agent are separate TypeScript projects
 * (cloud references edge-agent, so `tsc -b` builds it first), and the compiled path is what Node, Vitest
 * and esbuild (the Lambda bundle) all resolve the same way. It pulls in only reflect-metadata and
 * @peculiar/x509, never the agent itself.
 */
export {
  type CertKeyPair,
  createCa,
  createCrl,
  createKeyAndCsr,
  issueCertificate,
  issueCertificateForKey,
  writePemFiles,
} from '../../../edge-agent/dist/pki/dev-pki.js';
