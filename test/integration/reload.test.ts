import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startAgent } from '../helpers/agent-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { collectMessages, connectClient, connected } from '../helpers/mqtt-clients.js';
import { freePort } from '../helpers/ports.js';
import { publishSequence, readMetric, sequenceSink } from '../helpers/sequence.js';
import { Teardown } from '../helpers/teardown.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Reload (SIGHUP and `tether-agent reload`): what changed applies while the agent runs, and
 * nothing queued is lost or reordered; a config with problems is refused and the old one runs.
 */
const td = new Teardown();
afterEach(() => td.run());

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tether-reload-'));
  td.add('remove temp dir', () => rm(root, { recursive: true, force: true }));
  return root;
}

interface Site {
  root: string;
  dataDir: string;
  bridgeFile: string;
  hubUrl: string;
  metricsUrl: string;
  bridge: Record<string, unknown>;
}

/** An agent with its embedded hub and one remote; `write` (re)writes the bridge file. */
async function site(remoteUrl: string, extra: Record<string, unknown> = {}): Promise<Site> {
  const root = await tempRoot();
  const hubPort = await freePort();
  const metricsPort = await freePort();
  const hubFile = join(root, 'hub.yml');
  await writeFile(hubFile, stringify({ listen: [`tcp://127.0.0.1:${hubPort}`] }));
  const bridge = {
    name: 'reload-site',
    hub: { address: `tcp://127.0.0.1:${hubPort}`, clientid: 'bridge' },
    remotes: [
      {
        name: 'cloud',
        address: remoteUrl.replace('mqtt://', 'tcp://'),
        clientid: 'edge-1',
        backoff: { min: '100ms', max: '300ms' },
      },
    ],
    rules: [{ hub: { subscriptions: [{ topic: 'up/seq', qos: 1 }] }, remote: { name: 'cloud' } }],
    metrics: { listen: `127.0.0.1:${metricsPort}` },
    logger: { level: 'info' },
    ...extra,
  };
  const bridgeFile = join(root, 'bridge.yml');
  await writeFile(bridgeFile, stringify(bridge));
  return {
    root,
    dataDir: join(root, 'data'),
    bridgeFile,
    hubUrl: `mqtt://127.0.0.1:${hubPort}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    bridge,
  };
}

async function runSite(s: Site, { logToFile = false } = {}) {
  const agent = await startAgent({
    args: ['--config', s.bridgeFile, '--hub-config', join(s.root, 'hub.yml'), '--data-dir', s.dataDir],
    cwd: s.root,
    teardown: td,
  });
  if (!logToFile) await agent.waitForLog(/bridge started/, 15_000);
  await waitFor(() => existsSync(join(s.dataDir, 'tether-agent.json')), { what: 'the run file', timeoutMs: 15_000 });
  return agent;
}

async function reloadCommand(s: Site) {
  const cli = await startAgent({ args: ['reload', '--data-dir', s.dataDir], cwd: s.root, teardown: td });
  const exit = await cli.waitForExit(20_000);
  return { code: exit.code, out: cli.output() };
}

describe('reload', () => {
  it('keeps a 10,000-message backlog and its order while a rule changes', async () => {
    const root = await tempRoot();
    // the cloud app's persistent session holds what arrives while it is offline
    const cloud = await startMosquitto({
      dir: join(root, 'cloud'),
      persistence: true,
      extraConf: 'max_queued_messages 0\n',
      teardown: td,
    });
    const first = await connectClient(cloud.url, { clientId: 'app', clean: false });
    await collectMessages(first, 'up/#', { qos: 1 });
    await first.endAsync();
    await cloud.stop();

    const s = await site(cloud.url);
    const agent = await runSite(s);
    const device = await connectClient(s.hubUrl, { clientId: 'device', teardown: td });
    const N = 10_000;
    await publishSequence(device, 'up/seq', N).done;
    await waitFor(
      async () => (await readMetric(`${s.metricsUrl}/metrics`, 'tether_queue_messages', 'remote/cloud')) === N,
      {
        what: `${N} messages queued for the remote`,
        timeoutMs: 20_000,
      },
    );

    // the rule changes (a second topic, mapped under a prefix) and so does the remote's keepalive:
    // its connection is replaced and the new one takes over the queue
    const bridge = structuredClone(s.bridge) as {
      rules: Array<{ hub: { subscriptions: object[] } }>;
      remotes: Array<Record<string, unknown>>;
    };
    bridge.rules[0]?.hub.subscriptions.push({ topic: 'up/extra', qos: 1, target: { prefix: 'up/new/' } });
    (bridge.remotes[0] as Record<string, unknown>).keepalive = '30s';
    await writeFile(s.bridgeFile, stringify(bridge));
    const reload = await reloadCommand(s);
    expect(reload.out).toMatch(/reloaded pid \d+: rules and connections/);
    expect(reload.code).toBe(0);
    // the hub side kept its connection (devices and the hub link untouched); the remote's was replaced
    await agent.waitForLog(/"kept":\["hub\/bridge"\],"reconnected":\["remote\/cloud\/edge-1"\].*bridge rewired/, 5_000);
    expect(await readMetric(`${s.metricsUrl}/metrics`, 'tether_queue_messages', 'remote/cloud')).toBe(N);
    await device.publishAsync('up/extra', 'after-reload', { qos: 1 });

    await cloud.restart();
    const app = mqtt.connect(cloud.url, { clientId: 'app', clean: false, reconnectPeriod: 0 });
    td.add('app client', () => app.endAsync(true));
    const seq = sequenceSink(app, 'up/seq');
    const extra: string[] = [];
    app.on('message', (topic, payload) => {
      if (topic === 'up/new/up/extra') extra.push(payload.toString());
    });
    await connected(app);
    await seq.waitForAll(N, 60_000);
    expect(seq.missing(N)).toEqual([]);
    expect(seq.inOrder()).toBe(true);
    await waitFor(() => extra.length === 1, { what: 'the message of the new rule', timeoutMs: 10_000 });
    expect(extra).toEqual(['after-reload']);
  }, 120_000);

  it('refuses a config with problems, says why, and keeps the old one running', async () => {
    const root = await tempRoot();
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), teardown: td });
    const s = await site(cloud.url);
    const agent = await runSite(s);
    const app = await connectClient(cloud.url, { clientId: 'app', teardown: td });
    const atCloud = await collectMessages(app, 'up/#', { qos: 1 });
    await agent.waitForLog(/"endpoint":"cloud".*"msg":"connected"/, 10_000);

    const bad = structuredClone(s.bridge) as { rules: Array<{ hub: { subscriptions: Array<{ qos: number }> } }> };
    (bad.rules[0]?.hub.subscriptions[0] as { qos: number }).qos = 7;
    await writeFile(s.bridgeFile, stringify(bad));
    const reload = await reloadCommand(s);
    expect(reload.code).toBe(1);
    expect(reload.out).toMatch(/reload refused/);
    expect(reload.out).toMatch(/rules\[0\]\.hub\.subscriptions\[0\]\.qos/);
    await agent.waitForLog(/reload refused: the new config has problems/, 5_000);

    // valid YAML, but a certificate that cannot be read: refused before anything changed
    const missingCert = structuredClone(s.bridge) as { remotes: Array<Record<string, unknown>> };
    (missingCert.remotes[0] as Record<string, unknown>).ca = 'no-such-ca.pem';
    await writeFile(s.bridgeFile, stringify(missingCert));
    const second = await reloadCommand(s);
    expect(second.code).toBe(1);
    expect(second.out).toMatch(/remotes\[0\]\.ca/);

    // the old rules still forward
    const device = await connectClient(s.hubUrl, { clientId: 'device', teardown: td });
    await device.publishAsync('up/seq', 'still-running', { qos: 1 });
    expect((await atCloud.waitForCount(1, 10_000)).map((m) => m.text)).toEqual(['still-running']);
    expect(agent.running).toBe(true);
  }, 60_000);

  it('reopens the log file on SIGHUP after logrotate renamed it', async () => {
    const root = await tempRoot();
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), teardown: td });
    const s = await site(cloud.url, { logger: { level: 'info', path: 'log/agent.log' } });
    const agent = await runSite(s, { logToFile: true });
    const log = join(s.root, 'log/agent.log');
    await waitFor(async () => (await readFile(log, 'utf8')).includes('bridge started'), {
      what: 'the start in the log file',
      timeoutMs: 5_000,
    });
    await rename(log, `${log}.1`);
    process.kill(agent.pid, 'SIGHUP');
    await waitFor(async () => existsSync(log) && (await readFile(log, 'utf8')).includes('reload applied'), {
      what: 'the reload logged in a new file at the configured path',
      timeoutMs: 10_000,
    });
    const rotated = await readFile(`${log}.1`, 'utf8');
    expect(rotated).toContain('bridge started');
    expect(rotated).not.toContain('reload applied');
  }, 60_000);

  it('applies new hub permits to connected clients; the hub writes its own logger.path in combined mode', async () => {
    const root = await tempRoot();
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), teardown: td });
    const s = await site(cloud.url);
    const hubFile = join(s.root, 'hub.yml');
    const hubPort = Number(new URL(s.hubUrl).port);
    const hubConfig = (devicePermit: string) => ({
      listen: [`tcp://127.0.0.1:${hubPort}`],
      principals: [
        {
          username: 'bridge',
          password: 'bridge-pw',
          permissions: [
            { action: 'pub', permit: ['#'] },
            { action: 'sub', permit: ['#'] },
          ],
        },
        { username: 'dev', password: 'dev-pw', permissions: [{ action: 'pub', permit: [devicePermit] }] },
      ],
      logger: { path: 'log/hub.log', level: 'info' },
    });
    await writeFile(hubFile, stringify(hubConfig('up/seq')));
    const bridge = structuredClone(s.bridge) as {
      hub: Record<string, unknown>;
      rules: Array<{ hub: { subscriptions: object[] } }>;
    };
    bridge.hub.username = 'bridge';
    bridge.hub.password = 'bridge-pw';
    (bridge.rules[0] as { hub: { subscriptions: object[] } }).hub.subscriptions = [{ topic: 'up/#', qos: 1 }];
    await writeFile(s.bridgeFile, stringify(bridge));
    const agent = await runSite(s);
    const app = await connectClient(cloud.url, { clientId: 'app', teardown: td });
    const atCloud = await collectMessages(app, 'up/#', { qos: 1 });
    await agent.waitForLog(/"endpoint":"cloud".*"msg":"connected"/, 10_000);

    const device = await connectClient(s.hubUrl, {
      clientId: 'device',
      username: 'dev',
      password: 'dev-pw',
      teardown: td,
    });
    let closes = 0;
    device.on('close', () => closes++);
    await device.publishAsync('up/other', 'refused-before', { qos: 1 });
    await device.publishAsync('up/seq', 'allowed', { qos: 1 });
    expect((await atCloud.waitForCount(1, 10_000)).map((m) => m.text)).toEqual(['allowed']);

    await writeFile(hubFile, stringify(hubConfig('up/#')));
    expect((await reloadCommand(s)).code).toBe(0);
    await device.publishAsync('up/other', 'allowed-after', { qos: 1 });
    expect((await atCloud.waitForCount(2, 10_000)).map((m) => m.text)).toEqual(['allowed', 'allowed-after']);
    expect(closes).toBe(0);

    const hubLog = await readFile(join(s.root, 'log/hub.log'), 'utf8');
    expect(hubLog).toMatch(/hub principals reloaded/);
    expect(hubLog).toMatch(/up\/other is outside the pub permits of dev/);
    expect(agent.output()).not.toMatch(/hub principals reloaded/);
  }, 60_000);

  it('replaces a remote connection under traffic without losing or reordering messages', async () => {
    const root = await tempRoot();
    // Mosquitto drops QoS 1 messages for an online subscriber past max_queued_messages (default
    // 1,000): with 5,000 in a burst the test's own app falls that far behind, and the drops look
    // like the bridge losing messages (the agent's metrics show all 5,000 acked by the cloud)
    const cloud = await startMosquitto({
      dir: join(root, 'cloud'),
      extraConf: 'max_queued_messages 0\n',
      teardown: td,
    });
    const s = await site(cloud.url);
    const agent = await runSite(s);
    const app = mqtt.connect(cloud.url, { clientId: 'app', reconnectPeriod: 0 });
    td.add('app client', () => app.endAsync(true));
    const seq = sequenceSink(app, 'up/seq');
    await connected(app);
    await app.subscribeAsync('up/seq', { qos: 1 });
    await agent.waitForLog(/"endpoint":"cloud".*"msg":"connected"/, 10_000);

    const bridge = structuredClone(s.bridge) as { remotes: Array<Record<string, unknown>> };
    (bridge.remotes[0] as Record<string, unknown>).keepalive = '45s';
    await writeFile(s.bridgeFile, stringify(bridge));
    const device = await connectClient(s.hubUrl, { clientId: 'device', teardown: td });
    const N = 5_000;
    let signalled = false;
    const traffic = publishSequence(device, 'up/seq', N, {
      onAck: (acked) => {
        // mid-stream: messages are queued, in flight and arriving while the connection is replaced
        if (acked === 1_000 && !signalled) {
          signalled = true;
          process.kill(agent.pid, 'SIGHUP');
        }
      },
    });
    await traffic.done;
    await agent.waitForLog(/"reconnected":\["remote\/cloud\/edge-1"\].*bridge rewired/, 10_000);
    await seq.waitForAll(N, 60_000);
    expect(seq.missing(N)).toEqual([]);
    expect(seq.inOrder()).toBe(true);
  }, 90_000);

  it('hub only: opens an added listener and keeps the clients of the others connected', async () => {
    const root = await tempRoot();
    const [portA, portB] = [await freePort(), await freePort()];
    const hubFile = join(root, 'hub.yml');
    const hubConfig = (listen: number[]) => ({
      listen: listen.map((p) => `tcp://127.0.0.1:${p}`),
      storage: { dir: 'data' },
    });
    await writeFile(hubFile, stringify(hubConfig([portA])));
    const hub = await startAgent({ args: ['hub', '--config', hubFile], cwd: root, teardown: td });
    await waitFor(() => existsSync(join(root, 'data', 'tether-agent.json')), {
      what: 'the run file',
      timeoutMs: 15_000,
    });
    const first = await connectClient(`mqtt://127.0.0.1:${portA}`, { clientId: 'first', teardown: td });
    let closes = 0;
    first.on('close', () => closes++);

    await writeFile(hubFile, stringify(hubConfig([portA, portB])));
    const cli = await startAgent({ args: ['reload', '--data-dir', join(root, 'data')], cwd: root, teardown: td });
    expect((await cli.waitForExit(15_000)).code).toBe(0);
    await hub.waitForLog(/hub listeners reloaded/, 10_000);
    const second = await connectClient(`mqtt://127.0.0.1:${portB}`, { clientId: 'second', teardown: td });
    const got = await collectMessages(second, 'x', { qos: 1 });
    await first.publishAsync('x', 'across listeners', { qos: 1 });
    expect((await got.waitForCount(1)).map((m) => m.text)).toEqual(['across listeners']);
    expect(closes).toBe(0);
  }, 60_000);

  it('stops forwarding a filter a reload removed from the rules', async () => {
    const root = await tempRoot();
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), teardown: td });
    const s = await site(cloud.url);
    const both = structuredClone(s.bridge) as { rules: Array<{ hub: { subscriptions: object[] } }> };
    (both.rules[0] as { hub: { subscriptions: object[] } }).hub.subscriptions = [
      { topic: 'up/seq', qos: 1 },
      { topic: 'up/old', qos: 1 },
    ];
    await writeFile(s.bridgeFile, stringify(both));
    const agent = await runSite(s);
    const app = await connectClient(cloud.url, { clientId: 'app', teardown: td });
    const atCloud = await collectMessages(app, 'up/#', { qos: 1 });
    await agent.waitForLog(/"endpoint":"cloud".*"msg":"connected"/, 10_000);
    const device = await connectClient(s.hubUrl, { clientId: 'device', teardown: td });
    await device.publishAsync('up/old', 'before', { qos: 1 });
    expect((await atCloud.waitForCount(1, 10_000)).map((m) => m.text)).toEqual(['before']);

    await writeFile(s.bridgeFile, stringify(s.bridge));
    expect((await reloadCommand(s)).code).toBe(0);
    // one destination queue, in order: had up/old still been forwarded it would come before the marker
    await device.publishAsync('up/old', 'after', { qos: 1 });
    await device.publishAsync('up/seq', 'marker', { qos: 1 });
    expect((await atCloud.waitForCount(2, 10_000)).map((m) => m.text)).toEqual(['before', 'marker']);
  }, 60_000);
});
