import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueCertificate, writePemFiles } from '@tether/node-shared/pki';
import { type AgentProcess, startAgent } from '@tether/test-helpers/agent-process';
import { type MosquittoProcess, startMosquitto } from '@tether/test-helpers/mosquitto';
import { collectMessages, connectClient } from '@tether/test-helpers/mqtt-clients';
import { SEED_LOGIN } from '@tether/test-helpers/seed';
import { readMetric } from '@tether/test-helpers/sequence';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type Front, startAlpnFront, startWebSocketFront } from './provider-fronts.js';
import { type SeedLayout, writeSeedLayout } from './seed-setup.js';

/**
 * Issue #4: one set of rules (the seed's: t1 hub → cloud, t2 cloud → hub, QoS 1), and the same
 * traffic through every provider against a Mosquitto configured like that cloud. Between cases
 * only `provider:` and the connection fields of `remotes[0]` change; the embedded hub, the rules
 * and the remote's name (`iothub`) stay.
 */
const td = new Teardown();
afterEach(() => td.run());

const THING = 'remote-iothub-1'; // the CN of the seed's client certificate
const BAIDU_USER = `tether-ep/${THING}`;

interface Site {
  readonly root: string;
  readonly seed: SeedLayout;
  /** The cloud application's client certificate (CN cloud-app). */
  readonly app: { readonly cert: string; readonly key: string };
}

interface Cloud {
  readonly broker: MosquittoProcess;
  /** remotes[0] but for its name. */
  readonly remote: Record<string, unknown>;
  /** An application at the cloud, allowed everything. */
  app(): Promise<MqttClient>;
  readonly front?: Front;
}

async function site(): Promise<Site> {
  const root = tempDir(td, 'tether-providers-');
  const seed = await writeSeedLayout(root);
  const app = await writePemFiles(
    join(root, 'var/db/baetyl/cert'),
    'cloud-app',
    await issueCertificate(seed.certs.pems.ca, { commonName: 'cloud-app', usage: 'client' }),
  );
  return { root, seed, app: { cert: app.certPath, key: app.keyPath } };
}

/** Access as a cloud would grant it: the agent's identity may publish t1 and read t2 only. */
const acl = (agentUser: string) =>
  [`user ${agentUser}`, 'topic write t1', 'topic read t2', 'user cloud-app', 'topic readwrite #'].join('\n');

/** Mosquitto with mutual TLS on the seed's remote port. */
function mtlsBroker(s: Site, opts: { identityIsUsername: boolean; agentUser: string }): Promise<MosquittoProcess> {
  const { certs } = s.seed;
  return startMosquitto({
    dir: join(s.root, 'cloud'),
    port: s.seed.remotePort,
    tls: {
      ca: certs.ca,
      cert: certs.server.cert,
      key: certs.server.key,
      requireCertificate: true,
      useIdentityAsUsername: opts.identityIsUsername,
    },
    acl: acl(opts.agentUser),
    // with the identity as username every client has one; otherwise the username sent decides the ACL
    allowAnonymous: !opts.identityIsUsername,
    extraConf: 'max_packet_size 1048576',
    teardown: td,
  });
}

/** Mosquitto on plain TCP with password logins, behind a front. */
function passwordBroker(s: Site, agentUser: string, agentPassword: string): Promise<MosquittoProcess> {
  return startMosquitto({
    dir: join(s.root, 'cloud'),
    users: { [agentUser]: agentPassword, 'cloud-app': 'app-secret' },
    acl: acl(agentUser),
    teardown: td,
  });
}

const tlsApp = (s: Site, broker: MosquittoProcess, protocolVersion: 4 | 5, username?: string) => () =>
  connectClient(broker.url, {
    clientId: 'cloud-app',
    protocolVersion,
    ...(username ? { username } : {}),
    tlsFiles: { ca: s.seed.certs.ca, ...s.app },
    teardown: td,
  });

const passwordApp = (broker: MosquittoProcess) => () =>
  connectClient(broker.url, { clientId: 'cloud-app', username: 'cloud-app', password: 'app-secret', teardown: td });

type CloudCase = (s: Site) => Promise<Cloud>;

const certFiles = (s: Site) => ({
  ca: s.seed.certs.ca,
  cert: s.seed.certs.client.cert,
  key: s.seed.certs.client.key,
});

