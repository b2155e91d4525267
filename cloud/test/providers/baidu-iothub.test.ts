import { createCa, issueCertificate } from '@tether/node-shared/pki';
import { expandPolicy, PolicySchema } from '@tether/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildBundle } from '../../src/core/bundle.js';
import { ProvisionStepError, RequestError } from '../../src/core/errors.js';
import { BaiduIotHubProvider, parseBaiduHostname } from '../../src/providers/baidu-iothub.js';
import { BAIDU_CREDENTIALS, FakeBaiduIotHub } from '../helpers/fake-baidu-iothub.js';

const policy = PolicySchema.parse({ publish: ['t1', 'devices/{thing}/up'], subscribe: ['t2', 't1'] });
const hub = { address: 'tcp://127.0.0.1:1883' };

let fake: FakeBaiduIotHub;
let apiUrl: string;
const make = (options: Partial<ConstructorParameters<typeof BaiduIotHubProvider>[0]> = {}) =>
  new BaiduIotHubProvider({ credentials: BAIDU_CREDENTIALS, apiUrl, endpointName: 'tetherep', ...options });

beforeEach(async () => {
  fake = new FakeBaiduIotHub();
  apiUrl = await fake.start();
});
afterEach(() => fake.stop());

describe('baidu-iothub provider against a local IoTHub API', () => {
  it('creates endpoint, thing, principal, policy, permissions and both attachments, every request signed', async () => {
    const provider = make();
    const provisioned = await provider.apply(await provider.plan({ thing: 'gw-1', policy }));
    expect(fake.recorder.calls()).toEqual([
      'GET /v1/endpoint/tetherep',
      'POST /v1/endpoint',
      'POST /v1/endpoint/tetherep/thing',
      'POST /v1/endpoint/tetherep/policy',
      'POST /v1/endpoint/tetherep/permission',
      'POST /v1/endpoint/tetherep/permission',
      'POST /v1/endpoint/tetherep/permission',
      'POST /v1/endpoint/tetherep/principal',
      'POST /v1/action/attach-thing-principal',
      'POST /v1/action/attach-principal-policy',
    ]);
    expect(fake.badSignatures).toBe(0);
    const body = (i: number) => JSON.parse(fake.recorder.requests[i]?.body ?? '{}');
    expect(body(2)).toEqual({ endpointName: 'tetherep', thingName: 'gw-1' });
    expect(body(7)).toEqual({ endpointName: 'tetherep', principalName: 'tether-gw-1' });
    // the policy model mapped to permissions: t1 both ways in one permission
    expect(fake.permissions.map((p) => [p.topic, p.operations])).toEqual([
      ['t1', ['PUBLISH', 'SUBSCRIBE']],
      ['devices/gw-1/up', ['PUBLISH']],
      ['t2', ['SUBSCRIBE']],
    ]);
    expect(fake.thingPrincipal.get('gw-1')).toBe('tether-gw-1');
    expect(fake.principalPolicy.get('tether-gw-1')).toBe('tether-gw-1');
    // and the bundle's bridge config logs in as endpoint/thing with the password Baidu returned
    const files = buildBundle(provisioned, { hub, topics: expandPolicy(policy, 'gw-1') });
    const remote = parse(files['service.yml'] ?? '').remotes[0];
    expect(remote).toMatchObject({
      address: 'ssl://tetherep.mqtt.iot.gz.baidubce.com:1884',
      clientid: 'gw-1',
      username: 'tetherep/gw-1',
      password: fake.principals.get('tether-gw-1')?.password,
      maxqos: 1,
    });
    expect(remote.cert).toBeUndefined();
    expect(JSON.parse(files['bundle.json'] ?? '{}')).toMatchObject({ auth: 'password', provider: 'baidu-iothub' });
  });

  it('is idempotent: a re-run only reads; a second thing re-uses the endpoint', async () => {
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
    expect(fake.recorder.calls().slice(second)).not.toContain('POST /v1/endpoint');
    expect(fake.things).toEqual(new Set(['gw-1', 'gw-2']));
  });

  it('names the failing step with what Baidu said; a re-run completes only what is missing', async () => {
    const provider = make();
    fake.failures.set('POST /v1/endpoint/tetherep/policy', [403, 'AccessDenied', 'the user has no IoT policy rights']);
    const attempt = provider.apply(await provider.plan({ thing: 'gw-3', policy }));
    await expect(attempt).rejects.toBeInstanceOf(ProvisionStepError);
    await expect(attempt).rejects.toThrow(
      'baidu-iothub: step CreatePolicy failed for thing gw-3: BaiduApiError: AccessDenied: the user has no IoT policy rights (HTTP 403)',
    );
    expect(fake.principals.size).toBe(0); // no password was made and lost
    // when the run is repeated after the fix, what exists is skipped and the rest is made
    fake.failures.clear();
    const plan = await provider.plan({ thing: 'gw-3', policy });
    expect(plan.steps.filter((s) => s.action === 'exists').map((s) => s.id)).toEqual(['endpoint', 'thing']);
    const done = await provider.apply(plan);
    expect(done.password).toBe(fake.principals.get('tether-gw-3')?.password);
  });

  it('resumes a principal whose attach failed: a new password, then the attachments', async () => {
    const provider = make();
    fake.failures.set('POST /v1/action/attach-thing-principal', [500, 'InternalError', 'try again']);
    await expect(provider.apply(await provider.plan({ thing: 'gw-8', policy }))).rejects.toThrow(
      /AttachThingToPrincipal/,
    );
    fake.failures.clear();
    const plan = await provider.plan({ thing: 'gw-8', policy });
    expect(plan.exists).toBe(false);
    expect(plan.steps.find((s) => s.id === 'principal')?.action).toBe('rotate');
    const done = await provider.apply(plan);
    expect(fake.recorder.calls()).toContain('POST /v1/endpoint/tetherep/principal/tether-gw-8');
    expect(done.password).toBe(fake.principals.get('tether-gw-8')?.password);
    expect(fake.thingPrincipal.get('gw-8')).toBe('tether-gw-8');
  });

  it('a request signed with the wrong secret is refused by the service (the check can fail)', async () => {
    const provider = make({ credentials: { ...BAIDU_CREDENTIALS, secretAccessKey: 'wrong' } });
    await expect(provider.plan({ thing: 'gw-4', policy })).rejects.toThrow(
      /step QueryEndpoint failed.*signature does not match/,
    );
    expect(fake.badSignatures).toBe(1);
  });

  it('rotates a password principal; revoke detaches and deletes it', async () => {
    const provider = make();
    const first = await provider.apply(await provider.plan({ thing: 'gw-5', policy }));
    const rotated = await provider.rotate({ thing: 'gw-5', policy });
    expect(rotated.password).toBeDefined();
    expect(rotated.password).not.toBe(first.password);
    expect(fake.recorder.calls()).toContain('POST /v1/endpoint/tetherep/principal/tether-gw-5');
    const revoked = await provider.revoke('gw-5');
    expect(revoked.revoked).toEqual(['tether-gw-5']);
    expect(fake.principals.has('tether-gw-5')).toBe(false);
    expect(fake.thingPrincipal.has('gw-5')).toBe(false);
  });

  it('certificate principals: Baidu makes key and certificate (?withCert=true); a CSR is refused', async () => {
    const ca = await createCa({ commonName: 'Fake Baidu CA' });
    const pair = await issueCertificate(ca, { commonName: 'gw-6', usage: 'client' });
    fake.certificate = { cert: pair.certPem, privateKey: pair.keyPem, clientCertCA: ca.certPem };
    const provider = make({ auth: 'certificate' });
    const provisioned = await provider.apply(await provider.plan({ thing: 'gw-6', policy }));
    expect(fake.recorder.requests.find((r) => r.path.endsWith('/principal') && r.method === 'POST')?.query).toEqual({
      withCert: 'true',
    });
    expect(provisioned.certificate).toMatchObject({ certPem: pair.certPem, keyPem: pair.keyPem });
    expect(provisioned.password).toBeUndefined();
    // the principal's clientCertCA is the bundle's ca.pem, and service.yml trusts it
    const files = buildBundle(provisioned, {
      hub: { address: 'tcp://127.0.0.1:1883' },
      topics: expandPolicy(policy, 'gw-6'),
    });
    expect(files['ca.pem']).toBe(ca.certPem);
    expect(parse(files['service.yml'] ?? '').remotes[0].ca).toBe('ca.pem');
    await expect(provider.plan({ thing: 'gw-7', policy, csrPem: 'x' })).rejects.toBeInstanceOf(RequestError);
  });
});

describe("Baidu's mqttTlsHostname, whatever form it takes", () => {
  it.each([
    ['ep.mqtt.iot.gz.baidubce.com', 'ep.mqtt.iot.gz.baidubce.com', 1884],
    ['ep.mqtt.iot.gz.baidubce.com:1884', 'ep.mqtt.iot.gz.baidubce.com', 1884],
    ['ssl://ep.mqtt.iot.gz.baidubce.com:1884', 'ep.mqtt.iot.gz.baidubce.com', 1884],
    ['ssl://ep.mqtt.iot.bj.baidubce.com', 'ep.mqtt.iot.bj.baidubce.com', 1884],
    ['mqtts://ep.mqtt.iot.gz.baidubce.com:8883/', 'ep.mqtt.iot.gz.baidubce.com', 8883],
    [' tcp://ep.mqtt.iot.gz.baidubce.com:1884 ', 'ep.mqtt.iot.gz.baidubce.com', 1884],
  ])('%j → %s:%d', (given, host, port) => {
    expect(parseBaiduHostname(given, 1884)).toEqual({ host, port, protocol: 'mqtts' });
  });
});
