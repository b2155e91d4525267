import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createCa, issueCertificate, writePemFiles } from '@tether/node-shared/pki';
import { RemoteSchema } from '@tether/shared';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { classifyCrtError, describeCrtFailure, publishFailureOutcome } from '../../src/adapters/aws-iot-errors.js';
import {
  AMAZON_ROOT_CA_1_PATH,
  buildAwsIotClientConfig,
  loadAwsIotSdk,
  readAmazonRootCa1,
  releaseClosedClient,
} from '../../src/adapters/aws-iot-sdk.js';
import { createCloudAdapter } from '../../src/adapters/registry.js';

const ADDRESS = 'ssl://abc123-ats.iot.eu-west-1.amazonaws.com:8883';
const crt = (error_name: string) => ({ error: { error_name, message: `aws-c-io: ${error_name}` } });

describe('the Amazon Root CA 1 shipped with the agent', () => {
  it('is the certificate Amazon publishes (SHA-256 fingerprint)', () => {
    const ca = new X509Certificate(readAmazonRootCa1('remotes[0]'));
    expect(readFileSync(AMAZON_ROOT_CA_1_PATH, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(ca.subject).toContain('CN=Amazon Root CA 1');
    expect(ca.fingerprint256).toBe(
      '8E:CD:E6:88:4F:3D:87:B1:12:5B:A3:1A:C3:FC:B1:3D:70:16:DE:7F:57:CC:90:4F:E1:CB:97:C6:AE:98:19:6E',
    );
    expect(ca.ca).toBe(true);
  });
});

describe('describeCrtFailure: what the AWS SDK reports, as one actionable line', () => {
  it.each([
    [crt('AWS_IO_SOCKET_CONNECTION_REFUSED'), 'TETHER_ERR_CONNECT', /connection refused by ssl:\/\/abc123/],
    [crt('AWS_IO_DNS_INVALID_NAME'), 'TETHER_ERR_CONNECT', /cannot resolve the host/],
    [crt('AWS_IO_SOCKET_TIMEOUT'), 'TETHER_ERR_CONNECT', /timed out/],
    [
      crt('AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE'),
      'TETHER_ERR_TLS',
      /server certificate is not signed by the configured CA/,
    ],
    [crt('AWS_IO_TLS_ERROR_READ_FAILURE'), 'TETHER_ERR_TLS', /refused the client certificate/],
    [crt('AWS_IO_TLS_CTX_ERROR'), 'TETHER_ERR_TLS', /TLS with .* failed \(AWS_IO_TLS_CTX_ERROR\)/],
    [crt('AWS_ERROR_MQTT_UNEXPECTED_HANGUP'), 'TETHER_ERR_CONNECT', /connection to .* lost/],
    [crt('AWS_ERROR_SOMETHING_NEW'), 'TETHER_ERR_CONNECT', /failed \(AWS_ERROR_SOMETHING_NEW\)/],
  ])('%o → %s', (failure, code, message) => {
    const error = describeCrtFailure(failure, ADDRESS);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(ADDRESS);
  });

  it('reads a refused CONNACK and a server DISCONNECT by their MQTT 5 reason codes', () => {
    const refused = describeCrtFailure(
      { ...crt('AWS_ERROR_MQTT5_CONNACK_CONNECTION_REFUSED'), connackReason: 135, reasonString: 'policy' },
      ADDRESS,
    );
    expect(refused).toMatchObject({ code: 'TETHER_ERR_AUTH' });
    expect(refused.message).toBe(`${ADDRESS} refused the connection: not authorized: policy`);
    const kicked = describeCrtFailure(
      { ...crt('AWS_ERROR_MQTT5_DISCONNECT_RECEIVED'), disconnectReason: 142 },
      ADDRESS,
    );
    expect(kicked.message).toBe(`${ADDRESS} sent DISCONNECT: session taken over (0x8e)`);
  });
});

describe('the SDK is loaded only when an aws-iot remote starts', () => {
  it('building adapters does not load aws-crt; starting an aws-iot one does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tether-lazy-sdk-'));
    const ca = await createCa({ commonName: 'Lazy CA' });
    const pair = await writePemFiles(dir, 'client', await issueCertificate(ca, { commonName: 't', usage: 'client' }));
    // a fresh process, so nothing else in this worker has loaded the SDK already
    const script = `
      import { createRequire } from 'node:module';
      const { createCloudAdapter } = await import('./src/adapters/registry.ts');
      const { RemoteSchema } = await import('@tether/shared');
      const { pino } = await import('pino');
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('aws-crt'));
      const request = { clientId: 'edge-1', logger: pino({ level: 'silent' }), configDir: '.', field: 'remotes[0]' };
      const make = (r) => createCloudAdapter(RemoteSchema.parse(r), request);
      make({ name: 'plain', address: 'tcp://127.0.0.1:1' });
      make({ name: 'baidu', provider: 'baidu-iothub', endpoint: 'p', region: 'bj', thing: 't', password: 's' });
      const aws = make({ name: 'aws', provider: 'aws-iot', endpoint: '127.0.0.1', port: 1, thing: 't',
        cert: '${pair.certPath}', key: '${pair.keyPath}' });
      const before = loaded();
      await aws.start(new AbortController().signal);
      const after = loaded();
      await aws.stop(0);
      console.log(JSON.stringify({ before, after }));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: fileURLToPath(new URL('../../', import.meta.url)),
        timeout: 20_000,
      },
    );
    await rm(dir, { recursive: true, force: true });
    expect(JSON.parse(stdout.trim().split('\n').pop() ?? '{}')).toEqual({ before: false, after: true });
  }, 30_000);
});

describe('aws-iot start', () => {
  it("refuses a key that is not the certificate's, naming the field", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tether-aws-key-'));
    try {
      const ca = await createCa({ commonName: 'Key CA' });
      const one = await writePemFiles(dir, 'one', await issueCertificate(ca, { commonName: 'one', usage: 'client' }));
      const two = await writePemFiles(dir, 'two', await issueCertificate(ca, { commonName: 'two', usage: 'client' }));
      const remote = RemoteSchema.parse({
        name: 'aws',
        provider: 'aws-iot',
        endpoint: '127.0.0.1',
        port: 1,
        thing: 'one',
        cert: one.certPath,
        key: two.keyPath,
      });
      const request = { clientId: 'one', logger: pino({ level: 'silent' }), configDir: dir, field: 'remotes[2]' };
      const adapter = createCloudAdapter(remote, request);
      const failure = await adapter.start(new AbortController().signal).then(
        () => undefined,
        (error: unknown) => error,
      );
      await adapter.stop(0);
      expect(failure).toMatchObject({ code: 'TETHER_ERR_TLS' });
      expect((failure as Error).message).toMatch(/^remotes\[2\]: the AWS IoT SDK cannot use ca, cert and key/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("aws-crt's operation errors, from the SDK itself", () => {
  /** aws-c-mqtt's error code for a name (its codes are 5120..6143). */
  async function codeOf(name: string): Promise<number> {
    const { io } = await loadAwsIotSdk();
    for (let code = 5120; code < 6144; code++) if (io.error_code_to_name(code) === name) return code;
    throw new Error(`no aws-c-mqtt error ${name}`);
  }

  it('a packet the native client refuses (a plain Error, no name) is final: rejected, never retried', async () => {
    const sdk = await loadAwsIotSdk();
    // a client that is never started: the native call checks the packet before anything is sent
    const client = new sdk.mqtt5.Mqtt5Client({ hostName: '127.0.0.1', port: 1 });
    try {
      const wildcard = await client.publish({ topicName: 'up/#', qos: 1, payload: 'x' }).catch((e: unknown) => e);
      expect(wildcard).toBeInstanceOf(Error);
      expect((wildcard as { error_name?: string }).error_name).toBeUndefined();
      expect(classifyCrtError(wildcard).kind).toBe('refused');
      expect(publishFailureOutcome('aws', 'up/#', wildcard)).toMatchObject({
        status: 'rejected',
        error: { code: 'TETHER_ERR_PUBLISH', message: expect.stringMatching(/failure invoking native client publish/) },
      });
      const shared = await client
        .subscribe({ subscriptions: [{ topicFilter: '$share/g/down', qos: 1, noLocal: true }] })
        .catch((e: unknown) => e);
      expect(classifyCrtError(shared).kind).toBe('refused');
    } finally {
      client.close();
      releaseClosedClient(client);
    }
  });

  it('the string the completion callbacks reject with is read by its error name', async () => {
    const { io } = await loadAwsIotSdk();
    // what _s_on_puback_callback rejects with when the ack timeout expires
    const timeout = io.error_code_to_string(await codeOf('AWS_ERROR_MQTT_TIMEOUT'));
    expect(typeof timeout).toBe('string');
    expect(classifyCrtError(timeout)).toMatchObject({ name: 'AWS_ERROR_MQTT_TIMEOUT', kind: 'transient' });
    expect(publishFailureOutcome('aws', 'up/a', timeout).status).toBe('retryable');
    const invalid = io.error_code_to_string(await codeOf('AWS_ERROR_MQTT5_PUBLISH_OPTIONS_VALIDATION'));
    expect(publishFailureOutcome('aws', 'up/a', invalid).status).toBe('rejected');
    const offline = io.error_code_to_string(
      await codeOf('AWS_ERROR_MQTT5_OPERATION_FAILED_DUE_TO_OFFLINE_QUEUE_POLICY'),
    );
    expect(publishFailureOutcome('aws', 'up/a', offline).status).toBe('retryable');
  });

  it('a CrtError carries its name', async () => {
    const { CrtError } = (await import('aws-iot-device-sdk-v2')) as unknown as {
      CrtError: new (code: number) => Error & { error_name?: string };
    };
    const error = new CrtError(await codeOf('AWS_ERROR_MQTT5_PACKET_VALIDATION'));
    expect(classifyCrtError(error)).toMatchObject({ name: 'AWS_ERROR_MQTT5_PACKET_VALIDATION', kind: 'refused' });
  });

  it('the client is built with an ack timeout from the remote timeout', async () => {
    const sdk = await loadAwsIotSdk();
    const ca = await createCa({ commonName: 'Ack CA' });
    const pair = await issueCertificate(ca, { commonName: 't', usage: 'client' });
    const config = buildAwsIotClientConfig(sdk, {
      host: '127.0.0.1',
      port: 8883,
      clientId: 't',
      ca: ca.certPem,
      cert: pair.certPem,
      key: pair.keyPem,
      keepaliveSec: 60,
      clean: false,
      sessionExpirySec: 3600,
      timeoutMs: 30_000,
      ackTimeoutSec: 30,
      receiveMaximum: 100,
    });
    expect(config.ackTimeoutSeconds).toBe(30);
  });
});
