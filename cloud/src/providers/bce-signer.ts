import { createHmac } from 'node:crypto';

/**
 * Baidu Cloud's request signature, bce-auth-v1, as specified in "Generate Authentication String"
 * (https://cloud.baidu.com/doc/Reference/s/njwvz1yfu, English: https://intl.cloud.baidu.com/doc/Reference/s/njwvz1yfu-en):
 *
 *   authStringPrefix = bce-auth-v1/{accessKeyId}/{timestamp}/{expirationPeriodInSeconds}
 *   signingKey       = HMAC-SHA256-HEX(secretAccessKey, authStringPrefix)
 *   canonicalRequest = METHOD \n UriEncodeExceptSlash(path) \n canonicalQueryString \n canonicalHeaders
 *   signature        = HMAC-SHA256-HEX(signingKey, canonicalRequest)
 *   Authorization    = {authStringPrefix}/{signedHeaders}/{signature}
 *
 * Checked against the published examples: the document's UploadPart example (signature d74a0436…)
 * and the test vectors of Baidu's JavaScript SDK (baidubce/bce-sdk-js, test/sdk/auth.spec.js:
 * 80c9672a…, c9386b15…), see cloud/test/providers/bce-signer.test.ts.
 */

export interface BceCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface BceRequest {
  readonly method: string;
  /** The path, not encoded (`/v1/endpoint/my thing`); it is encoded here, slashes kept. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | null | undefined>>;
  readonly headers: Readonly<Record<string, string | number | undefined>>;
}

export interface BceSignOptions {
  readonly timestamp: Date;
  /** Default 1800 (the service's default). */
  readonly expirationSeconds?: number;
  /**
   * Header names to sign (any case). Default: host, content-length, content-md5, content-type and
   * every x-bce-* header, as the specification says. Absent or empty headers are not signed.
   */
  readonly headersToSign?: readonly string[];
  /**
   * Leave the signed header list out of the Authorization (`…/1800//signature`): the service then
   * assumes the default list. Only the document's example does this.
   */
  readonly omitSignedHeaders?: boolean;
}

const DEFAULT_HEADERS = ['host', 'content-length', 'content-md5', 'content-type'];

/** RFC 3986 encoding: everything but A-Z a-z 0-9 - . _ ~ as %XX with upper-case hex. */
export function uriEncode(text: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `bce-auth-v1/…` for the request at `options.timestamp`. */
export function signBceRequest(credentials: BceCredentials, request: BceRequest, options: BceSignOptions): string {
  const timestamp = options.timestamp.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const prefix = `bce-auth-v1/${credentials.accessKeyId}/${timestamp}/${options.expirationSeconds ?? 1800}`;
  const signingKey = hmacHex(credentials.secretAccessKey, prefix);
  const { canonical, signedHeaders } = canonicalRequest(request, options.headersToSign);
  const signature = hmacHex(signingKey, canonical);
  return `${prefix}/${options.omitSignedHeaders ? '' : signedHeaders.join(';')}/${signature}`;
}

export function canonicalRequest(
  request: BceRequest,
  headersToSign?: readonly string[],
): { canonical: string; signedHeaders: string[] } {
  const query = Object.entries(request.query ?? {})
    .filter(([key]) => key.toLowerCase() !== 'authorization')
    .map(([key, value]) => `${uriEncode(key)}=${uriEncode(value === null || value === undefined ? '' : String(value))}`)
    .sort()
    .join('&');
  const wanted = new Set((headersToSign ?? DEFAULT_HEADERS).map((h) => h.toLowerCase()));
  const signAllBce = headersToSign === undefined;
  const headers: [string, string][] = [];
  for (const [rawName, rawValue] of Object.entries(request.headers)) {
    const name = rawName.trim().toLowerCase();
    const value = rawValue === undefined ? '' : String(rawValue).trim();
    if (value === '') continue;
    if (wanted.has(name) || (signAllBce && name.startsWith('x-bce-')))
      headers.push([uriEncode(name), uriEncode(value)]);
  }
  headers.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonical = [
    request.method.toUpperCase(),
    uriEncode(request.path, true),
    query,
    headers.map(([name, value]) => `${name}:${value}`).join('\n'),
  ].join('\n');
  return { canonical, signedHeaders: headers.map(([name]) => name) };
}

function hmacHex(key: string, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}
