import { TetherError } from '@tether/shared';
import { describe, expect, it } from 'vitest';
import {
  type EnrollAuthFlags,
  functionUrlRegion,
  iamRefusalMessage,
  noCredentialsMessage,
  resolveEnrollAuth,
} from '../../src/cli/enroll-auth.js';

const FUNCTION_URL = new URL('https://abcdefghij0123456789klmnop.lambda-url.eu-central-1.on.aws/');
const SERVE_URL = new URL('https://ca.example.com:8443/v1/provision');
const NO_ENV = {};

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TetherError);
    expect((error as TetherError).code).toBe('TETHER_ERR_USAGE');
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('functionUrlRegion', () => {
  it.each([
    ['abcdefghij0123456789klmnop.lambda-url.eu-west-1.on.aws', 'eu-west-1'],
    ['ABCDEF.LAMBDA-URL.US-EAST-1.ON.AWS', 'us-east-1'],
    ['abc.lambda-url.ap-southeast-2.on.aws.', 'ap-southeast-2'],
    ['abc.lambda-url.us-gov-west-1.on.aws', 'us-gov-west-1'],
    ['abc.lambda-url.cn-north-1.on.aws', 'cn-north-1'],
  ])('%s is a function URL in %s', (host, region) => {
    expect(functionUrlRegion(host)).toBe(region);
  });

  it.each([
    'ca.example.com',
    '127.0.0.1',
    'lambda-url.eu-west-1.on.aws', // no url id
    'abc.lambda-url.eu-west-1.on.aws.example.com', // a look-alike under another domain
    'abc.def.lambda-url.eu-west-1.on.aws', // a sub-domain of one
    'abc.lambda-url.eu_west_1.on.aws',
    'abc.lambda-url.west.on.aws', // not a region's shape
    'abc.lambda.eu-west-1.amazonaws.com',
  ])('%s is not', (host) => {
    expect(functionUrlRegion(host)).toBeUndefined();
  });

  it('reads the host of a URL object (port and path do not matter)', () => {
    expect(functionUrlRegion(new URL('https://abc.lambda-url.sa-east-1.on.aws:443/v1/provision?x=1').hostname)).toBe(
      'sa-east-1',
    );
  });
});