const CASES: Array<[string, CloudCase]> = [
  [
    'mqtt: mqtts with mutual TLS, MQTT 3.1.1',
    async (s) => {
      const broker = await mtlsBroker(s, { identityIsUsername: true, agentUser: THING });
      const remote = { address: `ssl://127.0.0.1:${broker.port}`, clientid: THING, ...certFiles(s) };
      return { broker, remote, app: tlsApp(s, broker, 4) };
    },
  ],
  [
    'mqtt: mqtts with mutual TLS, MQTT 5',
    async (s) => {
      const broker = await mtlsBroker(s, { identityIsUsername: true, agentUser: THING });
      const remote = { provider: 'mqtt', address: `mqtts://127.0.0.1:${broker.port}`, protocol: 5, ...certFiles(s) };
      return { broker, remote, app: tlsApp(s, broker, 5) };
    },
  ],
  [
    'mqtt: ws with username and password, MQTT 5',
    async (s) => {
      const broker = await passwordBroker(s, 'edge', 'edge-secret');
      const front = await startWebSocketFront(broker.port, td);
      const remote = {
        address: `ws://127.0.0.1:${front.port}/mqtt`,
        protocol: 5,
        username: 'edge',
        password: 'edge-secret',
      };
      return { broker, remote, app: passwordApp(broker), front };
    },
  ],
  [
    'mqtt: wss (server TLS) with username and password, MQTT 3.1.1',
    async (s) => {
      const broker = await passwordBroker(s, 'edge', 'edge-secret');
      const front = await startWebSocketFront(broker.port, td, s.seed.certs.server);
      const remote = {
        address: `wss://127.0.0.1:${front.port}/mqtt`,
        ca: s.seed.certs.ca,
        username: 'edge',
        password: 'edge-secret',
      };
      return { broker, remote, app: passwordApp(broker), front };
    },
  ],
  [
    'baidu-iothub: ssl with the thing certificate, username <endpoint>/<thing>',
    async (s) => {
      const broker = await mtlsBroker(s, { identityIsUsername: false, agentUser: BAIDU_USER });
      const remote = {
        provider: 'baidu-iothub',
        address: `ssl://127.0.0.1:${broker.port}`,
        endpoint: 'tether-ep',
        thing: THING,
        ...certFiles(s),
      };
      return { broker, remote, app: tlsApp(s, broker, 4, 'cloud-app') };
    },
  ],
  [
    'baidu-iothub: wss with the identity password, username <endpoint>/<thing>',
    async (s) => {
      const broker = await passwordBroker(s, BAIDU_USER, 'identity-key');
      const front = await startWebSocketFront(broker.port, td, s.seed.certs.server);
      const remote = {
        provider: 'baidu-iothub',
        address: `wss://127.0.0.1:${front.port}/mqtt`,
        endpoint: 'tether-ep',
        thing: THING,
        password: 'identity-key',
        ca: s.seed.certs.ca,
      };
      return { broker, remote, app: passwordApp(broker), front };
    },
  ],
  [
    "baidu-iotcore: the console's fields only; the broker knows the thingidp login Baidu documents",
    async (s) => {
      const user = `thingidp@tethercore|${THING}|0|SHA256`;
      const password = createHash('sha256').update(`${THING}&0&SHA256device-secret`).digest('hex');
      const broker = await passwordBroker(s, user, password);
      const remote = {
        provider: 'baidu-iotcore',
        address: `tcp://127.0.0.1:${broker.port}`,
        iotcoreid: 'tethercore',
        devicekey: THING,
        devicesecret: 'device-secret',
      };
      return { broker, remote, app: passwordApp(broker) };
    },
  ],
  [
    'aws-iot: mutual TLS (port 8883 style), the thing name as client id',
    async (s) => {
      const broker = await mtlsBroker(s, { identityIsUsername: true, agentUser: THING });
      const remote = { provider: 'aws-iot', endpoint: '127.0.0.1', port: broker.port, thing: THING, ...certFiles(s) };
      return { broker, remote, app: tlsApp(s, broker, 5) };
    },
  ],
  [
    'aws-iot: port 443 style, mutual TLS with ALPN x-amzn-mqtt-ca',
    async (s) => {
      const broker = await startMosquitto({ dir: join(s.root, 'cloud'), teardown: td });
      const { certs } = s.seed;
      const front = await startAlpnFront(broker.port, td, { ca: certs.ca, ...certs.server });
      const remote = { provider: 'aws-iot', endpoint: '127.0.0.1', port: front.port, thing: THING, ...certFiles(s) };
      const app = () => connectClient(broker.url, { clientId: 'cloud-app', protocolVersion: 5, teardown: td });
      return { broker, remote, app, front };
    },
  ],
];

