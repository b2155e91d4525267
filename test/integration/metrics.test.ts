import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, startAgent } from '@tether/test-helpers/agent-process';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { connectClient } from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { readMetric } from '@tether/test-helpers/sequence';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

const td = new Teardown();
afterEach(() => td.run());

/** Metric names a PromQL expression reads (ours and prom-client's process and Node.js metrics). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:tether|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1] as string);
}

describe('metrics', () => {
  it('serves every metric the Grafana dashboard in docs/ uses, with one label name for a destination', async () => {
    const root = tempDir(td, 'tether-metrics-');
    const cloud = await startMosquitto({ dir: join(root, 'cloud'), teardown: td });
    const hubPort = await freePort();
    const metricsPort = await freePort();
    await writeFile(join(root, 'hub.yml'), stringify({ listen: [`tcp://127.0.0.1:${hubPort}`] }));
    await writeFile(
      join(root, 'bridge.yml'),
      stringify({
        hub: { address: `tcp://127.0.0.1:${hubPort}` },
        remotes: [{ name: 'cloud', address: cloud.url.replace('mqtt://', 'tcp://'), clientid: 'edge-1' }],
        rules: [{ hub: { subscriptions: [{ topic: 'up/#', qos: 1 }] }, remote: { name: 'cloud' } }],
        metrics: { listen: `127.0.0.1:${metricsPort}` },
      }),
    );
    const agent = await startAgent({
      args: ['--config', 'bridge.yml', '--hub-config', 'hub.yml', '--data-dir', join(root, 'data')],
      cwd: root,
      teardown: td,
    });
    await agent.waitForLog(/bridge started/, 15_000);
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    await waitFor(async () => (await readMetric(url, 'tether_connection_up', 'remote/cloud')) === 1, {
      what: 'the remote connected',
      timeoutMs: 10_000,
    });
    const device = await connectClient(`mqtt://127.0.0.1:${hubPort}`, { clientId: 'device', teardown: td });
    await device.publishAsync('up/1', 'hello', { qos: 1 });
    await waitFor(async () => (await readMetric(url, 'tether_forwarded_total', 'remote/cloud')) === 1, {
      what: 'one message forwarded',
      timeoutMs: 10_000,
    });

    const scrape = await (await fetch(url)).text();
    const sampled = new Set(
      scrape
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.split(/[{ ]/)[0]),
    );
    const dashboard = JSON.parse(await readFile(join(REPO_ROOT, 'docs/grafana-dashboard.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr)));
    expect(used.length).toBeGreaterThan(10);
    expect([...new Set(used)].filter((name) => !sampled.has(name))).toEqual([]);

    expect(await readMetric(url, 'tether_forwarded_bytes_total', 'connection="remote/cloud/edge-1"')).toBe(5);
    expect(scrape).toMatch(/^tether_queue_oldest_age_seconds\{connection="remote\/cloud\/edge-1"\} 0$/m);
    expect(scrape).toMatch(/^tether_reconnects_total\{connection="remote\/cloud\/edge-1"\} 0$/m);
    expect(scrape).toMatch(/^process_resident_memory_bytes \d+/m);
    // one label name for a destination across metrics
    expect(scrape).not.toMatch(/\{queue="/);
    expect(scrape).toMatch(/^tether_queue_messages\{connection="remote\/cloud\/edge-1"\} 0$/m);
  }, 60_000);
});
