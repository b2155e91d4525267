import { X509Certificate } from 'node:crypto';
import { createKeyAndCsr } from '@tether/node-shared/pki';
import { BridgeConfigSchema, expandPolicy, PolicySchema } from '@tether/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildBundle } from '../../src/core/bundle.js';
import { ProvisionStepError } from '../../src/core/errors.js';
import { policyName } from '../../src/core/policy-map.js';
import { AwsIotProvider } from '../../src/providers/aws-iot.js';
import { FAKE_ENDPOINT, FakeAwsIot } from '../helpers/fake-aws-iot.js';

const policy = PolicySchema.parse({
  publish: ['devices/{thing}/up/#'],
  subscribe: ['devices/{thing}/down', 'fleet/+/all'],
});
const WRITES = /^(Create|Attach|Detach|Update)/;

let fake: FakeAwsIot;
let provider: AwsIotProvider;

beforeEach(async () => {
  fake = new FakeAwsIot();
  provider = new AwsIotProvider({ client: await fake.start() });
});
afterEach(() => fake.stop());

describe('aws-iot provider against a local IoT API', () => {
  it('provisions from a CSR in the documented order; the key never leaves the device', async () => {
    // given a device's key and CSR
    const device = await createKeyAndCsr({ commonName: 'sensor-1' });
    // when the thing is planned and applied
    const plan = await provider.plan({ thing: 'sensor-1', policy, csrPem: device.csrPem });
    const provisioned = await provider.apply(plan);
    // then the calls are the sequence: reads first, then create, sign, policy, attach
    expect(fake.operations()).toEqual([
      'DescribeEndpoint',
      'DescribeThing',
      'GetPolicy',
      'CreateThing',
      'CreatePolicy',
      'CreateCertificateFromCsr',
      'AttachPolicy',
      'AttachThingPrincipal',
    ]);
    const csrCall = fake.recorder.requests.find((r) => r.path === '/certificates');
    expect(JSON.parse(csrCall?.body ?? '{}').certificateSigningRequest).toBe(device.csrPem);
    expect(csrCall?.query.setAsActive).toBe('true');
    for (const r of fake.recorder.requests) expect(r.body).not.toContain('PRIVATE KEY');
    // and the certificate is for the device's key, attached to the thing with the fleet policy
    const cert = new X509Certificate(provisioned.certificate?.certPem ?? '');
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(device.keyPem))).toBe(true);
    expect(provisioned).toMatchObject({
      clientId: 'sensor-1',
      keyOnDevice: true,
      endpoint: { host: FAKE_ENDPOINT, port: 8883 },
    });
    expect(provisioned.certificate?.keyPem).toBeUndefined();
    const arn = [...(fake.thingPrincipals.get('sensor-1') ?? [])][0] ?? '';
    expect(fake.policyTargets.get(policyName(policy))).toEqual(new Set([arn]));
  });

  it("writes an IoT policy scoped with the thing-name policy variable, in the thing's account and region", async () => {
    await provider.apply(await provider.plan({ thing: 'sensor-1', policy }));
    const doc = JSON.parse(fake.policies.get(policyName(policy)) ?? '{}');
    const thingVar = '$' + '{iot:Connection.Thing.ThingName}';
    const prefix = 'arn:aws:iot:eu-west-1:123456789012';
    expect(doc.Statement).toEqual([
      { Effect: 'Allow', Action: 'iot:Connect', Resource: [`${prefix}:client/${thingVar}`] },
      {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:RetainPublish'],
        Resource: [`${prefix}:topic/devices/${thingVar}/up/*`],
      },
      {
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: [`${prefix}:topicfilter/devices/${thingVar}/down`, `${prefix}:topicfilter/fleet/*/all`],
      },
      {
        Effect: 'Allow',
        Action: 'iot:Receive',
        Resource: [`${prefix}:topic/devices/${thingVar}/down`, `${prefix}:topic/fleet/*/all`],
      },
    ]);
  });

  it('CreateKeysAndCertificate mode: the bundle carries the key AWS made, and Amazon Root CA 1', async () => {
    const provisioned = await provider.apply(await provider.plan({ thing: 'sensor-2', policy }));
    expect(fake.operations()).toContain('CreateKeysAndCertificate');
    const files = buildBundle(provisioned, {
      hub: { address: 'tcp://127.0.0.1:1883' },
      topics: expandPolicy(policy, 'sensor-2'),
    });
    const cert = new X509Certificate(files['client.pem'] ?? '');
    const { createPrivateKey } = await import('node:crypto');
    expect(cert.checkPrivateKey(createPrivateKey(files['client.key'] ?? ''))).toBe(true);
    expect(new X509Certificate(files['ca.pem'] ?? '').subject).toContain('CN=Amazon Root CA 1');
    // the bundle's remote is the AWS IoT SDK adapter, as the agent reads it
    const service = parse(files['service.yml'] ?? '');
    expect(service.remotes[0]).toEqual({
      name: 'cloud',
      provider: 'aws-iot',
      endpoint: FAKE_ENDPOINT,
      port: 8883,
      thing: 'sensor-2',
      ca: 'ca.pem',
      cert: 'client.pem',
      key: 'client.key',
    });
    const remote = BridgeConfigSchema.parse(service).remotes[0];
    expect(remote).toMatchObject({
      provider: 'aws-iot',
      address: `ssl://${FAKE_ENDPOINT}:8883`,
      clientid: 'sensor-2',
      protocol: 5,
      maxqos: 1,
    });
  });

  it('port 443: the bundle asks the aws-iot adapter for 443 (it offers ALPN x-amzn-mqtt-ca there)', async () => {
    const on443 = new AwsIotProvider({ client: fake.client(), port: 443 });
    const provisioned = await on443.apply(await on443.plan({ thing: 'sensor-443', policy }));
    const files = buildBundle(provisioned, {
      hub: { address: 'tcp://127.0.0.1:1883' },
      topics: expandPolicy(policy, 'sensor-443'),
    });
    const remote = BridgeConfigSchema.parse(parse(files['service.yml'] ?? '')).remotes[0];
    expect(remote).toMatchObject({ provider: 'aws-iot', address: `ssl://${FAKE_ENDPOINT}:443` });
  });

  it('is idempotent: a re-run only reads, a second thing re-uses the fleet policy', async () => {
    await provider.apply(await provider.plan({ thing: 'sensor-1', policy }));
    const first = fake.operations().length;
    // when the same thing is planned again
    const again = await provider.plan({ thing: 'sensor-1', policy });
    // then it exists, every step says so, and nothing was written
    expect(again.exists).toBe(true);
    expect(again.steps.filter((s) => s.action === 'create')).toEqual([]);
    expect(
      fake
        .operations()
        .slice(first)
        .filter((op) => WRITES.test(op)),
    ).toEqual([]);
    await expect(provider.apply(again)).rejects.toMatchObject({ code: 'TETHER_ERR_EXISTS' });
    expect(fake.certificates.size).toBe(1);
    // and another thing with the same policy creates no second policy
    const before = fake.operations().length;
    await provider.apply(await provider.plan({ thing: 'sensor-3', policy }));
    const ops = fake.operations().slice(before);
    expect(ops).not.toContain('CreatePolicy');
    expect(ops).toEqual(expect.arrayContaining(['CreateThing', 'AttachPolicy', 'AttachThingPrincipal']));
    expect(fake.policies.size).toBe(1);
  });

  it('names the step that failed, with what AWS said', async () => {
    fake.failures.set('CreatePolicy', [400, 'MalformedPolicyException', 'Policy document is malformed']);
    const attempt = provider.apply(await provider.plan({ thing: 'sensor-4', policy }));
    await expect(attempt).rejects.toBeInstanceOf(ProvisionStepError);
    await expect(attempt).rejects.toThrow(
      /aws-iot: step CreatePolicy failed for thing sensor-4: MalformedPolicyException: Policy document is malformed \(HTTP 400\)/,
    );
    // no certificate was made before the failure, and a re-run after the fix finishes the job
    expect(fake.certificates.size).toBe(0);
    fake.failures.clear();
    const plan = await provider.plan({ thing: 'sensor-4', policy });
    expect(plan.steps.find((s) => s.id === 'thing')?.action).toBe('exists');
    await provider.apply(plan);
    expect(fake.certificates.size).toBe(1);
    expect(fake.thingPrincipals.get('sensor-4')?.size).toBe(1);
  });

  it('rotates: a new active certificate, the old one detached and INACTIVE; revoke makes it REVOKED', async () => {
    await provider.apply(await provider.plan({ thing: 'sensor-5', policy }));
    const [oldArn = ''] = fake.thingPrincipals.get('sensor-5') ?? [];
    const rotated = await provider.rotate({ thing: 'sensor-5', policy });
    const newId = rotated.certificate?.id ?? '';
    expect(fake.certificates.get(oldArn.slice(oldArn.lastIndexOf('/') + 1))?.status).toBe('INACTIVE');
    expect([...(fake.thingPrincipals.get('sensor-5') ?? [])]).toEqual([expect.stringContaining(newId)]);
    const revoked = await provider.revoke('sensor-5');
    expect(revoked.revoked).toEqual([expect.stringContaining(newId)]);
    expect(fake.certificates.get(newId)?.status).toBe('REVOKED');
    expect(fake.thingPrincipals.get('sensor-5')?.size).toBe(0);
  });
});