/** Replaces remotes[0] (keeping its name, which the rules use) and optionally turns on metrics. */
async function configure(s: Site, remote: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<void> {
  const config = parse(await readFile(s.seed.bridgeConfig, 'utf8'));
  config.remotes[0] = { name: 'iothub', ...remote, backoff: { min: '100ms', max: '500ms' } };
  Object.assign(config, extra);
  await writeFile(s.seed.bridgeConfig, stringify(config));
}

/** The embedded hub accepts large payloads (for the limit checks), like a site that allows them. */
async function raiseHubMessageLimit(s: Site): Promise<void> {
  const hub = parse(await readFile(s.seed.hubConfig, 'utf8'));
  hub.message = { length: { max: '1m' } };
  await writeFile(s.seed.hubConfig, stringify(hub));
}

/** The agent with the embedded hub, once the hub listens (devices may connect from here on). */
async function runAgent(s: Site): Promise<AgentProcess> {
  const agent = await startAgent({
    args: ['--config', s.seed.bridgeConfig, '--hub-config', s.seed.hubConfig],
    cwd: s.root,
    teardown: td,
  });
  await agent.waitForLog(/embedded hub listening/, 10_000);
  return agent;
}

const device = (s: Site) =>
  connectClient(`mqtt://127.0.0.1:${s.seed.hubPort}`, {
    clientId: 'device',
    ...SEED_LOGIN,
    teardown: td,
  });

/** The seed's traffic: three QoS 1 messages up on t1, three down on t2, in order. */
async function expectTrafficBothWays(s: Site, cloud: Cloud, agent: AgentProcess): Promise<void> {
  const app = await cloud.app();
  const atCloud = await collectMessages(app, 't1', { qos: 1 });
  const dev = await device(s);
  const atHub = await collectMessages(dev, 't2', { qos: 1 });
  await agent.waitForLog(/"endpoint":"iothub".*"msg":"connected"/, 20_000);

  for (const n of [1, 2, 3]) await dev.publishAsync('t1', `up ${n}`, { qos: 1 });
  const up = await atCloud.waitForCount(3, 10_000);
  expect(up.map((m) => m.text)).toEqual(['up 1', 'up 2', 'up 3']);

  for (const n of [1, 2, 3]) await app.publishAsync('t2', `down ${n}`, { qos: 1 });
  const down = await atHub.waitForCount(3, 10_000);
  expect(down.map((m) => [m.text, m.qos])).toEqual([
    ['down 1', 1],
    ['down 2', 1],
    ['down 3', 1],
  ]);
}

describe('the same rules and traffic through every provider', () => {
  it.each(CASES)('%s', async (_label, makeCloud) => {
    // given the seed's site, and a cloud stand-in for this provider
    const s = await site();
    const cloud = await makeCloud(s);
    await configure(s, cloud.remote);
    // when the agent runs the seed's rules against it
    const agent = await runAgent(s);
    // then messages cross both ways
    await expectTrafficBothWays(s, cloud, agent);
    if (cloud.front) expect(cloud.front.accepted).toBeGreaterThan(0);
    // and it stops cleanly, no secret in its output
    const code = await agent.stop('SIGTERM');
    expect(code, `exit ${code}; stderr: ${agent.stderr().slice(-2000)}`).toBe(0);
    for (const secret of [SEED_LOGIN.password, 'edge-secret', 'identity-key', 'device-secret', 'BEGIN PRIVATE KEY']) {
      expect(agent.output()).not.toContain(secret);
    }
  });
});

describe('aws-iot specifics', () => {
  it('connects with the thing name as client id and reports the same connection metrics', async () => {
    const s = await site();
    const broker = await mtlsBroker(s, { identityIsUsername: true, agentUser: THING });
    await configure(
      s,
      { provider: 'aws-iot', endpoint: '127.0.0.1', port: broker.port, thing: THING, ...certFiles(s) },
      { metrics: { listen: '127.0.0.1:0' } },
    );
    const agent = await runAgent(s);
    const url = /"url":"([^"]+)"/.exec(await agent.waitForLog(/metrics listening/, 15_000))?.[1] as string;
    await agent.waitForLog(/"endpoint":"iothub".*"msg":"connected"/, 20_000);
    await broker.waitForLog(new RegExp(`New client connected from 127\\.0\\.0\\.1:\\d+ as ${THING} `), 5_000);
    await waitFor(async () => (await readMetric(url, 'tether_connection_up', `remote/iothub/${THING}`)) === 1, {
      what: 'tether_connection_up for the aws-iot connection',
      timeoutMs: 10_000,
    });
    // when the cloud goes away, the same gauge says so
    await broker.stop();
    await waitFor(async () => (await readMetric(url, 'tether_connection_up', `remote/iothub/${THING}`)) === 0, {
      what: 'the gauge to drop',
      timeoutMs: 10_000,
    });
    await agent.waitForLog(/"endpoint":"iothub".*"msg":"disconnected"/, 5_000);
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('the ALPN front turns away a client that does not offer x-amzn-mqtt-ca', async () => {
    // given AWS's 443 stand-in, and the generic provider without ALPN pointed at it
    const s = await site();
    const broker = await startMosquitto({ dir: join(s.root, 'cloud'), teardown: td });
    const { certs } = s.seed;
    const front = await startAlpnFront(broker.port, td, { ca: certs.ca, ...certs.server });
    await configure(s, { address: `ssl://127.0.0.1:${front.port}`, clientid: THING, ...certFiles(s) });
    const agent = await runAgent(s);
    // then it never gets through, and the failure names the remote
    const line = await agent.waitForLog(
      /"level":"error".*"endpoint":"iothub"|"endpoint":"iothub".*"level":"error"/,
      15_000,
    );
    expect(line).toContain('iothub');
    await waitFor(() => front.refused > 0, { what: 'a refused handshake' });
    expect(front.accepted).toBe(0);
    expect(await agent.stop('SIGTERM')).toBe(0);
  });
});

describe('a client certificate the cloud does not trust', () => {
  it.each([
    ['mqtt', { clientid: THING }, true],
    ['baidu-iothub', { provider: 'baidu-iothub', endpoint: 'tether-ep', thing: THING }, false],
    ['aws-iot', { provider: 'aws-iot', endpoint: '127.0.0.1', thing: THING }, true],
  ] as const)(
    '%s: a clear TLS error naming the remote, and the agent keeps running',
    async (provider, fields, identity) => {
      const s = await site();
      const broker = await mtlsBroker(s, { identityIsUsername: identity, agentUser: identity ? THING : BAIDU_USER });
      const address = `ssl://127.0.0.1:${broker.port}`;
      const where = provider === 'aws-iot' ? { port: broker.port } : { address };
      const { certs } = s.seed;
      await configure(s, {
        ...fields,
        ...where,
        ca: certs.ca,
        cert: certs.otherClient.cert,
        key: certs.otherClient.key,
      });
      const agent = await runAgent(s);
      const line = await agent.waitForLog(
        /"level":"error".*"endpoint":"iothub"|"endpoint":"iothub".*"level":"error"/,
        20_000,
      );
      const entry = JSON.parse(line) as { msg: string; code: string };
      expect(entry.code).toBe('TETHER_ERR_TLS');
      expect(entry.msg).toMatch(/^iothub: /);
      expect(entry.msg).toContain(`127.0.0.1:${broker.port}`);
      expect(entry.msg).toMatch(/client certificate/);
      expect(agent.running).toBe(true);
      expect(agent.output()).not.toMatch(
        /"msg":"connected".*"endpoint":"iothub"|"endpoint":"iothub".*"msg":"connected"/,
      );
      expect(await agent.stop('SIGTERM')).toBe(0);
    },
  );
});

describe("a message over the cloud's limits is refused, named, and not retried", () => {
  it.each([
    [
      'baidu-iothub',
      32 * 1024 + 1,
      /^iothub: not sent to t1: the payload is 32769 bytes; Baidu IoT Hub accepts at most 32768/,
    ],
    [
      'aws-iot',
      128 * 1024 + 1,
      /^iothub: not sent to t1: the payload is 131073 bytes; AWS IoT Core accepts at most 131072/,
    ],
  ] as const)('%s', async (provider, size, reason) => {
    const s = await site();
    await raiseHubMessageLimit(s);
    const baidu = provider === 'baidu-iothub';
    const broker = await mtlsBroker(s, { identityIsUsername: !baidu, agentUser: baidu ? BAIDU_USER : THING });
    const remote = baidu
      ? { provider, address: `ssl://127.0.0.1:${broker.port}`, endpoint: 'tether-ep', thing: THING, ...certFiles(s) }
      : { provider, endpoint: '127.0.0.1', port: broker.port, thing: THING, ...certFiles(s) };
    await configure(s, remote);
    const agent = await runAgent(s);
    const app = await tlsApp(s, broker, 5, baidu ? 'cloud-app' : undefined)();
    const atCloud = await collectMessages(app, 't1', { qos: 1 });
    await agent.waitForLog(/"endpoint":"iothub".*"msg":"connected"/, 20_000);
    const dev = await device(s);
    // when a device sends one message too large for the cloud, then a normal one
    await dev.publishAsync('t1', Buffer.alloc(size, 0x61), { qos: 1 });
    await dev.publishAsync('t1', 'after the big one', { qos: 1 });
    // then the normal one arrives (nothing is stuck behind the big one), the big one never does
    const [first] = await atCloud.waitForCount(1, 10_000);
    expect(first?.text).toBe('after the big one');
    const line = await agent.waitForLog(/destination refused a message; moved to the dead letters/, 5_000);
    expect(JSON.parse(line)).toMatchObject({ code: 'TETHER_ERR_PUBLISH', reason: expect.stringMatching(reason) });
    await new Promise((r) => setTimeout(r, 500));
    expect(atCloud.messages).toHaveLength(1);
    expect(agent.output().match(/destination refused a message/g)).toHaveLength(1);
    expect(await agent.stop('SIGTERM')).toBe(0);
  });
});
