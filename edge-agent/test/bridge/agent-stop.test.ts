import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@tether/node-shared/logging';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { Agent } from '../../src/agent.js';
import { Bridge } from '../../src/bridge/bridge.js';
import { ConnectionStateTopics } from '../../src/bridge/connection-state-topics.js';
import { loadBridgeConfig, loadHubConfig } from '../../src/config/load-config.js';
import { EmbeddedHub } from '../../src/hub/embedded-hub.js';
import { InProcessHubLink } from '../../src/hub/in-process-hub-link.js';
import { SqliteStore } from '../../src/queue/sqlite-store.js';
import { MqttEndpoint } from '../../src/transport/mqtt-endpoint.js';
import { ALL } from '../hub/hub-fixtures.js';

/**
 * Agent.stop() in this process: the embedded hub on port 0, the bridge's in-process link to it,
 * and a remote nobody listens on (it keeps retrying). The parts' stop methods are watched on their
 * prototypes, so the order is the real one, with no process spawned.
 */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A port that was free a moment ago and that nothing listens on now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function agentInProcess(): Promise<Agent> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-agent-stop-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const hubFile = join(dir, 'hub.yml');
  writeFileSync(
    hubFile,
    stringify({
      listen: ['tcp://127.0.0.1:0'],
      principals: [{ username: 'test', password: 'hahaha', permissions: ALL }],
    }),
  );
  const bridgeFile = join(dir, 'bridge.yml');
  writeFileSync(
    bridgeFile,
    stringify({
      name: 'stop-order',
      hub: { address: 'tcp://127.0.0.1:1883', username: 'test', password: 'hahaha', clientid: 'edge' },
      remotes: [{ name: 'cloud', address: `tcp://127.0.0.1:${await closedPort()}`, clientid: 'edge' }],
      rules: [{ hub: { subscriptions: [{ topic: 'up/#', qos: 1 }] }, remote: { name: 'cloud' } }],
    }),
  );
  const agent = new Agent({
    bridge: loadBridgeConfig(bridgeFile),
    hub: loadHubConfig(hubFile),
    logger: silentLogger(),
    dataDir: join(dir, 'data'),
    drainMs: 200,
  });
  cleanups.push(() => agent.stop());
  await agent.start();
  return agent;
}

/** Records `label` when the method is called and `label done` when what it returns settles. */
function watch<T extends object>(steps: string[], target: T, method: keyof T & string, label: string): void {
  const original = target[method] as (...args: unknown[]) => unknown;
  vi.spyOn(target, method as never).mockImplementation(function (this: unknown, ...args: unknown[]) {
    steps.push(label);
    const result = original.apply(this, args);
    if (result instanceof Promise) return result.finally(() => steps.push(`${label} done`));
    steps.push(`${label} done`);
    return result;
  } as never);
}

describe('Agent.stop()', () => {
  it('drains the bridge, tells the hub the remotes are down, stops the hub, then the connections, then the store', async () => {
    const agent = await agentInProcess();
    const steps: string[] = [];
    watch(steps, Bridge.prototype, 'drain', 'bridge drain');
    watch(steps, ConnectionStateTopics.prototype, 'allDown', 'state topics down');
    watch(steps, EmbeddedHub.prototype, 'stop', 'hub stop');
    watch(steps, InProcessHubLink.prototype, 'stop', 'hub link stop');
    watch(steps, MqttEndpoint.prototype, 'stop', 'remote stop');
    watch(steps, SqliteStore.prototype, 'close', 'store close');

    await agent.stop();
    const at = (step: string) => {
      const i = steps.indexOf(step);
      expect(i, `${step} in ${steps.join(', ')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    // each step waits for the one before it
    expect(at('bridge drain done')).toBeLessThan(at('state topics down'));
    expect(at('state topics down done')).toBeLessThan(at('hub stop'));
    // from the drain on a device's message is refused unacknowledged; the hub goes before the
    // bridge's connections, so none is acknowledged and then dropped
    expect(at('hub stop done')).toBeLessThan(at('hub link stop'));
    expect(at('hub stop done')).toBeLessThan(at('remote stop'));
    expect(at('hub link stop done')).toBeLessThan(at('store close'));
    expect(at('remote stop done')).toBeLessThan(at('store close'));
  });

  it('is idempotent: a second stop() is the same stop', async () => {
    const agent = await agentInProcess();
    const steps: string[] = [];
    watch(steps, EmbeddedHub.prototype, 'stop', 'hub stop');
    const first = agent.stop();
    const second = agent.stop();
    expect(second).toBe(first);
    await first;
    expect(steps.filter((s) => s === 'hub stop')).toHaveLength(1);
  });
});
