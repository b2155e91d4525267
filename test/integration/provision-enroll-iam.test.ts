import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { REDACT_PATHS } from '@tether/node-shared/logging';
import { startAgent } from '@tether/test-helpers/agent-process';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { makeTlsFixture } from '@tether/test-helpers/tls-fixture';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { optionsFromEnvironment } from '../../cloud/src/lambda/environment.js';
import { createHandler } from '../../cloud/src/lambda/handler.js';
import { AwsIotProvider } from '../../cloud/src/providers/aws-iot.js';
import { FakeAwsIot, REGION } from '../../cloud/test/helpers/fake-aws-iot.js';
import { signLambdaRequest } from '../../edge-agent/src/cli/enroll-sigv4.js';
import { type FunctionUrlStandIn, startFunctionUrlStandIn } from './function-url-stand-in.js';

/**
 * `tether-agent enroll` against the provisioning function as infra/ deploys it: a function URL with AuthType
 * AWS_IAM in front of the Lambda handler running with TETHER_AUTH=iam and the aws-iot provider. The URL is a
 * local stand-in that recomputes every request's SigV4 signature with the known test credentials (which the
 * enroll process gets from the standard AWS environment variables) and refuses what does not match; behind it
 * runs cloud's real handler, on the local AWS IoT stand-in.
 */
const td = new Teardown();
afterEach(() => td.run());

// test-only credentials: the stand-in knows them, nothing else does
const CREDENTIALS = {
  accessKeyId: 'AKIDTETHERENROLLTEST',
  secretAccessKey: 'tether/enroll+test+secret+key+0123456789ab',
  sessionToken: 'tether-enroll-test-session-token-IQoJb3JpZ2luX2VjE',
};
const THING = 'tether-gw-01';
const FLEET_TOKEN = 'a-fleet-token-that-must-not-be-sent';

interface Setup {
  root: string;
  ca: string;
  home: string;
  fake: FakeAwsIot;
  standIn: FunctionUrlStandIn;
  functionLog: string[];
}

