import { silentLogger } from '@tether/node-shared/logging';
import { SEED_LOGIN } from '@tether/test-helpers/seed';
import { waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import type { EmbeddedHub } from '../../../src/hub/embedded-hub.js';
import { SqliteStore } from '../../../src/queue/sqlite-store.js';
import { Resources, seedConfig, urlOf } from '../hub-fixtures.js';

const res = new Resources();
afterEach(() => res.run());
/** A group commit this slow leaves the in-process subscriber all the time it needs to acknowledge first. */
const COMMIT_DELAY_MS = 1_000;

async function hubOn(dir: string, r: Resources = res): Promise<EmbeddedHub> {
  const store = r.keep(
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
    onTestFinished(() => first.run());
    const hub = await hubOn(dir, first);
    const url = urlOf(hub, 'tcp');
    const sub = await first.client(url, { ...SEED_LOGIN, clientId: 'fast-sub', clean: false });
    await sub.subscribeAsync('wb/#', { qos: 1 });
    const got: string[] = [];
    sub.on('message', (_t, payload) => got.push(payload.toString()));
    const pub = await first.client(url, { ...SEED_LOGIN, clientId: 'wb-pub' });
    await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publishAsync('wb/x', String(i), { qos: 1 })));
    await waitFor(() => got.length >= 200, {
      what: '200 messages at the subscriber',
      timeoutMs: 5_000,
      intervalMs: 20,
    });
    expect(new Set(got).size).toBe(200);
    // the 200 PUBACKs each waited for a commit; most of the subscriber's acks came before theirs
    expect(hub.broker.status().deliveriesNeverWritten).toBeGreaterThan(0);
    await sub.endAsync();
    await first.run();

    // what the store kept for the session: its subscription, no message (all were acknowledged)
    const again = await hubOn(dir);
    const back = await res.client(urlOf(again, 'tcp'), { ...SEED_LOGIN, clientId: 'fast-sub', clean: false });
    const redelivered: string[] = [];
    back.on('message', (_t, payload) => redelivered.push(payload.toString()));
    const probe = await res.client(urlOf(again, 'tcp'), { ...SEED_LOGIN, clientId: 'wb-probe' });
    await probe.publishAsync('wb/probe', 'after', { qos: 1 });
    await waitFor(() => redelivered.includes('after'), { what: 'the probe message', timeoutMs: 5_000, intervalMs: 20 });
    expect(redelivered).toEqual(['after']);
  });
});
