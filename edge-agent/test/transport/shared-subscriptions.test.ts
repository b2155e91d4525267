import { HubClientSchema } from '@tether/shared';
import { Teardown } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { filtersOverlap } from '../../src/rules/filter-overlap.js';
import { MqttEndpoint } from '../../src/transport/mqtt-endpoint.js';
import { ScriptedBroker } from './scripted-broker.js';

const td = new Teardown();
afterEach(() => td.run());

describe('shared subscriptions on the mqtt endpoint (MQTT 5)', () => {
  it('sends No Local on plain filters only, never on $share/ [MQTT-3.8.3-4]; then keeps the echo guard', async () => {
    // a server that records the SUBSCRIBE as sent (Mosquitto 2.0 accepts No Local on $share/ silently)
    const broker = new ScriptedBroker();
    const address = await broker.start();
    td.add('scripted broker', () => broker.stop());
    const config = HubClientSchema.parse({ address, protocol: 5 });
    const endpoint = new MqttEndpoint({
      name: 'cloud',
      config,
      clientId: 'edge-1',
      configDir: '.',
      logger: pino({ level: 'silent' }),
      field: 'remotes[0]',
    });
    const abort = new AbortController();
    td.add('endpoint', async () => {
      await endpoint.stop(0);
      abort.abort();
    });
    await endpoint.subscribe('down/#', 1, () => {});
    expect(endpoint.suppressesEchoes).toBe(true);
    await endpoint.subscribe('$share/edges/jobs/#', 1, () => {});
    await endpoint.start(abort.signal);
    await waitFor(() => endpoint.connected, { what: 'the endpoint to connect' });
    expect(broker.subscriptions.map((s) => [s.topic, s.nl === true])).toEqual([
      ['down/#', true],
      ['$share/edges/jobs/#', false],
    ]);
    expect(endpoint.suppressesEchoes).toBe(false);
  });

  it('a shared filter overlaps what its filter after $share/GROUP/ overlaps (so the guard is planned)', () => {
    expect(filtersOverlap('jobs/a', '$share/edges/jobs/#')).toBe(true);
    expect(filtersOverlap('$share/g/x/+', 'x/y')).toBe(true);
    expect(filtersOverlap('other/a', '$share/edges/jobs/#')).toBe(false);
  });
});
