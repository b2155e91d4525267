import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HubClientSchema } from '@tether/shared';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { findExecutable } from '@tether/test-helpers/process';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import type { EndpointEvent } from '../../src/core/message-endpoint.js';
import { MqttEndpoint } from '../../src/transport/mqtt-endpoint.js';
import { captureLogger } from '../adapters/cloud-adapter-contract.js';

const td = new Teardown();
afterEach(() => td.run());

describe('a hub (or broker) that refuses the login', () => {
  it('is retried with backoff like any connection error, reported once, and connects once the login is right', async () => {
    const dir = tempDir(td, 'tether-auth-retry-');
    // given a broker whose principal has another password than the bridge's
    const broker = await startMosquitto({ dir, users: { bridge: 'old-secret' }, teardown: td });
    const { logger, lines } = captureLogger();
    const config = HubClientSchema.parse({
      address: `tcp://127.0.0.1:${broker.port}`,
      username: 'bridge',
      password: 'new-secret',
      backoff: { min: 20, max: 80 },
    });
    const hub = new MqttEndpoint({ name: 'hub', config, clientId: 'bridge-1', configDir: dir, logger, field: 'hub' });
    const events: EndpointEvent[] = [];
    hub.onEvent((e) => events.push(e));
    const abort = new AbortController();
    td.add('endpoint', async () => {
      await hub.stop(0);
      abort.abort();
    });
    await hub.start(abort.signal);
    // when it keeps being refused
    const stillFailing = () => lines.filter((l) => l.msg === 'still failing').length;
    await waitFor(() => stillFailing() >= 3, { what: 'several refused attempts', timeoutMs: 10_000 });
    // then the refusal was reported once (error level, one event), the later ones only at debug
    const errors = events.filter((e) => e.type === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ error: { code: 'TETHER_ERR_AUTH', message: expect.stringMatching(/refused/) } });
    expect(lines.filter((l) => l.level === 50)).toHaveLength(1);
    // and once the hub takes the password, the next attempt connects
    const passwd = findExecutable('mosquitto_passwd', { extraDirs: ['/usr/bin', '/usr/sbin'] });
    await promisify(execFile)(passwd, ['-b', join(dir, 'mosquitto.passwd'), 'bridge', 'new-secret']);
    await broker.restart();
    await waitFor(() => hub.connected, { what: 'the login to be accepted', timeoutMs: 10_000 });
    expect(events.at(-1)).toEqual({ type: 'connected', sessionPresent: false });
  });
});
