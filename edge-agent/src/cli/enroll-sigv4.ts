import { createHash } from 'node:crypto';
import { TetherError } from '@tether/shared';
import { noCredentialsMessage } from './enroll-auth.js';

/**
 * AWS Signature Version 4 for `tether-agent enroll --auth iam`: credentials from the AWS SDK's default chain
 * (environment, shared config and credentials files or SSO, web identity, container or instance role) and
 * `@smithy/signature-v4`, the signer the AWS SDK itself uses. Both are loaded with import() on first use, so
 * the agent loads no AWS code unless it enrolls with IAM. Credentials are held in memory only for the request:
 * never printed, never written.
 */

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
  readonly expiration?: Date | undefined;
}

/** Resolves credentials (the SDK's provider, or a test's). */
export type CredentialSource = () => Promise<AwsCredentials>;

const CREDENTIALS_TIMEOUT_MS = 30_000;

/** Credentials from the default chain (`profile` selects a shared-config profile); none is a usage error (exit 2). */
export async function loadAwsCredentials(
  profile: string | undefined,
  source: CredentialSource | undefined = undefined,
): Promise<AwsCredentials> {
  let credentials: AwsCredentials | undefined;
  try {
    const provide = source ?? (await defaultCredentialSource(profile));
    credentials = await bounded(provide(), CREDENTIALS_TIMEOUT_MS);
  } catch (error) {
    throw new TetherError('TETHER_ERR_USAGE', noCredentialsMessage(profile, error));
  }
  if (!credentials?.accessKeyId || !credentials.secretAccessKey) {
    throw new TetherError('TETHER_ERR_USAGE', noCredentialsMessage(profile, undefined));
  }
  return credentials;
}

async function defaultCredentialSource(profile: string | undefined): Promise<CredentialSource> {
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  return defaultProvider(profile === undefined ? {} : { profile });
}

export interface SignInput {
  readonly url: URL;
  readonly method: string;
  /** The request's own headers (content-type, content-length…), lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly region: string;
  readonly credentials: AwsCredentials;
  /** Signing time (tests); default now. */
  readonly signingDate?: Date | undefined;
}

/**
 * The headers to send for `input`, signed for the service `lambda`: the given ones plus `host`,
 * `x-amz-content-sha256` (the body's SHA-256), `x-amz-date`, `x-amz-security-token` (temporary credentials)
 * and `authorization`. The signature covers the method, the path, the query, every one of these headers
 * (but authorization) and the body, exactly as they are to be sent.
 */
export async function signLambdaRequest(input: SignInput): Promise<Record<string, string>> {
  const [{ SignatureV4 }, { Sha256 }] = await Promise.all([
    import('@smithy/signature-v4'),
    import('@aws-crypto/sha256-js'),
  ]);
  const { url, credentials } = input;
  const signer = new SignatureV4({
    service: 'lambda',
    region: input.region,
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
    },
    sha256: Sha256,
  });
  const headers: Record<string, string> = {
    ...input.headers,
    host: url.host,
    'x-amz-content-sha256': createHash('sha256').update(input.body, 'utf8').digest('hex'),
  };
  const signed = await signer.sign(
    {
      method: input.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: queryOf(url),
      headers,
      body: input.body,
    },
    input.signingDate ? { signingDate: input.signingDate } : {},
  );
  return { ...signed.headers };
}

/** The URL's query as SigV4 canonicalizes it: each name and value percent-decoded ('+' is a plus). */
export function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const part of url.search.replace(/^\?/, '').split('&')) {
    if (!part) continue;
    const at = part.indexOf('=');
    const name = decode(at < 0 ? part : part.slice(0, at));
    const value = at < 0 ? '' : decode(part.slice(at + 1));
    const before = query[name];
    query[name] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  return query;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // a stray '%': as is
  }
}

function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the credential chain gave no answer within ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
