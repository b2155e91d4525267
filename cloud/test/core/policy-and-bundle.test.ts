import { createCa, issueCertificate } from '@tether/node-shared/pki';
import {
  BridgeConfigSchema,
  BundleManifestSchema,
  expandPolicy,
  formatIssues,
  PolicySchema,
  ThingNameSchema,
} from '@tether/shared';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildBundle } from '../../src/core/bundle.js';
import { bridgeAddress, parseEndpoint } from '../../src/core/endpoint.js';
import { baiduPermissions, mosquittoAcl, policyName } from '../../src/core/policy-map.js';
import { parseProvisionBody } from '../../src/core/request.js';
import type { Provisioned } from '../../src/providers/provider.js';

const problemsOf = (data: unknown) => {
  const result = PolicySchema.safeParse(data);
  return result.success ? [] : formatIssues(result.error.issues);
};

describe('policy model', () => {
  it('expands {thing} and drops duplicates', () => {
    const policy = PolicySchema.parse({ publish: ['d/{thing}/up', 'd/{thing}/up', 'all'], subscribe: ['{thing}/#'] });
    expect(expandPolicy(policy, 'gw-1')).toEqual({ publish: ['d/gw-1/up', 'all'], subscribe: ['gw-1/#'] });
  });

  it('names each bad filter by its path', () => {
    expect(problemsOf({ publish: ['a/#/b'], subscribe: ['ok', 'x/{thingname}', 'bad\nline'] })).toEqual([
      'publish[0]: \'#\' must be the whole last level in "a/#/b"',
      'subscribe[1]: unknown placeholder in "x/{thingname}" (only {thing})',
      'subscribe[2]: control characters are not allowed in "bad\\nline"',
    ]);
    expect(problemsOf({})).toEqual(['(root): a policy needs at least one publish or subscribe filter']);
    expect(problemsOf({ pub: ['x'] })[0]).toMatch(/unrecognized key/i);
  });

  it('thing names are safe as client id, CN and URL segment', () => {
    for (const good of ['a', 'gw-1', 'A_b-9']) expect(ThingNameSchema.safeParse(good).success).toBe(true);
    for (const bad of ['', '-x', 'a/b', 'a b', 'a+', 'é', 'x'.repeat(129)])
      expect(ThingNameSchema.safeParse(bad).success).toBe(false);
  });

  it('maps to a Mosquitto ACL and Baidu permissions', () => {
    const topics = { publish: ['up', 'both'], subscribe: ['down', 'both'] };
    expect(mosquittoAcl([{ username: 'gw-1', ...topics }])).toContain(
      'user gw-1\ntopic readwrite both\ntopic write up\ntopic read down\n',
    );
    expect(baiduPermissions(topics)).toEqual([
      { topic: 'up', operations: ['PUBLISH'] },
      { topic: 'both', operations: ['PUBLISH', 'SUBSCRIBE'] },
      { topic: 'down', operations: ['SUBSCRIBE'] },
    ]);
  });

  it('names a policy by its content', () => {
    const a = PolicySchema.parse({ publish: ['x', 'y'] });
    expect(policyName(a)).toBe(policyName(PolicySchema.parse({ publish: ['y', 'x'] })));
    expect(policyName(a)).not.toBe(policyName(PolicySchema.parse({ publish: ['x'] })));
    expect(policyName(a)).toMatch(/^tether-[0-9a-f]{12}$/);
  });
});

