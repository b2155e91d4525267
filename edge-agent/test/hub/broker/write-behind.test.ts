import { silentLogger } from '@tether/node-shared/logging';
import { afterEach, describe, expect, it } from 'vitest';
import type { EmbeddedHub } from '../../../src/hub/embedded-hub.js';
import { SqliteStore } from '../../../src/queue/sqlite-store.js';
import { Resources, seedConfig, urlOf } from '../hub-fixtures.js';

const res = new Resources();
afterEach(() => res.close());
const AUTH = { username: 'test', password: 'hahaha' };
/** A group commit this slow leaves the in-process subscriber all the time it needs to acknowledge first. */
const COMMIT_DELAY_MS = 1_000;

async function hubOn(dir: string, r: Resources = res): Promise<EmbeddedHub> {
  const store = r.add(
    SqliteStore.open(dir, { durability: 'process', commitDelayMs: COMMIT_DELAY_MS }, silentLogger()),
    (s) => s.close(),
  );
  return r.hub(seedConfig(), silentLogger(), process.cwd(), store);
}

describe('persistent sessions and the store', () => {
  it('does not write the deliveries an online subscriber acknowledged before the commit, and keeps none', async ({
    onTestFinished,
  }) => {
    const dir = res.tempDir();
    // the first hub's own resources: closing them keeps the data dir
    const first = new Resources();
    onTestFinished(() => first.close());
    const hub = await hubOn(dir, first);
    const url = urlOf(hub, 'tcp');
    const sub = await first.client(url, { ...AUTH, clientId: 'fast-sub', clean: false });
    await sub.subscribeAsync('wb/#', { qos: 1 });
    const got: string[] = [];
    sub.on('message', (_t, payload) => got.push(payload.toString()));
    const pub = await first.client(url, { ...AUTH, clientId: 'wb-pub' });
    await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publishAsync('wb/x', String(i), { qos: 1 })));
    const deadline = Date.now() + 5_000;
    while (got.length < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(new Set(got).size).toBe(200);
    // the 200 PUBACKs each waited for a commit; most of the subscriber's acks came before theirs
    expect(hub.broker.status().deliveriesNeverWritten).toBeGreaterThan(0);
    await sub.endAsync();
    await first.close();

    // what the store kept for the session: its subscription, no message (all were acknowledged)
    const again = await hubOn(dir);
    const back = await res.client(urlOf(again, 'tcp'), { ...AUTH, clientId: 'fast-sub', clean: false });
    const redelivered: string[] = [];
    back.on('message', (_t, payload) => redelivered.push(payload.toString()));
    const probe = await res.client(urlOf(again, 'tcp'), { ...AUTH, clientId: 'wb-probe' });
    await probe.publishAsync('wb/probe', 'after', { qos: 1 });
    const until = Date.now() + 5_000;
    while (!redelivered.includes('after') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(redelivered).toEqual(['after']);
  });
});