describe('aws-iot provider in the other partitions', () => {
  it.each([
    ['cn-north-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
  ])('in %s the policy names partition %s, as the thing ARN AWS returned', async (region, partition) => {
    const other = new FakeAwsIot({ region, partition });
    try {
      const china = new AwsIotProvider({ client: await other.start() });
      await china.apply(await china.plan({ thing: 'sensor-cn', policy }));
      const doc = JSON.parse(other.policies.get(policyName(policy)) ?? '{}');
      const resources: string[] = doc.Statement.flatMap((s: { Resource: string[] }) => s.Resource);
      for (const r of resources) expect(r).toMatch(new RegExp(`^arn:${partition}:iot:${region}:123456789012:`));
    } finally {
      await other.stop();
    }
  });
});

describe('aws-iot: a changed policy document reaches existing accounts', () => {
  /** What an older Tether wrote: the same filters (so the same name), without iot:RetainPublish. */
  function oldDocument(): string {
    const doc = JSON.parse(fake.policies.get(policyName(policy)) ?? '{}');
    for (const s of doc.Statement) if (Array.isArray(s.Action)) s.Action = 'iot:Publish';
    return JSON.stringify(doc);
  }

  it('a re-run plans an update and writes a new default version; the certificate stays', async () => {
    await provider.apply(await provider.plan({ thing: 'sensor-1', policy }));
    const name = policyName(policy);
    const old = oldDocument();
    fake.policies.set(name, old);
    fake.policyVersions.set(name, [{ id: '1', document: old, isDefault: true }]);
    // when the thing is planned again
    const plan = await provider.plan({ thing: 'sensor-1', policy });
    expect(plan.exists).toBe(true);
    expect(plan.steps.find((s) => s.id === 'policy')).toMatchObject({ action: 'update', call: 'CreatePolicyVersion' });
    const before = fake.operations().length;
    const steps = await provider.update?.(plan);
    // then the policy's default version is today's document, and nothing else was written
    expect(steps?.map((s) => s.id)).toEqual(['policy']);
    expect(
      fake
        .operations()
        .slice(before)
        .filter((op) => WRITES.test(op)),
    ).toEqual(['CreatePolicyVersion']);
    expect(fake.policies.get(name)).toContain('iot:RetainPublish');
    expect(fake.policyVersions.get(name)?.map((v) => [v.id, v.isDefault])).toEqual([
      ['1', false],
      ['2', true],
    ]);
    expect(fake.certificates.size).toBe(1);
    // and once up to date, a re-run plans nothing
    const again = await provider.plan({ thing: 'sensor-1', policy });
    expect(again.steps.find((s) => s.id === 'policy')?.action).toBe('exists');
  });

  it("prunes the oldest non-default version at AWS's limit of five", async () => {
    await provider.apply(await provider.plan({ thing: 'sensor-2', policy }));
    const name = policyName(policy);
    const old = oldDocument();
    fake.policies.set(name, old);
    fake.policyVersions.set(
      name,
      ['1', '2', '3', '4', '5'].map((id) => ({ id, document: old, isDefault: id === '3' })),
    );
    await provider.update?.(await provider.plan({ thing: 'sensor-2', policy }));
    expect(fake.operations()).toContain('DeletePolicyVersion');
    expect(fake.policyVersions.get(name)?.map((v) => [v.id, v.isDefault])).toEqual([
      ['2', false],
      ['3', false],
      ['4', false],
      ['5', false],
      ['6', true],
    ]);
  });
});

describe('aws-iot: partial failures and throttling', () => {
  it('a failure after the certificate was made rolls it back: nothing active is left, a re-run issues one', async () => {
    // given AWS throttling AttachThingPrincipal past the SDK's retries (one attempt here)
    fake.failures.set('AttachThingPrincipal', [429, 'ThrottlingException', 'Rate exceeded']);
    const attempt = provider.apply(await provider.plan({ thing: 'sensor-6', policy }));
    await expect(attempt).rejects.toThrow(/step AttachThingPrincipal failed for thing sensor-6: ThrottlingException/);
    // then the certificate this run made is detached from the policy, deactivated and deleted
    expect(fake.operations()).toEqual(
      expect.arrayContaining(['DetachPolicy', 'UpdateCertificate', 'DeleteCertificate']),
    );
    expect(fake.certificates.size).toBe(0);
    expect(fake.policyTargets.get(policyName(policy))?.size ?? 0).toBe(0);
    // and a re-run after the throttling ends issues exactly one certificate
    fake.failures.clear();
    await provider.apply(await provider.plan({ thing: 'sensor-6', policy }));
    expect(fake.certificates.size).toBe(1);
    expect(fake.thingPrincipals.get('sensor-6')?.size).toBe(1);
  });

  it("throttling is retried by the SDK's adaptive retry mode, as the CLI and the Lambda configure it", async () => {
    const adaptive = new AwsIotProvider({ client: fake.client({ retryMode: 'adaptive', maxAttempts: 4 }) });
    fake.throttle.set('CreateKeysAndCertificate', 2);
    const provisioned = await adaptive.apply(await adaptive.plan({ thing: 'sensor-7', policy }));
    expect(provisioned.certificate?.id).toBeDefined();
    expect(fake.operations().filter((op) => op === 'CreateKeysAndCertificate')).toHaveLength(3);
    expect(fake.certificates.size).toBe(1);
  });
});
