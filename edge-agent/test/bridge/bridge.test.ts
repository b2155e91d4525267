import { type QoS, type QueueConfig, QueueConfigSchema, TetherError } from '@tether/shared';
import { describe, expect, it } from 'vitest';
import { Bridge } from '../../src/bridge/bridge.js';
import type { MessageEndpoint } from '../../src/core/message-endpoint.js';
import { queueFactory } from '../../src/queue/queue-factory.js';
import type { BridgePlan, ConnectionPlan, RoutePlan } from '../../src/rules/bridge-plan.js';
import { compileTopicMapper } from '../../src/rules/topic-map.js';
import { capturingLogger, connectionLost, FakeEndpoint, settleTurns } from './fake-endpoint.js';

/**
 * The bridge with fake endpoints and the real queues in memory mode (`durability: memory`): the
 * fan-out and what the source hears, QoS 0 while the destination is offline, drain, and reload.
 */
const HUB = 'hub/c';
const A = 'remote/a/c';
const B = 'remote/b/c';

interface RouteSpec {
  readonly to: string;
  readonly filter?: string;
  readonly qos?: QoS;
  readonly prefix?: string;
  readonly keepRetain?: boolean;
}

function route(spec: RouteSpec, rule = 0): RoutePlan {
  const filter = spec.filter ?? 't/#';
  return {
    rule,
    from: HUB,
    to: spec.to,
    filter,
    qos: spec.qos ?? 1,
    mapTopic: compileTopicMapper(spec.prefix === undefined ? undefined : { prefix: spec.prefix }),
    keepRetain: spec.keepRetain ?? true,
    publishes: spec.prefix === undefined ? filter : '#',
  };
}

/** A plan with the hub connection subscribing what the routes read, and one connection per destination. */
function plan(routes: readonly RouteSpec[], destinations: readonly string[] = [A, B]): BridgePlan {
  const planned = routes.map((r, i) => route(r, i));
  const subscriptions = new Map<string, QoS>();
  for (const r of planned) subscriptions.set(r.filter, Math.max(subscriptions.get(r.filter) ?? 0, r.qos) as QoS);
  const connection = (id: string, side: 'hub' | 'remote'): ConnectionPlan => ({
    id,
    side,
    clientId: 'c',
    ...(side === 'remote' ? { remote: id.split('/')[1] as string } : {}),
    subscriptions: side === 'hub' ? [...subscriptions].map(([filter, qos]) => ({ filter, qos })) : [],
    echoPossible: false,
  });
  return {
    connections: [connection(HUB, 'hub'), ...destinations.map((d) => connection(d, 'remote'))],
    routes: planned,
  };
}

function queueConfig(overrides: Record<string, unknown> = {}): QueueConfig {
  return QueueConfigSchema.parse({ durability: 'memory', inflight: 10, ...overrides });
}

async function setup(routes: readonly RouteSpec[], queue: QueueConfig = queueConfig()) {
  const hub = new FakeEndpoint(HUB);
  const a = new FakeEndpoint(A);
  const b = new FakeEndpoint(B);
  const endpoints = new Map<string, MessageEndpoint>([
    [HUB, hub],
    [A, a],
    [B, b],
  ]);
  const { logger, lines } = capturingLogger();
  const bridge = new Bridge({
    plan: plan(routes),
    endpoints,
    queue,
    queues: queueFactory(queue, logger, undefined),
    logger,
  });
  await bridge.start();
  hub.online();
  return { bridge, hub, a, b, endpoints, lines };
}

const topicsOf = (endpoint: FakeEndpoint) => endpoint.sent.map((m) => m.topic);
const queueOf = (bridge: Bridge, id: string) => {
  const dispatcher = bridge.dispatchers.get(id);
  if (!dispatcher) throw new Error(`no dispatcher for ${id}`);
  return dispatcher.queue;
};
/** QoS 0 dropped for destination `id` (tether_qos0_dropped_total sums them). */
const qos0Dropped = (bridge: Bridge, id = A) => queueOf(bridge, id).stats.qos0Dropped;

