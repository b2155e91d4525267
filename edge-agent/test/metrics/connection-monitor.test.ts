import { join } from 'node:path';
import { Writable } from 'node:stream';
import { HubClientSchema } from '@tether/shared';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { freePort } from '@tether/test-helpers/ports';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionMonitor } from '../../src/metrics/connection-monitor.js';
import { MqttEndpoint } from '../../src/transport/mqtt-endpoint.js';

const td = new Teardown();
afterEach(() => td.run());

/** A logger whose lines a test can read. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, stream), lines };
}

describe('ConnectionMonitor', () => {
  it('logs an outage at warn when it starts, a summary while it lasts, and once when it ends', async () => {
    const dir = tempDir(td, 'tether-monitor-');
    const port = await freePort();
    const { logger, lines } = capturingLogger();
    const config = HubClientSchema.parse({
      address: `tcp://127.0.0.1:${port}`,
      backoff: { min: '50ms', max: '100ms' },
    });
    const endpoint = new MqttEndpoint({
      name: 'cloud',
      config,
      clientId: 'edge-1',
      configDir: dir,
      logger,
      field: 'remotes[0]',
    });
    const monitor = new ConnectionMonitor(logger, () => 42, 300);
    monitor.follow(new Map([['remote/cloud/edge-1', endpoint]]));
    const abort = new AbortController();
    td.add('endpoint', () => endpoint.stop(0));
    td.add('monitor', () => monitor.stop());
    await endpoint.start(abort.signal);

    const byMsg = (msg: string) => lines.filter((l) => l.msg === msg);
    await waitFor(() => byMsg('outage continues').length >= 2, { what: 'two outage summaries', timeoutMs: 10_000 });
    expect(byMsg('cannot connect: outage started')).toEqual([
      expect.objectContaining({ level: 'warn', connection: 'remote/cloud/edge-1', queued: 42 }),
    ]);
    const summary = byMsg('outage continues')[1] as Record<string, unknown>;
    expect(summary).toMatchObject({ level: 'warn', queued: 42, lastError: expect.stringMatching(/refused/) });
    expect(summary.attempts as number).toBeGreaterThan(1);
    const state = monitor.states()[0];
    expect(state?.connected).toBe(false);
    expect(state?.lastError?.message).toMatch(/refused/);

    await startMosquitto({ dir: join(dir, 'broker'), port, teardown: td });
    await waitFor(() => byMsg('connection back: outage over').length === 1, {
      what: 'the outage end',
      timeoutMs: 10_000,
    });
    expect(byMsg('connection back: outage over')[0]).toMatchObject({
      level: 'info',
      connection: 'remote/cloud/edge-1',
    });
    expect(monitor.states()[0]?.connected).toBe(true);
  }, 30_000);
});
