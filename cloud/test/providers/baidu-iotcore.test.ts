import { createHash } from 'node:crypto';
import { createCa, issueCertificate } from '@tether/node-shared/pki';
import { BridgeConfigSchema, expandPolicy, PolicySchema } from '@tether/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildBundle } from '../../src/core/bundle.js';
import { ProvisionStepError, RequestError } from '../../src/core/errors.js';
import { policyName } from '../../src/core/policy-map.js';
import { BaiduIotCoreProvider } from '../../src/providers/baidu-iotcore.js';
import { BAIDU_CREDENTIALS } from '../helpers/bce-auth-check.js';
import { FakeBaiduIotCore } from '../helpers/fake-baidu-iotcore.js';

const policy = PolicySchema.parse({ publish: ['t1', 'devices/{thing}/up'], subscribe: ['t2', 't1'] });
const hub = { address: 'tcp://127.0.0.1:1883' };
const base = '/v1/iotcore/tethercore';

let fake: FakeBaiduIotCore;
let apiUrl: string;
const make = (options: Partial<ConstructorParameters<typeof BaiduIotCoreProvider>[0]> = {}) =>
  new BaiduIotCoreProvider({ credentials: BAIDU_CREDENTIALS, apiUrl, iotCoreId: 'tethercore', ...options });

/** The bundle's bridge config as the agent loads it: the remote with its derived address and login. */
function agentRemote(files: Record<string, string | undefined>) {
  return BridgeConfigSchema.parse(parse(files['service.yml'] ?? '')).remotes[0];
}

beforeEach(async () => {
  fake = new FakeBaiduIotCore('tethercore');
  apiUrl = await fake.start();
});
afterEach(() => fake.stop());

