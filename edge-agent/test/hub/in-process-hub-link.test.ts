import { silentLogger } from '@tether/node-shared/logging';
import { HubConfigSchema, TetherError } from '@tether/shared';
import { SEED_LOGIN, SEED_PRINCIPAL } from '@tether/test-helpers/seed';
import { waitFor, withTimeout } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import type { BridgeMessage } from '../../src/core/bridge-message.js';
import type { EndpointEvent } from '../../src/core/message-endpoint.js';
import type { EmbeddedHub } from '../../src/hub/embedded-hub.js';
import { InProcessHubLink } from '../../src/hub/in-process-hub-link.js';
import { Resources, record, seedConfig, urlOf } from './hub-fixtures.js';

const res = new Resources();
afterEach(() => res.run());

const BRIDGE = {
  username: 'bridge',
  password: 'bridge-pw',
  permissions: [
    { action: 'pub', permit: ['down/#'] },
    { action: 'sub', permit: ['up/#', 'state/+'] },
  ],
};

function config(extra: Record<string, unknown> = {}) {
  return seedConfig({ principals: [SEED_PRINCIPAL, BRIDGE], ...extra });
}

function link(hub: EmbeddedHub, username = 'bridge', password = 'bridge-pw'): InProcessHubLink {
  const l = new InProcessHubLink(hub, { username, password, clientId: 'bridge-1', logger: silentLogger() });
  return res.keep(l, (x) => x.stop(0));
}

/** Collects what a link subscription hands over; `next` waits (bounded) for a topic. */
function inbox() {
  const messages: BridgeMessage[] = [];
  const handler = (m: BridgeMessage) => {
    messages.push(m);
  };
  const next = async (topic: string) => {
    await waitFor(() => messages.some((m) => m.topic === topic), {
      what: `a message on ${topic}`,
      timeoutMs: 3_000,
      intervalMs: 5,
    });
    return messages.find((m) => m.topic === topic) as BridgeMessage;
  };
  return { messages, handler, next };
}

const start = (l: InProcessHubLink) => l.start(new AbortController().signal);