async function setUp(): Promise<Setup> {
  const root = tempDir(td, 'tether-enroll-iam-');
  const tls = await makeTlsFixture(join(root, 'tls'));
  const home = join(root, 'home'); // an empty HOME: no ~/.aws of whoever runs the tests
  await mkdir(home);

  const fake = new FakeAwsIot();
  const client = await fake.start();
  td.add('fake AWS IoT', () => fake.stop());
  // the function as infra/ configures it (FUNCTION_ENV), its IoT client pointed at the local AWS IoT
  const functionLog: string[] = [];
  const logger = pino(
    { redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    { write: (line: string) => functionLog.push(line) },
  );
  const environment = {
    TETHER_PROVIDER: 'aws-iot',
    TETHER_AUTH: 'iam',
    TETHER_POLICY: JSON.stringify({ publish: ['tether/{thing}/#'], subscribe: ['tether/{thing}/#'] }),
    TETHER_THING_PREFIX: 'tether-',
    TETHER_API_URL: fake.url,
  };
  const options = await optionsFromEnvironment(environment, logger);
  expect(options.auth).toBe('iam');
  const invoke = createHandler({ ...options, provider: new AwsIotProvider({ client }) });

  const standIn = await startFunctionUrlStandIn({
    tls: { cert: await readFile(tls.server.cert, 'utf8'), key: await readFile(tls.server.key, 'utf8') },
    region: REGION,
    credentials: CREDENTIALS,
    invoke,
    functionLog: () => functionLog.join(''),
    teardown: td,
  });
  return { root, ca: tls.ca, home, fake, standIn, functionLog };
}

/** The environment of an enroll process: no AWS settings of the host, an empty HOME, no instance metadata. */
function cleanEnv(home: string, extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) env[name] = undefined;
  return {
    ...env,
    TETHER_ENROLL_TOKEN: undefined,
    HOME: home,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}

const awsEnv = (secretAccessKey = CREDENTIALS.secretAccessKey) => ({
  AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: secretAccessKey,
  AWS_SESSION_TOKEN: CREDENTIALS.sessionToken,
  AWS_REGION: REGION,
});

async function enroll(s: Setup, out: string, env: Record<string, string | undefined>, extra: string[] = []) {
  const args = ['enroll', '--url', s.standIn.url, '--ca', s.ca, '--thing', THING, '--out', out, ...extra];
  const proc = await startAgent({ args, env, teardown: td });
  const exit = await proc.waitForExit(30_000);
  return { code: exit.code, stdout: proc.stdout(), stderr: proc.stderr(), output: proc.output() };
}

const IAM = ['--auth', 'iam', '--region', REGION];

/** The base64 body of a PEM, as it would appear in a log that leaked it. */
const pemBody = (pem: string) =>
  pem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');

/** POSTs `body` to the stand-in with `headers` (a test's own client, to probe what it refuses). */
function rawPost(url: string, ca: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, { method: 'POST', ca, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('enroll against an IAM-authorized function URL', () => {
  it('the signed request enrolls the device; its key never leaves it and no secret is printed', async () => {
    const s = await setUp();
    const out = join(s.root, 'gw-01');

    // TETHER_ENROLL_TOKEN is set too: with IAM it must not be sent
    const ok = await enroll(s, out, cleanEnv(s.home, { ...awsEnv(), TETHER_ENROLL_TOKEN: FLEET_TOKEN }), IAM);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.stdout).toContain(`enrolled thing ${THING} (AWS IAM, SigV4 for lambda in ${REGION}); bundle in ${out}`);

    // one request, signed for lambda in the region with the session token, and let through to the function
    expect(s.standIn.requests).toHaveLength(1);
    const [sent] = s.standIn.requests;
    expect(sent?.status).toBe(200);
    expect(sent?.refused).toBeUndefined();
    expect(sent?.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${CREDENTIALS.accessKeyId}/\\d{8}/${REGION}/lambda/aws4_request, `),
    );
    expect(sent?.headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
    expect(s.fake.operations()).toContain('CreateCertificateFromCsr');

    // the bundle: for this thing, signed from the device's CSR, the key made here and 0600
    const manifest = JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8'));
    expect(manifest).toMatchObject({ thing: THING, provider: 'aws-iot', keyOnDevice: true });
    expect((await stat(join(out, 'client.key'))).mode & 0o777).toBe(0o600);
    expect((await readdir(out)).sort()).toEqual(['bundle.json', 'ca.pem', 'client.key', 'client.pem', 'service.yml']);

    // the key's private part (past the 36-byte PKCS#8 header every P-256 key shares) is in no request
    // and no log line; the request log does hold the bodies (the CSR is there)
    const key = pemBody(await readFile(join(out, 'client.key'), 'utf8'));
    const secretPart = key.slice(48, 64);
    const log = s.standIn.logText();
    expect(log).toContain('BEGIN CERTIFICATE REQUEST');
    expect(log).not.toContain(secretPart);
    expect(log).not.toContain(CREDENTIALS.secretAccessKey);
    expect(log).not.toContain(FLEET_TOKEN);
    expect(log).not.toContain('Bearer');
    // and the enroll process printed no secret
    for (const secret of [secretPart, CREDENTIALS.secretAccessKey, CREDENTIALS.sessionToken, CREDENTIALS.accessKeyId]) {
      expect(ok.output).not.toContain(secret);
    }
  });

  it('a wrong secret key is refused (403) by the URL; enroll names IAM and writes nothing', async () => {
    const s = await setUp();
    const out = join(s.root, 'gw-01');
    const wrongSecret = 'not-the-secret-key-of-this-access-key-id0';

    const refused = await enroll(s, out, cleanEnv(s.home, awsEnv(wrongSecret)), IAM);

    expect(refused.code).toBe(1);
    expect(s.standIn.requests.map((r) => [r.status, r.refused])).toEqual([[403, 'signature mismatch']]);
    expect(refused.stderr).toContain('TETHER_ERR_FORBIDDEN: enrollment refused (HTTP 403) by AWS IAM');
    expect(refused.stderr).toContain('The request signature we calculated does not match');
    expect(refused.stderr).toContain('lambda:InvokeFunctionUrl');
    expect(refused.stderr).toContain('EnrollPolicy');
    expect(refused.stderr).toContain(`signed for region ${REGION} (from --region), service lambda`);
    expect(refused.output).not.toContain(wrongSecret);
    expect(s.fake.operations()).toEqual([]); // the function never ran
    await expect(stat(out)).rejects.toThrow();
  });

  it('an unsigned request is refused (403), and enroll --auth token says the URL wants IAM', async () => {
    const s = await setUp();
    const out = join(s.root, 'gw-01');

    const unsigned = await enroll(s, out, cleanEnv(s.home, { TETHER_ENROLL_TOKEN: FLEET_TOKEN }), ['--auth', 'token']);

    expect(unsigned.code).toBe(1);
    expect(s.standIn.requests.map((r) => [r.status, r.refused])).toEqual([[403, 'not a SigV4 Authorization header']]);
    expect(unsigned.stderr).toContain('enrollment refused (HTTP 403): Forbidden');
    expect(unsigned.stderr).toContain('--auth iam');
    await expect(stat(out)).rejects.toThrow();
  });

  it('the stand-in refuses what AWS would: no signature, a body changed after signing, an unsigned session token', async () => {
    const s = await setUp();
    const ca = await readFile(s.ca, 'utf8');
    const url = new URL(s.standIn.url);
    const body = JSON.stringify({ thing: 'tether-probe' });
    const sign = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
      signLambdaRequest({
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        region: REGION,
        credentials,
      });

    const none = await rawPost(s.standIn.url, ca, { 'content-type': 'application/json' }, body);
    expect([none.status, JSON.parse(none.text)]).toEqual([403, { Message: 'Forbidden' }]);
    const swapped = await rawPost(s.standIn.url, ca, await sign(CREDENTIALS), JSON.stringify({ thing: 'tether-x' }));
    expect(swapped.status).toBe(403);
    const noToken = await rawPost(
      s.standIn.url,
      ca,
      await sign({ accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey }),
      body,
    );
    expect(noToken.status).toBe(403);
    expect(s.standIn.requests.map((r) => r.refused)).toEqual([
      'no Authorization header',
      "the body's hash does not match x-amz-content-sha256",
      'unsigned x-amz-security-token',
    ]);
    // and a good signature goes through to the function (a request without a CSR: AWS makes the key)
    const good = await rawPost(s.standIn.url, ca, await sign(CREDENTIALS), body);
    expect(good.status, good.text).toBe(200);
    expect(s.fake.operations()).toContain('CreateKeysAndCertificate');
  });

  it('no credentials anywhere, or no region, is a clear error (exit 2) before any key is made', async () => {
    const s = await setUp();
    const out = join(s.root, 'gw-01');

    const started = Date.now();
    const none = await enroll(s, out, cleanEnv(s.home), IAM);
    expect(none.code, none.output).toBe(2);
    expect(none.stderr).toContain(
      'tether-agent: no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    );
    expect(Date.now() - started).toBeLessThan(15_000);

    const profile = await enroll(s, out, cleanEnv(s.home), [...IAM, '--profile', 'edge-fleet']);
    expect(profile.code).toBe(2);
    expect(profile.stderr).toMatch(/no AWS credentials: .*\(profile edge-fleet/);

    const noRegion = await enroll(s, out, cleanEnv(s.home, { ...awsEnv(), AWS_REGION: '' }), ['--auth', 'iam']);
    expect(noRegion.code).toBe(2);
    expect(noRegion.stderr).toContain('cannot work out the AWS region to sign for');
    expect(noRegion.stderr).toContain('pass --region REGION');

    expect(s.standIn.requests).toEqual([]);
    await expect(stat(out)).rejects.toThrow();
  });
});
