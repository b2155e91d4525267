import { type BceCredentials, signBceRequest } from '../../src/providers/bce-signer.js';
import type { RecordedRequest } from './http-recorder.js';

/** The access key the fake Baidu services know. */
export const BAIDU_CREDENTIALS: BceCredentials = { accessKeyId: 'ak-tether-test', secretAccessKey: 'sk-tether-test' };

/**
 * What a Baidu service checks of every request, for the fakes of IoT Hub and IoT Core: the
 * bce-auth-v1 Authorization recomputed from what arrived (method, path, query, the signed headers),
 * the access key, and x-bce-date matching the signature's timestamp. Returns what is wrong, or undefined.
 */
export function checkBceSignature(r: RecordedRequest): string | undefined {
  const auth = String(r.headers.authorization ?? '');
  const m = /^bce-auth-v1\/([^/]+)\/([^/]+)\/(\d+)\/([^/]*)\/([0-9a-f]{64})$/.exec(auth);
  if (!m) return `malformed Authorization: ${auth}`;
  const [, ak, timestamp = '', expiration, signedHeaders = '', signature] = m;
  if (ak !== BAIDU_CREDENTIALS.accessKeyId) return `unknown access key ${ak}`;
  if (r.headers['x-bce-date'] !== timestamp) return 'x-bce-date differs from the signature timestamp';
  if (Math.abs(Date.parse(timestamp) - Date.now()) > 5 * 60_000) return 'stale signature';
  const names = signedHeaders.split(';').filter(Boolean);
  if (!names.includes('host')) return 'host is not signed';
  const headers = Object.fromEntries(names.map((n) => [n, String(r.headers[n] ?? '')]));
  const expected = signBceRequest(
    BAIDU_CREDENTIALS,
    { method: r.method, path: r.path, query: r.query, headers },
    { timestamp: new Date(timestamp), expirationSeconds: Number(expiration), headersToSign: names },
  );
  return expected.endsWith(`/${signature}`) ? undefined : 'signature does not match';
}
