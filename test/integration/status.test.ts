import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AgentProcess, startAgent } from '@tether/test-helpers/agent-process';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { connectClient } from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { ManagedProcess } from '@tether/test-helpers/process';
import { readMetric } from '@tether/test-helpers/sequence';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

/**
 * The metrics listener's health and status: /healthz, /readyz flipping with a remote's outage,
 * /status, the status page in headless Chromium, and `tether-agent status`.
 */
const td = new Teardown();
afterEach(() => td.run());

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);

async function startSite(
  root: string,
  remoteUrl: string,
  qos = 1,
): Promise<{ agent: AgentProcess; base: string; dataDir: string }> {
  const hubPort = await freePort();
  const metricsPort = await freePort();
  await writeFile(join(root, 'hub.yml'), stringify({ listen: [`tcp://127.0.0.1:${hubPort}`] }));
  await writeFile(
    join(root, 'bridge.yml'),
    stringify({
      name: 'status-site',
      hub: { address: `tcp://127.0.0.1:${hubPort}` },
      remotes: [
        {
          name: 'cloud',
          address: remoteUrl.replace('mqtt://', 'tcp://'),
          clientid: 'edge-1',
          backoff: { min: '100ms', max: '300ms' },
        },
      ],
      rules: [{ hub: { subscriptions: [{ topic: 'up/#', qos }] }, remote: { name: 'cloud' } }],
      metrics: { listen: `127.0.0.1:${metricsPort}` },
    }),
  );
  const dataDir = join(root, 'data');
  const agent = await startAgent({
    args: ['--config', 'bridge.yml', '--hub-config', 'hub.yml', '--data-dir', dataDir],
    cwd: root,
    teardown: td,
  });
  await agent.waitForLog(/bridge started/, 15_000);
  return { agent, base: `http://127.0.0.1:${metricsPort}`, dataDir };
}

/** The embedded hub's port, from /status. */
async function hubPortOf(base: string): Promise<number> {
  const status = (await (await fetch(`${base}/status`)).json()) as { hub: { listening: string[] } };
  return Number(new URL(status.hub.listening[0] as string).port);
}

async function readyz(base: string): Promise<{ code: number; body: { ready: boolean; notReady: string[] } }> {
  const response = await fetch(`${base}/readyz`);
  return { code: response.status, body: (await response.json()) as { ready: boolean; notReady: string[] } };
}

/** The status page's DOM once its script has fetched /status (Chromium's virtual time waits for it). */
async function pageDom(root: string, url: string): Promise<string> {
  const profile = await mkdtemp(join(root, 'chromium-'));
  const chromium = await ManagedProcess.spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--virtual-time-budget=5000',
      '--dump-dom',
      url,
    ],
    { name: 'chromium', cwd: root, env: process.env },
  );
  td.add(`chromium pid ${chromium.pid}`, () => chromium.terminate());
  const exit = await chromium.waitForExit(30_000);
  expect(exit.code, chromium.output.text()).toBe(0);
  return chromium.stdout.text();
}