describe('endpoints and requests', () => {
  it('parses mqtts://HOST:PORT', () => {
    expect(parseEndpoint('mqtts://broker.example.com:8884')).toEqual({
      host: 'broker.example.com',
      port: 8884,
      protocol: 'mqtts',
    });
    expect(parseEndpoint('ssl://[::1]:1')).toEqual({ host: '::1', port: 1, protocol: 'mqtts' });
    expect(parseEndpoint('mqtts://h')).toMatchObject({ port: 8883 });
    for (const bad of ['tcp://h:1', 'mqtts://h:0', 'mqtts://h:70000', 'h:1', 'mqtts://a b:1'])
      expect(parseEndpoint(bad)).toBeUndefined();
    expect(bridgeAddress({ host: '::1', port: 8883, protocol: 'mqtts' })).toBe('ssl://[::1]:8883');
  });

  it('a provisioning request names every bad field', () => {
    expect(() => parseProvisionBody('{')).toThrow(/\(body\): not JSON/);
    try {
      parseProvisionBody({ thing: 'a/b', csr: 5, extra: true });
      expect.unreachable();
    } catch (error) {
      const problems = (error as { problems: string[] }).problems;
      expect(problems.some((p) => p.startsWith('thing: '))).toBe(true);
      expect(problems.some((p) => p.startsWith('csr: '))).toBe(true);
      expect(problems.some((p) => /extra/.test(p))).toBe(true);
    }
    expect(parseProvisionBody('{"thing":"gw-1"}')).toEqual({ thing: 'gw-1', rotate: false });
  });
});

describe('bundle', () => {
  const topics = { publish: ['d/gw-1/up'], subscribe: ['d/gw-1/down'] };
  const hub = { address: 'tcp://127.0.0.1:1884', username: 'bridge', password: 'hub-secret' };

  async function provisioned(keyOnDevice: boolean): Promise<Provisioned> {
    const ca = await createCa({ commonName: 'ca' });
    const pair = await issueCertificate(ca, { commonName: 'gw-1', usage: 'client' });
    return {
      provider: 'local',
      thing: 'gw-1',
      endpoint: { host: 'broker', port: 8883, protocol: 'mqtts' },
      clientId: 'gw-1',
      username: 'gw-1',
      caPem: ca.certPem,
      certificate: { id: 'abc', certPem: pair.certPem, keyPem: keyOnDevice ? undefined : pair.keyPem },
      keyOnDevice,
      steps: [],
    };
  }

  it('service.yml is a valid bridge config: up what the thing may publish, down what it may subscribe', async () => {
    const files = buildBundle(await provisioned(false), { hub, topics });
    const config = BridgeConfigSchema.parse(parse(files['service.yml'] ?? ''));
    expect(config.hub).toMatchObject(hub);
    expect(config.remotes[0]).toMatchObject({
      address: 'ssl://broker:8883',
      clientid: 'gw-1',
      cert: 'client.pem',
      key: 'client.key',
    });
    expect(config.rules).toEqual([
      expect.objectContaining({
        hub: expect.objectContaining({ subscriptions: [expect.objectContaining({ topic: 'd/gw-1/up', qos: 1 })] }),
        remote: expect.objectContaining({
          name: 'cloud',
          subscriptions: [expect.objectContaining({ topic: 'd/gw-1/down' })],
        }),
      }),
    ]);
  });

  it("bundle.json is versioned and valid; in CSR mode the key is the device's", async () => {
    const withKey = buildBundle(await provisioned(false), { hub, topics, now: new Date('2026-01-02T03:04:05Z') });
    const manifest = BundleManifestSchema.parse(JSON.parse(withKey['bundle.json'] ?? ''));
    expect(manifest).toMatchObject({
      version: 1,
      provider: 'local',
      thing: 'gw-1',
      keyOnDevice: false,
      createdAt: '2026-01-02T03:04:05.000Z',
    });
    expect(manifest.certificate?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(withKey).sort()).toEqual(['bundle.json', 'ca.pem', 'client.key', 'client.pem', 'service.yml']);
    const csrMode = buildBundle(await provisioned(true), { hub, topics });
    expect(Object.keys(csrMode).sort()).toEqual(['bundle.json', 'ca.pem', 'client.pem', 'service.yml']);
    expect(BundleManifestSchema.parse(JSON.parse(csrMode['bundle.json'] ?? '')).keyOnDevice).toBe(true);
  });
});
