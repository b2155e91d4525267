import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Teardown } from '@tether/test-helpers/teardown';
import { readBody } from '../../cloud/src/serve/provision-server.js';

/**
 * A Lambda function URL with AuthType AWS_IAM, on 127.0.0.1 (HTTPS, port chosen by the OS): every request
 * must carry a SigV4 signature for the service `lambda`, the stand-in's region and its known credentials,
 * which it recomputes with @smithy/signature-v4 (as AWS would, with the body's hash checked against the
 * body). Anything else is refused with 403 and the body AWS answers with; a good request goes to `invoke`
 * as a function URL event (payload 2.0) and its result becomes the HTTP answer, as the real URL does.
 */

export interface KnownCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** One request as the stand-in received it (every header, the body) and what it answered. */
export interface LoggedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  status: number;
  /** Why it was refused (403), or undefined when it went to the function. */
  refused?: string;
}

export interface FunctionUrlStandIn {
  readonly url: string;
  readonly requests: LoggedRequest[];
  /** The request log as text: every request's headers and body, and the function's log lines. */
  logText(): string;
}

export interface FunctionUrlResult {
  readonly statusCode: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface StandInOptions {
  readonly tls: { readonly cert: string; readonly key: string };
  readonly region: string;
  readonly credentials: KnownCredentials;
  readonly invoke: (event: Record<string, unknown>) => Promise<unknown>;
  /** The function's own log lines, included in logText(). */
  readonly functionLog?: () => string;
  readonly teardown: Teardown;
}

const MAX_BODY_BYTES = 64 * 1024;
const MAX_SKEW_MS = 5 * 60_000;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

const FORBIDDEN = { Message: 'Forbidden' };
const MISMATCH = {
  message:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
};

export async function startFunctionUrlStandIn(options: StandInOptions): Promise<FunctionUrlStandIn> {
  const requests: LoggedRequest[] = [];
  const server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    void handle(req, res);
  });
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, MAX_BODY_BYTES);
    const entry: LoggedRequest = {
      method: req.method ?? '',
      url: req.url ?? '/',
      headers: req.headers,
      body: body ?? '',
      status: 0,
    };
    requests.push(entry);
    try {
      if (body === undefined) return send(res, entry, 413, { Message: 'Request Entity Too Large' });
      const refusal = await checkSignature(req, body, options);
      if (refusal) {
        entry.refused = refusal.why;
        return send(res, entry, 403, refusal.answer);
      }
      const result = (await options.invoke(functionUrlEvent(req, body))) as FunctionUrlResult;
      entry.status = result.statusCode;
      res.writeHead(result.statusCode, { 'content-type': 'application/json', ...result.headers });
      res.end(result.body ?? '');
    } catch (error) {
      send(res, entry, 502, { Message: `stand-in: ${(error as Error).message}` });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  options.teardown.add('function URL stand-in', () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/`,
    requests,
    logText: () =>
      [
        ...requests.map((r) => `${r.method} ${r.url} ${r.status}\n${JSON.stringify(r.headers)}\n${r.body}`),
        options.functionLog?.() ?? '',
      ].join('\n'),
  };
}

function send(res: ServerResponse, entry: LoggedRequest, status: number, body: unknown): void {
  entry.status = status;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** What AWS would refuse, and how it would answer; undefined for a good signature. */
async function checkSignature(
  req: IncomingMessage,
  body: string,
  options: StandInOptions,
): Promise<{ why: string; answer: unknown } | undefined> {
  const header = req.headers.authorization;
  if (!header) return { why: 'no Authorization header', answer: FORBIDDEN };
  const m = AUTHORIZATION.exec(header);
  if (!m) return { why: 'not a SigV4 Authorization header', answer: FORBIDDEN };
  const [, accessKeyId, scopeDate, region, service, signedList] = m as unknown as string[];
  const known = options.credentials;
  if (accessKeyId !== known.accessKeyId) {
    return { why: 'unknown access key', answer: { message: 'The security token included in the request is invalid.' } };
  }
  if (region !== options.region || service !== 'lambda') {
    return {
      why: `scoped to ${region}/${service}`,
      answer: { message: 'Credential should be scoped to a valid region.' },
    };
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate || amzDate.slice(0, 8) !== scopeDate) return { why: 'bad x-amz-date', answer: MISMATCH };
  if (Math.abs(signingDate.getTime() - Date.now()) > MAX_SKEW_MS) {
    return { why: 'signature expired', answer: { message: 'Signature expired' } };
  }
  const signed = (signedList ?? '').split(';');
  const required = [
    'host',
    'x-amz-date',
    'x-amz-content-sha256',
    ...(known.sessionToken ? ['x-amz-security-token'] : []),
  ];
  const unsigned = required.filter((name) => !signed.includes(name));
  if (unsigned.length > 0) return { why: `unsigned ${unsigned.join(', ')}`, answer: MISMATCH };
  if (req.headers['x-amz-content-sha256'] !== createHash('sha256').update(body, 'utf8').digest('hex')) {
    return { why: "the body's hash does not match x-amz-content-sha256", answer: MISMATCH };
  }

  // recompute: the same request, the headers it signed, the known credentials, its date
  const url = new URL(req.url ?? '/', 'https://stand-in');
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = req.headers[name];
    if (value === undefined) return { why: `signed header ${name} missing`, answer: MISMATCH };
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const before = query[name];
    query[name] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  const signer = new SignatureV4({ service: 'lambda', region: options.region, credentials: known, sha256: Sha256 });
  const expected = await signer.sign(
    {
      method: req.method ?? 'POST',
      protocol: 'https:',
      hostname: headers.host?.replace(/:\d+$/, '') ?? '',
      path: url.pathname,
      query,
      headers,
      body,
    },
    { signingDate },
  );
  const want = Buffer.from(String(expected.headers.authorization));
  const got = Buffer.from(header);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { why: 'signature mismatch', answer: MISMATCH };
  return undefined;
}

/** `20260301T123456Z` → the Date, or undefined. */
function parseAmzDate(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0));
}

/** The event a function URL hands the function (payload format 2.0), as far as a JSON POST goes. */
function functionUrlEvent(req: IncomingMessage, body: string): Record<string, unknown> {
  const url = new URL(req.url ?? '/', 'https://stand-in');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    requestContext: {
      http: { method: req.method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
      authorizer: { iam: { accessKey: 'AKID…', accountId: '123456789012' } },
    },
    body,
    isBase64Encoded: false,
  };
}
