import { type BridgeConfigInput, BridgeConfigSchema } from '@tether/shared';
import { seedYaml } from '@tether/test-helpers/seed';
import { describe, expect, it } from 'vitest';
import { planBridge } from '../../src/rules/bridge-plan.js';

const remote = (name: string, extra: object = {}) => ({ name, address: 'tcp://127.0.0.1:1884', ...extra });

describe('planBridge', () => {
  it('wires the seed: t1 up from the hub, t2 down from iothub, Baetyl client ids', () => {
    const plan = planBridge(BridgeConfigSchema.parse(seedYaml('remote-service.yml')));
    expect(plan.connections.map((c) => [c.id, c.clientId, c.subscriptions])).toEqual([
      ['hub/remote-iothub-1', 'remote-iothub-1', [{ filter: 't1', qos: 0 }]],
      ['remote/iothub/remote-iothub-1', 'remote-iothub-1', [{ filter: 't2', qos: 1 }]],
    ]);
    expect(plan.routes.map((r) => [r.from, r.to, r.filter, r.qos])).toEqual([
      ['hub/remote-iothub-1', 'remote/iothub/remote-iothub-1', 't1', 0],
      ['remote/iothub/remote-iothub-1', 'hub/remote-iothub-1', 't2', 1],
    ]);
    expect(plan.connections.every((c) => !c.echoPossible)).toBe(true);
  });

  it('shares a connection between rules with one remote and client id, splits on another client id', () => {
    const input: BridgeConfigInput = {
      hub: { address: 'tcp://127.0.0.1:1883' },
      remotes: [remote('a', { clientid: 'edge-1' }), remote('b')],
      rules: [
        { hub: { subscriptions: [{ topic: 'x/#', qos: 1 }] }, remote: { name: 'a' } },
        { hub: { subscriptions: [{ topic: 'x/#', qos: 0 }, { topic: 'y' }] }, remote: { name: 'a' } },
        { hub: { subscriptions: [{ topic: 'z' }] }, remote: { name: 'a', clientid: 'edge-2' } },
        { hub: { subscriptions: [{ topic: 'z' }] }, remote: { name: 'b' } },
      ],
    };
    const plan = planBridge(BridgeConfigSchema.parse(input));
    expect(plan.connections.map((c) => c.id)).toEqual([
      'hub/edge-1',
      'remote/a/edge-1',
      'hub/edge-2',
      'remote/a/edge-2',
      'hub/b',
      'remote/b/b',
    ]);
    // merged subscription keeps the highest QoS; each route keeps its own
    expect(plan.connections[0]?.subscriptions).toEqual([
      { filter: 'x/#', qos: 1 },
      { filter: 'y', qos: 0 },
    ]);
    expect(plan.routes.filter((r) => r.filter === 'x/#').map((r) => r.qos)).toEqual([1, 0]);
  });

  it('marks a same-topic rule both ways as a possible loop on both sides', () => {
    const input: BridgeConfigInput = {
      hub: { address: 'tcp://127.0.0.1:1883' },
      remotes: [remote('cloud')],
      rules: [
        {
          hub: { subscriptions: [{ topic: 'sync/#' }] },
          remote: { name: 'cloud', subscriptions: [{ topic: 'sync/+' }] },
        },
      ],
    };
    const plan = planBridge(BridgeConfigSchema.parse(input));
    expect(plan.connections.map((c) => c.echoPossible)).toEqual([true, true]);
  });
});
