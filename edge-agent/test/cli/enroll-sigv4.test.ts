import { createHash, createHmac } from 'node:crypto';
import { TetherError } from '@tether/shared';
import { describe, expect, it } from 'vitest';
import { loadAwsCredentials, queryOf, signLambdaRequest } from '../../src/cli/enroll-sigv4.js';

// AWS's documentation example keys: not a real account
const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-example',
};
const BODY = JSON.stringify({ thing: 'tether-gw-01', csr: '-----BEGIN CERTIFICATE REQUEST-----\n…' });
const DATE = new Date('2026-03-01T12:34:56Z');

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();

/** SigV4 by the book (AWS's "Create a signed AWS API request"), for paths and queries without reserved characters. */
function expectedSignature(
  method: string,
  path: string,
  query: string,
  headers: Record<string, string>,
  signed: string[],
  region: string,
): string {
  const canonicalHeaders = signed.map((name) => `${name}:${headers[name]?.trim()}\n`).join('');
  const canonicalRequest = [
    method,
    path,
    query,
    canonicalHeaders,
    signed.join(';'),
    headers['x-amz-content-sha256'],
  ].join('\n');
  const amzDate = headers['x-amz-date'] ?? '';
  const scope = `${amzDate.slice(0, 8)}/${region}/lambda/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${CREDENTIALS.secretAccessKey}`, amzDate.slice(0, 8));
  for (const part of [region, 'lambda', 'aws4_request']) key = hmac(key, part);
  return hmac(key, stringToSign).toString('hex');
}

describe('signLambdaRequest', () => {
  it('signs the method, path, query, host, body hash, date and session token that are sent', async () => {
    const url = new URL('https://abc123.lambda-url.eu-west-1.on.aws/v1/provision?b=2&a=x%20y');
    const headers = await signLambdaRequest({
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(BODY)) },
      body: BODY,
      region: 'eu-west-1',
      credentials: CREDENTIALS,
      signingDate: DATE,
    });

    expect(headers.host).toBe('abc123.lambda-url.eu-west-1.on.aws');
    expect(headers['x-amz-content-sha256']).toBe(sha256(BODY));
    expect(headers['x-amz-date']).toBe('20260301T123456Z');
    expect(headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
    const signed = [
      'content-length',
      'content-type',
      'host',
      'x-amz-content-sha256',
      'x-amz-date',
      'x-amz-security-token',
    ];
    const signature = expectedSignature('POST', '/v1/provision', 'a=x%20y&b=2', headers, signed, 'eu-west-1');
    expect(headers.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260301/eu-west-1/lambda/aws4_request, ` +
        `SignedHeaders=${signed.join(';')}, Signature=${signature}`,
    );
    // the secret itself is never in what is sent
    expect(JSON.stringify(headers)).not.toContain(CREDENTIALS.secretAccessKey);
  });

  it('keeps a non-default port in the signed host, and signs no token for long-term keys', async () => {
    const headers = await signLambdaRequest({
      url: new URL('https://127.0.0.1:8443/'),
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BODY,
      region: 'us-east-1',
      credentials: { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey },
      signingDate: DATE,
    });
    expect(headers.host).toBe('127.0.0.1:8443');
    expect(headers['x-amz-security-token']).toBeUndefined();
    const signed = ['content-type', 'host', 'x-amz-content-sha256', 'x-amz-date'];
    expect(headers.authorization).toContain(`SignedHeaders=${signed.join(';')}, `);
    expect(headers.authorization).toContain(
      `Signature=${expectedSignature('POST', '/', '', headers, signed, 'us-east-1')}`,
    );
  });

  it('a different body, region or secret gives a different signature', async () => {
    const base = {
      url: new URL('https://abc123.lambda-url.eu-west-1.on.aws/'),
      method: 'POST',
      headers: {},
      body: BODY,
      region: 'eu-west-1',
      credentials: CREDENTIALS,
      signingDate: DATE,
    };
    const signature = async (change: Partial<typeof base>) =>
      /Signature=(\w+)/.exec((await signLambdaRequest({ ...base, ...change })).authorization ?? '')?.[1];
    const reference = await signature({});
    expect(await signature({ body: `${BODY} ` })).not.toBe(reference);
    expect(await signature({ region: 'eu-west-2' })).not.toBe(reference);
    expect(await signature({ credentials: { ...CREDENTIALS, secretAccessKey: 'other' } })).not.toBe(reference);
    expect(await signature({})).toBe(reference);
  });
});

describe('queryOf', () => {
  it('decodes names and values, keeps repeats and a literal plus', () => {
    expect(queryOf(new URL('https://h/?a=1&b=x%2Fy&a=2&c&d=1+1'))).toEqual({
      a: ['1', '2'],
      b: 'x/y',
      c: '',
      d: '1+1',
    });
    expect(queryOf(new URL('https://h/'))).toEqual({});
  });
});

describe('loadAwsCredentials', () => {
  it('returns what the chain found', async () => {
    expect(await loadAwsCredentials(undefined, async () => CREDENTIALS)).toBe(CREDENTIALS);
  });

  it('nothing found is a usage error saying what to set, naming the profile, never a secret', async () => {
    const failing = async () => {
      throw Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      });
    };
    const error = await loadAwsCredentials('edge-fleet', failing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TetherError);
    expect((error as TetherError).code).toBe('TETHER_ERR_USAGE');
    expect((error as Error).message).toMatch(/^no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/);
    expect((error as Error).message).toContain('(profile edge-fleet)');

    const empty = await loadAwsCredentials(undefined, async () => ({ accessKeyId: 'AKID', secretAccessKey: '' })).catch(
      (e: unknown) => e,
    );
    expect((empty as Error).message).toMatch(/^no AWS credentials/);
    expect((empty as Error).message).not.toContain('AKID');
  });
});