describe('resolveEnrollAuth', () => {
  const resolve = (url: URL, flags: EnrollAuthFlags, env: NodeJS.ProcessEnv = NO_ENV) =>
    resolveEnrollAuth(url, flags, env);

  it('signs with IAM for a function URL, in its region, without being asked', () => {
    expect(resolve(FUNCTION_URL, {})).toEqual({ kind: 'iam', region: 'eu-central-1', regionFrom: 'the URL' });
    // the URL's region wins over the environment's: it is where the function is
    expect(resolve(FUNCTION_URL, {}, { AWS_REGION: 'us-east-1' })).toMatchObject({ region: 'eu-central-1' });
  });

  it('sends the token to any other URL unless --auth iam', () => {
    expect(resolve(SERVE_URL, {}, { AWS_REGION: 'eu-west-1' })).toEqual({ kind: 'token' });
    expect(resolve(SERVE_URL, { auth: 'token' })).toEqual({ kind: 'token' });
    // a function URL deployed with AuthType NONE and TETHER_AUTH=token
    expect(resolve(FUNCTION_URL, { auth: 'token', tokenFile: 't' })).toEqual({ kind: 'token' });
  });

  it('--auth iam elsewhere takes --region, then AWS_REGION, then AWS_DEFAULT_REGION', () => {
    expect(resolve(SERVE_URL, { auth: 'iam', region: 'eu-west-1' }, { AWS_REGION: 'us-east-1' })).toEqual({
      kind: 'iam',
      region: 'eu-west-1',
      regionFrom: '--region',
    });
    expect(resolve(SERVE_URL, { auth: 'iam' }, { AWS_REGION: 'us-east-2', AWS_DEFAULT_REGION: 'us-west-2' })).toEqual({
      kind: 'iam',
      region: 'us-east-2',
      regionFrom: 'AWS_REGION',
    });
    expect(resolve(SERVE_URL, { auth: 'iam' }, { AWS_REGION: '', AWS_DEFAULT_REGION: 'us-west-2' })).toMatchObject({
      region: 'us-west-2',
      regionFrom: 'AWS_DEFAULT_REGION',
    });
  });

  it('no region to be had is a usage error that says what to pass', () => {
    const message = usageError(() => resolve(SERVE_URL, { auth: 'iam' }));
    expect(message).toContain('cannot work out the AWS region');
    expect(message).toContain('ca.example.com:8443 is not a Lambda function URL');
    expect(message).toContain('--region');
  });

  it('--region overrides the URL, with a warning when they differ', () => {
    expect(resolve(FUNCTION_URL, { region: 'eu-central-1' })).toEqual({
      kind: 'iam',
      region: 'eu-central-1',
      regionFrom: '--region',
    });
    const other = resolve(FUNCTION_URL, { region: 'us-east-1' });
    expect(other).toMatchObject({ kind: 'iam', region: 'us-east-1', regionFrom: '--region' });
    expect(other.kind === 'iam' && other.warning).toContain("differs from the function URL's region eu-central-1");
  });

  it('passes --profile on', () => {
    expect(resolve(FUNCTION_URL, { profile: 'fleet-admin' })).toEqual({
      kind: 'iam',
      region: 'eu-central-1',
      regionFrom: 'the URL',
      profile: 'fleet-admin',
    });
    expect(resolve(SERVE_URL, { auth: 'iam', region: 'eu-west-1', profile: 'a.b@c' })).toMatchObject({
      profile: 'a.b@c',
    });
  });

  it.each<[EnrollAuthFlags, URL, RegExp]>([
    [{ auth: 'sigv4' }, FUNCTION_URL, /--auth: expected token or iam, got "sigv4"/],
    [{ auth: 'iam', region: 'Europe' }, SERVE_URL, /--region: "Europe" is not an AWS region/],
    [{ region: 'eu-west-1' }, SERVE_URL, /--region goes with --auth iam/],
    [{ auth: 'token', profile: 'p' }, FUNCTION_URL, /--profile goes with --auth iam/],
    [{ profile: 'has space' }, FUNCTION_URL, /--profile: "has space" is not an AWS profile name/],
    [
      { tokenFile: 'token.txt' },
      FUNCTION_URL,
      /--token-file: .* is a Lambda function URL, so enroll signs with AWS IAM/,
    ],
    [{ auth: 'iam', region: 'eu-west-1', tokenFile: 't' }, SERVE_URL, /--token-file: an IAM-authorized/],
  ])('refuses %j for %s', (flags, url, expected) => {
    expect(usageError(() => resolve(url, flags))).toMatch(expected);
  });

  it('refuses an AWS_REGION that is not a region, naming the variable', () => {
    expect(usageError(() => resolve(SERVE_URL, { auth: 'iam' }, { AWS_REGION: 'eu west 1' }))).toContain(
      'AWS_REGION: "eu west 1" is not an AWS region',
    );
  });
});

describe('messages', () => {
  const auth = { kind: 'iam', region: 'eu-west-1', regionFrom: '--region', profile: 'fleet' } as const;

  it('a 403 from the function URL names IAM, the actions and the EnrollPolicy', () => {
    const message = iamRefusalMessage(auth, { status: 403, message: 'Forbidden' });
    expect(message).toContain('enrollment refused (HTTP 403) by AWS IAM ("Forbidden")');
    expect(message).toContain('lambda:InvokeFunctionUrl');
    expect(message).toContain('lambda:InvokeFunction ');
    expect(message).toContain('EnrollPolicy');
    expect(message).toContain('region eu-west-1 (from --region), service lambda, profile fleet');
    expect(message).not.toContain('clock');
  });

  it('a 403 with the server ten minutes apart points at the clock', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    const message = iamRefusalMessage(auth, { status: 403, serverDate: 'Sun, 01 Mar 2026 11:50:00 GMT' }, now);
    expect(message).toContain("this device's clock is 10 minutes ahead");
  });

  it('no credentials: what to set, and the SDK reason unless it is the generic one', () => {
    const generic = noCredentialsMessage(undefined, new Error('Could not load credentials from any providers'));
    expect(generic).toBe(
      'no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), ' +
        'pass --profile NAME, or run with an instance or container role',
    );
    expect(noCredentialsMessage('edge', new Error('Profile edge could not be found\nstack…'))).toMatch(
      /role \(profile edge: Profile edge could not be found\)$/,
    );
  });
});