describe('health and status', () => {
  it('/readyz flips when the remote goes down and comes back; /status and `tether-agent status` say which', async () => {
    const root = tempDir(td, 'tether-status-');
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), teardown: td });
    const { base, dataDir } = await startSite(root, cloud.url);

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await waitFor(async () => (await readyz(base)).code === 200, { what: '/readyz 200', timeoutMs: 10_000 });
    const status = (await (await fetch(`${base}/status`)).json()) as {
      connections: Array<{ id: string; connected: boolean }>;
      queues: Array<{ id: string; messages: number }>;
      hub: { listening: string[] };
    };
    expect(status.connections.map((c) => [c.id, c.connected]).sort()).toEqual([
      ['hub/edge-1', true],
      ['remote/cloud/edge-1', true],
    ]);
    expect(status.queues.map((q) => q.id).sort()).toEqual(['hub/edge-1', 'remote/cloud/edge-1']);
    expect(status.hub.listening).toHaveLength(1);

    await cloud.kill();
    const down = await waitFor(
      async () => {
        const r = await readyz(base);
        return r.code === 503 ? r : undefined;
      },
      { what: '/readyz 503 after the remote died', timeoutMs: 10_000 },
    );
    expect(down.body.ready).toBe(false);
    expect(down.body.notReady.join('\n')).toMatch(/^remote\/cloud\/edge-1: down for \d+s, longer than its backoff/);

    const cli = await startAgent({ args: ['status', '--data-dir', dataDir], cwd: root, teardown: td });
    const exit = await cli.waitForExit(15_000);
    expect(exit.code).toBe(1);
    expect(cli.stdout()).toMatch(/NOT READY/);
    expect(cli.stdout()).toMatch(/remote\/cloud\/edge-1\s+DOWN/);
    expect(cli.stdout()).toMatch(/hub\/edge-1\s+up/);

    await cloud.restart();
    await waitFor(async () => (await readyz(base)).code === 200, { what: '/readyz 200 again', timeoutMs: 10_000 });
  }, 60_000);

  it('logs the first QoS 0 drop of an outage at warn with its rule, and counts the others', async () => {
    const root = tempDir(td, 'tether-status-');
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), teardown: td });
    const { agent, base } = await startSite(root, cloud.url, 0);
    await waitFor(async () => (await readyz(base)).code === 200, { what: '/readyz 200', timeoutMs: 10_000 });
    await cloud.kill();
    await agent.waitForLog(/connection lost: outage started/, 10_000);
    const device = await connectClient(`mqtt://${new URL(base).hostname}:${await hubPortOf(base)}`, {
      clientId: 'device',
      teardown: td,
    });
    for (let i = 0; i < 3; i++) await device.publishAsync('up/t1', `m${i}`, { qos: 0 });
    await waitFor(async () => (await readMetric(`${base}/metrics`, 'tether_qos0_dropped_total')) === 3, {
      what: 'three QoS 0 drops counted',
      timeoutMs: 10_000,
    });
    // the counter is read at scrape time; the log line may reach stdout a moment later
    await agent.waitForLog(/QoS 0 messages of this rule are dropped/, 10_000);
    const warnings = agent
      .output()
      .split('\n')
      .filter((l) => l.includes('QoS 0 messages of this rule are dropped'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0] as string)).toMatchObject({ level: 'warn', rule: 'rules[0]', topic: 'up/t1' });
  }, 60_000);

  it.skipIf(!HAVE_CHROMIUM)(
    `the status page shows a remote going down (headless Chromium${HAVE_CHROMIUM ? '' : `; skipped: ${CHROMIUM} missing, apt-get install -y chromium`})`,
    async () => {
      const root = tempDir(td, 'tether-status-');
      const cloud = await startMosquitto({ dir: join(root, 'cloud'), teardown: td });
      const { base } = await startSite(root, cloud.url);
      await waitFor(async () => (await readyz(base)).code === 200, { what: '/readyz 200', timeoutMs: 10_000 });

      const up = await pageDom(root, `${base}/`);
      expect(up).toMatch(/<body data-ready="true"/);
      expect(up).toMatch(/<tr data-connection="remote\/cloud\/edge-1" data-state="up">/);
      expect(up).toMatch(/<strong id="ready" class="yes">ready<\/strong>/);

      await cloud.kill();
      await waitFor(async () => (await readyz(base)).code === 503, { what: '/readyz 503', timeoutMs: 10_000 });
      const down = await pageDom(root, `${base}/`);
      expect(down).toMatch(/<body data-ready="false"/);
      expect(down).toMatch(/<tr data-connection="remote\/cloud\/edge-1" data-state="down">/);
      expect(down).toMatch(/<tr data-connection="hub\/edge-1" data-state="up">/);
      expect(down).toMatch(/<strong id="ready" class="no">not ready<\/strong>/);
      expect(down).toMatch(/<li>remote\/cloud\/edge-1: down for/);
    },
    90_000,
  );
});