describe('InProcessHubLink', () => {
  it('round-trips with socket clients both ways', async () => {
    const hub = await res.hub(config());
    const l = link(hub);
    const events: EndpointEvent[] = [];
    l.onEvent((e) => events.push(e));
    await start(l);
    expect(l.connected).toBe(true);
    expect(events).toEqual([{ type: 'connected', sessionPresent: false }]);

    const fromHub = inbox();
    await l.subscribe('up/#', 1, fromHub.handler);
    const device = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    await device.publishAsync('up/temp', '21.5', { qos: 1 });
    expect(await fromHub.next('up/temp')).toMatchObject({ qos: 1, retain: false });
    expect((await fromHub.next('up/temp')).payload.toString()).toBe('21.5');

    const deviceInbox = record(device);
    await device.subscribeAsync('down/#', { qos: 1 });
    const outcome = await l.publish({ topic: 'down/cmd', payload: Buffer.from('go'), qos: 1, retain: false });
    expect(outcome).toEqual({ status: 'acked' });
    expect(await deviceInbox.next('down/cmd')).toMatchObject({ payload: 'go', qos: 1 });
  });

  it('caps the delivered QoS at the subscription QoS and keeps retain as published', async () => {
    const hub = await res.hub(config());
    const l = link(hub);
    await start(l);
    const q0 = inbox();
    const q2 = inbox();
    await l.subscribe('up/q0', 0, q0.handler);
    await l.subscribe('up/#', 2, q2.handler);
    const device = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    await device.publishAsync('up/q0', 'x', { qos: 1, retain: true });
    expect(await q0.next('up/q0')).toMatchObject({ qos: 0, retain: true });
    expect(await q2.next('up/q0')).toMatchObject({ qos: 1, retain: true });
  });

  it('applies the principal ACL: refused subscribe throws, refused publish is rejected', async () => {
    const hub = await res.hub(config());
    const l = link(hub);
    await start(l);
    await expect(l.subscribe('secret/#', 1, () => {})).rejects.toMatchObject({ code: 'TETHER_ERR_SUBSCRIBE' });
    await expect(l.subscribe('#', 1, () => {})).rejects.toBeInstanceOf(TetherError);
    const outcome = await l.publish({ topic: 'up/not-mine', payload: Buffer.from('x'), qos: 1, retain: false });
    expect(outcome.status).toBe('rejected');
    expect(outcome).toMatchObject({ error: { code: 'TETHER_ERR_PUBLISH' } });
    const big = await l.publish({ topic: 'down/big', payload: Buffer.alloc(40_000), qos: 0, retain: false });
    expect(big.status).toBe('rejected'); // Baetyl's default message.length.max is 32k
  });

  it('reports wrong credentials as an error event and stays disconnected', async () => {
    const hub = await res.hub(config());
    const l = link(hub, 'bridge', 'wrong');
    const events: EndpointEvent[] = [];
    l.onEvent((e) => events.push(e));
    await expect(start(l)).resolves.toBeUndefined();
    expect(l.connected).toBe(false);
    expect(events).toHaveLength(1);
    const event = events[0] as Extract<EndpointEvent, { type: 'error' }>;
    expect(event.type).toBe('error');
    expect(event.error.code).toBe('TETHER_ERR_AUTH');
    expect(event.error.message).toBe('hub refused credentials for user bridge');
    const outcome = await l.publish({ topic: 'down/x', payload: Buffer.from('x'), qos: 0, retain: false });
    expect(outcome.status).toBe('retryable');
  });

  it('delivers the retained messages matching a new subscription, retain set', async () => {
    const hub = await res.hub(config());
    const device = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    const own = record(device);
    await device.subscribeAsync('state/#', { qos: 1 });
    await device.publishAsync('state/door', 'open', { qos: 1, retain: true });
    await own.next('state/door'); // stored: aedes keeps the retained copy before it fans out
    const l = link(hub);
    await start(l);
    const got = inbox();
    await l.subscribe('state/+', 1, got.handler);
    expect(await got.next('state/door')).toMatchObject({ qos: 1, retain: true });
    expect(got.messages).toHaveLength(1);
  });

  it('makes subscriptions registered before start() at start, like after a CONNACK', async () => {
    const hub = await res.hub(config());
    const l = link(hub);
    const early = inbox();
    await l.subscribe('up/#', 1, early.handler);
    const refused: EndpointEvent[] = [];
    await l.subscribe('secret/#', 1, () => {}); // accepted for now, refused at start
    l.onEvent((e) => refused.push(e));
    await start(l);
    expect(refused.map((e) => e.type)).toEqual(['error', 'connected']);
    const device = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    await device.publishAsync('up/early', 'x', { qos: 1 });
    await early.next('up/early');
  });

  it('runs its publishes through the hub routes', async () => {
    const subscriptions = [{ source: { topic: 'down/+', qos: 1 }, target: { topic: 'routed', qos: 1 } }];
    const hub = await res.hub(config({ subscriptions }));
    const l = link(hub);
    await start(l);
    const device = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    const got = record(device);
    await device.subscribeAsync('routed', { qos: 1 });
    await l.publish({ topic: 'down/a', payload: Buffer.from('via route'), qos: 1, retain: false });
    expect(await got.next('routed')).toMatchObject({ payload: 'via route', qos: 1 });
  });

  it('loses nothing when QoS 1 and QoS 0 publishes are made in one tick (aedes dedupe)', async () => {
    const hub = await res.hub(config());
    const l = link(hub);
    await start(l);
    const device = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    const got = record(device);
    await device.subscribeAsync('down/#', { qos: 1 });
    const outcomes = await Promise.all([
      l.publish({ topic: 'down/q1', payload: Buffer.from('1'), qos: 1, retain: false }),
      l.publish({ topic: 'down/q0', payload: Buffer.from('0'), qos: 0, retain: false }),
      l.publish({ topic: 'down/r1', payload: Buffer.from('r'), qos: 1, retain: true }),
      l.publish({ topic: 'down/q0b', payload: Buffer.from('0'), qos: 0, retain: false }),
    ]);
    expect(outcomes.every((o) => o.status === 'acked')).toBe(true);
    for (const topic of ['down/q1', 'down/q0', 'down/r1', 'down/q0b']) await got.next(topic);
    expect(got.messages.map((m) => m.topic)).toEqual(['down/q1', 'down/q0', 'down/r1', 'down/q0b']);
  });

  it('does not hand $SYS messages to a # subscription', async () => {
    const hub = await res.hub(HubConfigSchema.parse({ listen: ['tcp://127.0.0.1:0'] })); // anonymous
    const l = link(hub, '', '');
    await start(l);
    const got = inbox();
    await l.subscribe('#', 0, got.handler);
    // a connecting client makes aedes publish $SYS/<id>/new/clients
    const device = await res.client(urlOf(hub, 'tcp'));
    await device.publishAsync('marker', 'm', { qos: 1 });
    await got.next('marker');
    expect(got.messages.map((m) => m.topic)).toEqual(['marker']);
  });

  it('stop() unsubscribes, is idempotent and ends delivery', async () => {
    const hub = await res.hub(config());
    const l = link(hub);
    await start(l);
    const got = inbox();
    await l.subscribe('up/#', 1, got.handler);
    await withTimeout(Promise.all([l.stop(), l.stop()]), 2_000, 'link stop');
    expect(l.connected).toBe(false);
    const device = await res.client(urlOf(hub, 'tcp'), SEED_LOGIN);
    const own = record(device);
    await device.subscribeAsync('up/#', { qos: 1 });
    await device.publishAsync('up/after', 'x', { qos: 1 });
    await own.next('up/after');
    expect(got.messages).toHaveLength(0);
  });
});
