import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { REDACT_PATHS } from '@tether/node-shared/logging';
import { createKeyAndCsr } from '@tether/node-shared/pki';
import { BundleFilesSchema, PolicySchema } from '@tether/shared';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tokenDigest, tokenMatches } from '../../src/api/tokens.js';
import { optionsFromEnvironment } from '../../src/lambda/environment.js';
import { createHandler, type HttpResult, handler } from '../../src/lambda/handler.js';
import { AwsIotProvider } from '../../src/providers/aws-iot.js';
import { LocalProvider } from '../../src/providers/local.js';
import { BAIDU_CREDENTIALS } from '../helpers/bce-auth-check.js';
import { FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeAwsIot, REGION } from '../helpers/fake-aws-iot.js';
import { FakeBaiduIotCore } from '../helpers/fake-baidu-iotcore.js';

const policy = PolicySchema.parse({ publish: ['devices/{thing}/up'], subscribe: ['devices/{thing}/down'] });
const TOKEN = 'fleet-token-value-0123456789';

/** A logger writing JSON lines into `lines`, with the same redaction as production. */
function captureLogger() {
  const lines: string[] = [];
  const logger = pino(
    { redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    { write: (l: string) => lines.push(l) },
  );
  return { logger, lines };
}

const http = (body: unknown, token?: string, base64 = false) => ({
  headers: { 'content-type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  isBase64Encoded: base64,
  body: base64 ? Buffer.from(JSON.stringify(body)).toString('base64') : JSON.stringify(body),
  requestContext: { http: { method: 'POST' } },
});

const td = new Teardown();
afterEach(() => td.run());
let dir: string;
beforeEach(() => {
  dir = tempDir(td, 'tether-lambda-');
});

/** The handler over a local CA in this test's dir, accepting the fleet token only. */
function localHandler(logger: ReturnType<typeof captureLogger>['logger']) {
  const provider = new LocalProvider({
    caDir: join(dir, 'ca'),
    endpoint: { host: '127.0.0.1', port: 8883, protocol: 'mqtts' },
  });
  return createHandler({
    provider,
    policy,
    logger,
    authorize: async (t) => ({ ok: tokenMatches(t, tokenDigest(TOKEN)) }),
  });
}

describe('provisioning handler (Lambda)', () => {
  it('answers an HTTP event with the bundle as JSON; the device key stays with the device', async () => {
    const { logger, lines } = captureLogger();
    const run = localHandler(logger);
    const device = await createKeyAndCsr({ commonName: 'gw-1' });

    const answer = (await run(http({ thing: 'gw-1', csr: device.csrPem }, TOKEN, true))) as HttpResult;

    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    const body = JSON.parse(answer.body);
    const files = BundleFilesSchema.parse(body.files);
    expect(Object.keys(files).sort()).toEqual(['bundle.json', 'ca.pem', 'client.pem', 'service.yml']);
    expect(new X509Certificate(files['client.pem'] ?? '').subject).toBe('CN=gw-1');
    expect(body).toMatchObject({
      thing: 'gw-1',
      provider: 'local',
      rotated: false,
      certificate: { sha256: expect.any(String) },
    });
    // one log line for the request: no CSR, no certificate body, no token
    const log = lines.join('');
    expect(log).toContain('"msg":"thing provisioned"');
    expect(log).not.toContain(TOKEN);
    expect(log).not.toContain('BEGIN');
  });

  it('refuses a wrong or missing token (403), a bad request naming the field (400), a second issue (409)', async () => {
    const { logger, lines } = captureLogger();
    const run = localHandler(logger);
    const status = async (event: unknown) => {
      const result = (await run(event)) as HttpResult;
      return [result.statusCode, JSON.parse(result.body).error?.code, JSON.parse(result.body).error?.problems];
    };
    expect(await status(http({ thing: 'gw-2' }, 'wrong-token'))).toEqual([403, 'TETHER_ERR_FORBIDDEN', undefined]);
    expect(await status(http({ thing: 'gw-2' }))).toEqual([403, 'TETHER_ERR_FORBIDDEN', undefined]);
    const [code, err, problems] = await status(http({ thing: '../etc', rotate: 'yes' }, TOKEN));
    expect([code, err]).toEqual([400, 'TETHER_ERR_REQUEST']);
    expect(problems).toEqual([expect.stringMatching(/^thing: /), expect.stringMatching(/^rotate: /)]);
    expect((await status(http({ thing: 'gw-2' }, TOKEN)))[0]).toBe(200);
    expect(await status(http({ thing: 'gw-2' }, TOKEN))).toEqual([409, 'TETHER_ERR_EXISTS', undefined]);
    const rotated = (await run(http({ thing: 'gw-2', rotate: true }, TOKEN))) as HttpResult;
    expect(JSON.parse(rotated.body)).toMatchObject({ rotated: true });
    expect(lines.join('')).not.toContain('wrong-token');
  });

  it('with AWS IoT: CreateKeysAndCertificate mode returns the key, CSR mode does not (direct invocation)', async () => {
    const fake = new FakeAwsIot();
    try {
      const provider = new AwsIotProvider({ client: await fake.start() });
      const { logger, lines } = captureLogger();
      const run = createHandler({ provider, policy, logger, authorize: async () => ({ ok: false }) });
      // a direct invocation is authorized by IAM: the token check does not apply
      const keys = (await run({ thing: 'aws-1' })) as Record<string, unknown> & { files: Record<string, string> };
      expect(keys.statusCode).toBe(200);
      expect(keys.files['client.key']).toMatch(/PRIVATE KEY/);
      const device = await createKeyAndCsr({ commonName: 'aws-2' });
      const csr = (await run({ thing: 'aws-2', csr: device.csrPem })) as Record<string, unknown> & {
        files: Record<string, string>;
      };
      expect(csr.statusCode).toBe(200);
      expect(csr.files['client.key']).toBeUndefined();
      expect(lines.join('')).not.toContain('PRIVATE KEY');
      // a failing step: 502 naming it
      fake.failures.set('AttachPolicy', [400, 'InvalidRequestException', 'nope']);
      const failed = (await run({ thing: 'aws-3' })) as Record<string, unknown> & { error: { message: string } };
      expect(failed.statusCode).toBe(502);
      expect(failed.error.message).toMatch(/step AttachPolicy failed for thing aws-3/);
    } finally {
      await fake.stop();
    }
  });

  it('the deployed handler reports a misconfigured environment by variable name', async () => {
    const saved = { ...process.env };
    try {
      process.env.TETHER_PROVIDER = 'gcp';
      process.env.TETHER_POLICY = '{"publish":["a/#/b"]}';
      delete process.env.TETHER_ENROLL_TOKEN_SHA256;
      const answer = (await handler(http({ thing: 'x' }, TOKEN))) as HttpResult;
      expect(answer.statusCode).toBe(500);
      expect(JSON.parse(answer.body).error.problems).toEqual([
        'TETHER_PROVIDER: expected aws-iot, baidu-iotcore or baidu-iothub',
        'TETHER_POLICY: publish[0]: \'#\' must be the whole last level in "a/#/b"',
        'TETHER_ENROLL_TOKEN_SHA256: required with TETHER_AUTH=token, 64 hex digits',
      ]);
    } finally {
      process.env = saved;
    }
  });

  it('baidu-iotcore from the environment: every missing variable named, then a bundle from IoT Core', async () => {
    const base = { TETHER_PROVIDER: 'baidu-iotcore', TETHER_POLICY: JSON.stringify(policy), TETHER_AUTH: 'iam' };
    await expect(
      optionsFromEnvironment({ ...base, TETHER_BAIDU_AUTH: 'password' }, pino({ level: 'silent' })),
    ).rejects.toMatchObject({
      problems: [
        'TETHER_IOTCORE_ID: required with TETHER_PROVIDER=baidu-iotcore',
        'BCE_ACCESS_KEY_ID: required with TETHER_PROVIDER=baidu-iotcore',
        'BCE_SECRET_ACCESS_KEY: required with TETHER_PROVIDER=baidu-iotcore',
        'TETHER_BAIDU_AUTH: expected signature or certificate',
      ],
    });
    const fake = new FakeBaiduIotCore('envcore');
    try {
      const env = {
        ...base,
        TETHER_IOTCORE_ID: 'envcore',
        TETHER_BAIDU_REGION: 'bj',
        TETHER_API_URL: await fake.start(),
        BCE_ACCESS_KEY_ID: BAIDU_CREDENTIALS.accessKeyId,
        BCE_SECRET_ACCESS_KEY: BAIDU_CREDENTIALS.secretAccessKey,
      };
      const { logger, lines } = captureLogger();
      const options = await optionsFromEnvironment(env, logger);
      expect(options.provider.name).toBe('baidu-iotcore');
      const answer = (await createHandler(options)({ thing: 'core-1' })) as Record<string, unknown>;
      expect(answer.statusCode).toBe(200);
      const files = BundleFilesSchema.parse(answer.files);
      expect(files['service.yml']).toMatch(/provider: baidu-iotcore\n\s+iotcoreid: envcore\n\s+region: bj/);
      const secret = fake.devices.get('core-1')?.secretKey ?? '';
      expect(files['service.yml']).toContain(`devicesecret: ${secret}`);
      expect(lines.join('\n')).not.toContain(secret);
    } finally {
      await fake.stop();
    }
  });

  it('the deployed handler, configured from the environment, provisions at AWS IoT with the token', async () => {
    const fake = new FakeAwsIot();
    const saved = { ...process.env };
    try {
      await fake.start();
      Object.assign(process.env, {
        TETHER_PROVIDER: 'aws-iot',
        TETHER_POLICY: JSON.stringify({ publish: ['devices/{thing}/up'] }),
        TETHER_ENROLL_TOKEN_SHA256: tokenDigest(TOKEN),
        TETHER_HUB: 'tcp://127.0.0.1:11883',
        TETHER_THING_PREFIX: 'env-',
        TETHER_API_URL: fake.url,
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: FAKE_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: FAKE_SECRET_KEY,
      });
      const refused = (await handler(http({ thing: 'env-1' }, 'not-the-token'))) as HttpResult;
      expect(refused.statusCode).toBe(403);
      const outside = (await handler(http({ thing: 'other-1' }, TOKEN))) as HttpResult;
      expect(outside.statusCode).toBe(400);
      expect(JSON.parse(outside.body).error.problems).toEqual([
        'thing: must start with "env-" (this function manages only those things)',
      ]);
      const answer = (await handler(http({ thing: 'env-1' }, TOKEN))) as HttpResult;
      expect(answer.statusCode).toBe(200);
      const files = BundleFilesSchema.parse(JSON.parse(answer.body).files);
      expect(files['service.yml']).toContain('address: tcp://127.0.0.1:11883');
      expect(fake.operations()).toContain('CreateKeysAndCertificate');
    } finally {
      process.env = saved;
      await fake.stop();
    }
  });
});