describe('Bridge: fan-out', () => {
  it('queues a copy for every matching route: topic mapped, QoS capped, retain kept or cleared', async () => {
    const { hub, a, b } = await setup([
      { to: A, qos: 1 },
      { to: B, qos: 0, prefix: 'edge/', keepRetain: false },
    ]);
    a.online();
    b.online();
    const result = hub.deliver('t/#', { topic: 't/1', qos: 1, retain: true });
    // memory queues: safe at once, so the source is acknowledged at once
    expect(result).toEqual({ held: false, outcome: { error: undefined }, releases: 0 });
    expect(a.sent).toEqual([{ topic: 't/1', payload: Buffer.from('p'), qos: 1, retain: true }]);
    expect(b.sent).toEqual([{ topic: 'edge/t/1', payload: Buffer.from('p'), qos: 0, retain: false }]);
  });

  it('holds the source until every queue has the message, and releases it once', async () => {
    // reject-new with room for one: B's queue, offline, is full after the first message
    const { hub, a, b } = await setup([{ to: A }, { to: B }], queueConfig({ maxmessages: 1, overflow: 'reject-new' }));
    a.autoAck = true;
    a.online();
    expect(hub.deliver('t/#', { topic: 't/0' }).outcome).toEqual({ error: undefined });
    await settleTurns();
    const second = hub.deliver('t/#', { topic: 't/1' });
    expect(second.held).toBe(true);
    await settleTurns();
    // A has it (and acked it); B has no room: the source still waits
    expect(topicsOf(a)).toEqual(['t/0', 't/1']);
    expect(second.outcome).toBeUndefined();

    b.autoAck = true;
    b.online();
    for (let i = 0; i < 10 && second.outcome === undefined; i++) await settleTurns();
    expect(second.outcome).toEqual({ error: undefined });
    expect(second.releases).toBe(1);
    expect(topicsOf(b)).toEqual(['t/0', 't/1']);
  });

  it('gives the source the error when one of two destinations cannot store the message', async () => {
    // B's queue (room for one, reject-new, offline) is full and 10,000 appends already wait for
    // room there (the queue's bound on waiters): the next one is refused with TETHER_ERR_QUEUE_FULL
    const { hub, a, b, bridge } = await setup(
      [{ to: A }, { to: B }, { to: B, filter: 'fill/#' }],
      queueConfig({ maxmessages: 1, overflow: 'reject-new' }),
    );
    a.online();
    hub.deliver('fill/#', { topic: 'fill/first' });
    const waiting = [];
    for (let i = 0; i < 10_000; i++) waiting.push(hub.deliver('fill/#', { topic: `fill/${i}` }));
    expect(waiting.every((w) => w.held && w.outcome === undefined)).toBe(true);

    const result = hub.deliver('t/#', { topic: 't/both' });
    expect(result.held).toBe(true);
    await settleTurns();
    expect(result.releases).toBe(1);
    const error = result.outcome?.error;
    expect(error).toBeInstanceOf(TetherError);
    expect((error as TetherError).code).toBe('TETHER_ERR_QUEUE_FULL');
    // A took its copy; the source, not acknowledged, sends it again (a duplicate at A at worst)
    expect(topicsOf(a)).toEqual(['t/both']);
    expect(queueOf(bridge, B).size).toBe(1);
    expect(b.sent).toEqual([]);
  });

  it('acknowledges at once a message no route takes (its destination is gone)', async () => {
    const { hub, bridge } = await setup([{ to: A }]);
    bridge.dispatchers.delete(A);
    expect(hub.deliver('t/#', { topic: 't/x' }).outcome).toEqual({ error: undefined });
  });
});

describe('Bridge: QoS 0 while the destination is offline', () => {
  it('with qos0: drop, drops and counts it, warns once per outage, and still queues QoS 1', async () => {
    const { hub, a, bridge, lines } = await setup([{ to: A }], queueConfig({ qos0: 'drop' }));
    const warnings = () => lines.filter((l) => String(l.msg).startsWith('destination offline: QoS 0'));
    for (let i = 0; i < 3; i++) {
      expect(hub.deliver('t/#', { topic: `t/q0/${i}`, qos: 0 }).outcome).toEqual({ error: undefined });
    }
    hub.deliver('t/#', { topic: 't/q1', qos: 1 });
    expect(qos0Dropped(bridge)).toBe(3);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ topic: 't/q0/0', target: A, rule: 'rules[0]' });
    expect(queueOf(bridge, A).size).toBe(1);

    a.online();
    expect(topicsOf(a)).toEqual(['t/q1']);
    hub.deliver('t/#', { topic: 't/q0/online', qos: 0 });
    expect(topicsOf(a)).toEqual(['t/q1', 't/q0/online']);

    // the next outage warns again
    a.offline();
    hub.deliver('t/#', { topic: 't/q0/again', qos: 0 });
    expect(qos0Dropped(bridge)).toBe(4);
    expect(warnings()).toHaveLength(2);
  });

  it('drops a QoS 1 message its route caps to QoS 0', async () => {
    const { hub, bridge } = await setup([{ to: A, qos: 0 }], queueConfig({ qos0: 'drop' }));
    hub.deliver('t/#', { topic: 't/capped', qos: 1 });
    expect(qos0Dropped(bridge)).toBe(1);
    expect(queueOf(bridge, A).size).toBe(0);
  });

  it('with qos0: queue, keeps it for when the destination is back', async () => {
    const { hub, a, bridge } = await setup([{ to: A }], queueConfig({ qos0: 'queue' }));
    hub.deliver('t/#', { topic: 't/q0', qos: 0 });
    expect(qos0Dropped(bridge)).toBe(0);
    a.online();
    expect(a.sent).toMatchObject([{ topic: 't/q0', qos: 0 }]);
  });

  it('drops only the copy for the offline destination; the online one gets its copy', async () => {
    const { hub, a, b, bridge } = await setup([{ to: A }, { to: B }], queueConfig({ qos0: 'drop' }));
    b.online();
    hub.deliver('t/#', { topic: 't/q0', qos: 0 });
    expect(qos0Dropped(bridge)).toBe(1);
    expect(a.sent).toEqual([]);
    expect(topicsOf(b)).toEqual(['t/q0']);
  });
});