describe('baidu-iotcore provider against a local IoT Core API', () => {
  it('creates the template, its topics and the device, every request signed; the bundle logs in as Baidu says', async () => {
    const provider = make();
    const provisioned = await provider.apply(await provider.plan({ thing: 'gw-1', policy }));
    const template = [...fake.templates.values()][0];
    expect(fake.recorder.calls()).toEqual([
      `GET ${base}/template/list`,
      `GET ${base}/device/gw-1`,
      `POST ${base}/template`,
      `POST ${base}/template/${template?.id}/policy`,
      `POST ${base}/template/${template?.id}/policy`,
      `POST ${base}/template/${template?.id}/policy`,
      `POST ${base}/device/new`,
    ]);
    expect(fake.badSignatures).toBe(0);
    // signed as IoTCoreClient signs (HEADERS_TO_SIGN = host, x-bce-date)
    for (const r of fake.recorder.requests) expect(r.headers.authorization).toMatch(/\/1800\/host;x-bce-date\//);
    // one template for the policy's content, {thing} as IoT Core's {deviceName}, t1 both ways in one topic
    expect(template?.name).toBe(policyName(policy));
    expect(template?.policies.map((p) => [p.topicFilter, p.permission])).toEqual([
      ['t1', 'ALL'],
      ['devices/{deviceName}/up', 'PUB'],
      ['t2', 'SUB'],
    ]);
    const device = fake.devices.get('gw-1');
    expect(device).toMatchObject({ templateId: template?.id, authType: 'SIGNATURE' });
    const secret = device?.secretKey ?? '';
    expect(secret.length).toBeGreaterThan(8);

    const files = buildBundle(provisioned, { hub, topics: expandPolicy(policy, 'gw-1') });
    // service.yml names the provider and carries the console's fields, the secret only there
    expect(parse(files['service.yml'] ?? '').remotes[0]).toEqual({
      name: 'cloud',
      provider: 'baidu-iotcore',
      iotcoreid: 'tethercore',
      region: 'gz',
      devicekey: 'gw-1',
      devicesecret: secret,
    });
    // and the agent derives Baidu's broker and the signed login from them (the document's formula)
    expect(agentRemote(files)).toMatchObject({
      address: 'ssl://tethercore.iot.gz.baidubce.com:1884',
      clientid: 'gw-1',
      username: 'thingidp@tethercore|gw-1|0|SHA256',
      password: createHash('sha256').update(`gw-1&0&SHA256${secret}`).digest('hex'),
      maxqos: 1,
    });
    const manifest = JSON.parse(files['bundle.json'] ?? '{}');
    expect(manifest).toMatchObject({
      provider: 'baidu-iotcore',
      auth: 'password',
      endpoint: { host: 'tethercore.iot.gz.baidubce.com', port: 1884, protocol: 'mqtts' },
      username: 'thingidp@tethercore|gw-1|0|SHA256',
    });
    expect(files['bundle.json']).not.toContain(secret);
    expect(files['ca.pem']).toBeUndefined(); // Baidu's server certificate chains to a public root
  });

  it('is idempotent: a re-run only reads; a second thing shares the template', async () => {
    const provider = make();
    await provider.apply(await provider.plan({ thing: 'gw-1', policy }));
    const before = fake.recorder.requests.length;
    const plan = await provider.plan({ thing: 'gw-1', policy });
    expect(plan.exists).toBe(true);
    expect(plan.steps.every((s) => s.action === 'exists')).toBe(true);
    expect(fake.recorder.requests.slice(before).every((r) => r.method === 'GET')).toBe(true);
    await expect(provider.apply(plan)).rejects.toMatchObject({ code: 'TETHER_ERR_EXISTS' });

    const second = fake.recorder.requests.length;
    await provider.apply(await provider.plan({ thing: 'gw-2', policy }));
    expect(fake.recorder.calls().slice(second)).not.toContain(`POST ${base}/template`);
    expect(fake.templates.size).toBe(1);
    expect([...fake.devices.keys()]).toEqual(['gw-1', 'gw-2']);
  });

  it('finds its template past the first page of the list', async () => {
    for (let i = 0; i < 150; i++) fake.addTemplate(`other-${i}`);
    const mine = fake.addTemplate(policyName(policy));
    const plan = await make().plan({ thing: 'gw-9', policy });
    expect(plan.steps.find((s) => s.id === 'template')?.action).toBe('exists');
    expect(fake.recorder.requests.filter((r) => r.path.endsWith('/template/list')).map((r) => r.query)).toEqual([
      { pageNo: '1', pageSize: '100' },
      { pageNo: '2', pageSize: '100' },
    ]);
    await make().apply(plan);
    expect(fake.devices.get('gw-9')?.templateId).toBe(mine.id);
  });

  it('names the failing step with what Baidu said; a re-run completes only what is missing', async () => {
    const provider = make();
    await provider.apply(await provider.plan({ thing: 'seed', policy }));
    const template = [...fake.templates.values()][0];
    // given a template whose last topic is missing (a run that stopped half way)
    template?.policies.pop();
    fake.failures.set(`POST ${base}/template/${template?.id}/policy`, [403, 'AccessDenied', 'no IoT Core rights']);
    const attempt = provider.apply(await provider.plan({ thing: 'gw-3', policy }));
    await expect(attempt).rejects.toBeInstanceOf(ProvisionStepError);
    await expect(attempt).rejects.toThrow(
      'baidu-iotcore: step AddPolicy failed for thing gw-3: BaiduApiError: AccessDenied: no IoT Core rights (HTTP 403)',
    );
    expect(fake.devices.has('gw-3')).toBe(false); // no secret was made and lost
    fake.failures.clear();
    const plan = await provider.plan({ thing: 'gw-3', policy });
    expect(plan.steps.filter((s) => s.action === 'create').map((s) => `${s.id} ${s.detail}`)).toEqual([
      'template-policy SUB t2',
      'device gw-3 (SIGNATURE)',
    ]);
    const done = await provider.apply(plan);
    expect(done.baiduIotCore?.deviceSecret).toBe(fake.devices.get('gw-3')?.secretKey);
    expect(template?.policies).toHaveLength(3);
  });

  it('a request signed with the wrong secret is refused by the service (the check can fail)', async () => {
    const provider = make({ credentials: { ...BAIDU_CREDENTIALS, secretAccessKey: 'wrong' } });
    await expect(provider.plan({ thing: 'gw-4', policy })).rejects.toThrow(
      /step GetTemplates failed.*signature does not match/,
    );
    expect(fake.badSignatures).toBe(1);
  });

  it('rotates the secret (the old one stops at Baidu); revoke deletes the device', async () => {
    const provider = make();
    const first = await provider.apply(await provider.plan({ thing: 'gw-5', policy }));
    const rotated = await provider.rotate({ thing: 'gw-5', policy });
    expect(fake.recorder.calls()).toContain(`PUT ${base}/device/gw-5/secret`);
    expect(rotated.baiduIotCore?.deviceSecret).toBe(fake.devices.get('gw-5')?.secretKey);
    expect(rotated.baiduIotCore?.deviceSecret).not.toBe(first.baiduIotCore?.deviceSecret);
    expect((await provider.describe('gw-5')).policies).toEqual(['ALL t1', 'PUB devices/{deviceName}/up', 'SUB t2']);
    expect(await provider.revoke('gw-5')).toMatchObject({ revoked: ['gw-5'] });
    expect(fake.devices.has('gw-5')).toBe(false);
    expect(await provider.revoke('gw-5')).toMatchObject({ revoked: [] });
    expect((await provider.describe('gw-5')).exists).toBe(false);
  });

  it('will not rotate a device whose template is not the policy’s: IoT Core cannot move it', async () => {
    const provider = make();
    await provider.apply(await provider.plan({ thing: 'gw-6', policy }));
    const changed = PolicySchema.parse({ publish: ['t1'] });
    await expect(provider.rotate({ thing: 'gw-6', policy: changed })).rejects.toThrow(
      /device gw-6 uses template \w+, not tether-\w+ of this policy.*revoke it and provision it again/,
    );
    expect(fake.recorder.calls()).not.toContain(`PUT ${base}/device/gw-6/secret`);
  });

  it('certificate devices: Baidu makes key and certificate; the bundle has them and no secret; a CSR is refused', async () => {
    const ca = await createCa({ commonName: 'Fake Baidu CA' });
    const pair = await issueCertificate(ca, { commonName: 'gw-7', usage: 'client' });
    fake.certificate = { clientCert: pair.certPem, privateKey: pair.keyPem };
    const provider = make({ auth: 'certificate', region: 'bj' });
    const provisioned = await provider.apply(await provider.plan({ thing: 'gw-7', policy }));
    expect(JSON.parse(fake.recorder.requests.at(-1)?.body ?? '{}')).toMatchObject({
      name: 'gw-7',
      authType: 'CERTIFICATE',
    });
    const files = buildBundle(provisioned, { hub, topics: expandPolicy(policy, 'gw-7') });
    expect(files['client.pem']).toBe(pair.certPem);
    expect(files['client.key']).toBe(pair.keyPem);
    const remote = agentRemote(files);
    expect(remote).toMatchObject({
      provider: 'baidu-iotcore',
      address: 'ssl://tethercore.iot.bj.baidubce.com:1884',
      cert: 'client.pem',
      key: 'client.key',
    });
    expect(remote?.password).toBeUndefined();
    expect(parse(files['service.yml'] ?? '').remotes[0].devicesecret).toBeUndefined();
    await expect(provider.plan({ thing: 'gw-8', policy, csrPem: 'x' })).rejects.toBeInstanceOf(RequestError);
  });

  it('refuses what IoT Core cannot hold before any call, naming the field and the filter', async () => {
    const many = PolicySchema.parse({ publish: Array.from({ length: 13 }, (_, i) => `f/${i}`) });
    const odd = PolicySchema.parse({ publish: ['$aws/things/{thing}/shadow/update', 'a/b/c/d/e/f'] });
    const problems = async (thing: string, p: typeof policy) => {
      const error = await make()
        .plan({ thing, policy: p })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RequestError);
      return (error as RequestError).problems;
    };
    expect(await problems('x'.repeat(41), policy)).toEqual([
      `thing: "${'x'.repeat(41)}" is not a Baidu IoT Core device name (1-40 letters, digits, "-" or "_")`,
    ]);
    expect(await problems('gw', many)).toEqual([
      'policy: 13 topic filters; a Baidu IoT Core template holds at most 12',
    ]);
    expect(await problems('gw', odd)).toEqual([
      'policy: "$aws/things/{thing}/shadow/update": an IoT Core template topic under $ must start with $iot/{thing}/',
      'policy: "a/b/c/d/e/f" has 6 levels; an IoT Core template topic outside $iot/{thing}/ has at most 5',
    ]);
    expect(fake.recorder.requests).toHaveLength(0);
  });
});