describe('Bridge: drain', () => {
  it('refuses new messages unacknowledged from the drain on', async () => {
    const { hub, bridge } = await setup([{ to: A }]);
    await bridge.drain(100);
    const result = hub.deliver('t/#', { topic: 't/late' });
    expect(result.held).toBe(true);
    expect(String(result.outcome?.error)).toMatch(/the bridge is stopping/);
    expect(queueOf(bridge, A).size).toBe(0);
  });

  it('with memory queues, waits for the backlog to be delivered too', async () => {
    const { hub, a, bridge } = await setup([{ to: A }], queueConfig({ inflight: 2 }));
    for (let i = 0; i < 5; i++) hub.deliver('t/#', { topic: `t/${i}` });
    a.autoAck = true;
    a.online();
    await bridge.drain(5_000);
    expect(topicsOf(a)).toEqual(['t/0', 't/1', 't/2', 't/3', 't/4']);
    expect(queueOf(bridge, A).size).toBe(0);
  });
});

describe('Bridge: reload', () => {
  it('hands a connection whose endpoint changed to a new dispatcher on the same queue, nothing lost, order kept', async () => {
    const { hub, a, b, bridge, endpoints } = await setup([{ to: A }], queueConfig({ inflight: 3 }));
    a.online();
    for (let i = 0; i < 6; i++) hub.deliver('t/#', { topic: `t/${i}` });
    a.ack();
    await settleTurns();
    expect(a.pending.map((p) => p.message.topic)).toEqual(['t/1', 't/2', 't/3']);
    const before = bridge.dispatchers.get(A);
    const queue = queueOf(bridge, A);

    // as Agent.rewire: apply with a new endpoint (not connected yet), stop the old one, start the new
    const a2 = new FakeEndpoint(A);
    await bridge.apply(plan([{ to: A }]), new Map<string, MessageEndpoint>([...endpoints, [A, a2]]));
    expect(bridge.dispatchers.get(A)).not.toBe(before);
    expect(queueOf(bridge, A)).toBe(queue);
    hub.deliver('t/#', { topic: 't/6' }); // arrives during the reload
    a.ack(); // t/1: acked just before the old connection went
    a.offline();
    a.settleAll(connectionLost());
    await settleTurns();

    a2.autoAck = true;
    a2.online();
    for (let i = 0; i < 20 && queue.size > 0; i++) await settleTurns();
    expect(topicsOf(a)).toEqual(['t/0', 't/1', 't/2', 't/3']);
    expect(topicsOf(a2)).toEqual(['t/2', 't/3', 't/4', 't/5', 't/6']);
    expect(queue.size).toBe(0);
    expect(bridge.dispatchers.get(A)?.stats.forwarded).toBe(7);
    expect(b.sent).toEqual([]);
  });

  it('keeps the same dispatcher for a connection whose endpoint did not change', async () => {
    const { bridge, endpoints } = await setup([{ to: A }]);
    const before = bridge.dispatchers.get(A);
    await bridge.apply(plan([{ to: A }]), endpoints);
    expect(bridge.dispatchers.get(A)).toBe(before);
  });

  it('parks the queue of a connection a reload removed, and hands it back when the connection returns', async () => {
    const { hub, a, bridge, endpoints, lines } = await setup([{ to: A }, { to: B }]);
    hub.deliver('t/#', { topic: 't/kept' });
    const queue = queueOf(bridge, A);
    await bridge.apply(plan([{ to: B }], [B]), endpoints);
    expect(bridge.dispatchers.has(A)).toBe(false);
    expect(lines.some((l) => String(l.msg).startsWith('connection removed by reload'))).toBe(true);
    // the hub endpoint drops no filter: t/# is still read for B
    hub.deliver('t/#', { topic: 't/only-b' });
    expect(queue.size).toBe(1);

    await bridge.apply(plan([{ to: A }, { to: B }]), endpoints);
    expect(queueOf(bridge, A)).toBe(queue);
    a.online();
    expect(topicsOf(a)).toEqual(['t/kept']);
  });

  it('unsubscribes a filter no route reads any more, where the endpoint can', async () => {
    const { hub, bridge, endpoints } = await setup([{ to: A }, { to: B, filter: 'other/#' }]);
    expect([...hub.subscriptions.keys()].sort()).toEqual(['other/#', 't/#']);
    await bridge.apply(plan([{ to: A }]), endpoints);
    expect(hub.unsubscribed).toEqual(['other/#']);
    expect([...hub.subscriptions.keys()]).toEqual(['t/#']);
  });
});
