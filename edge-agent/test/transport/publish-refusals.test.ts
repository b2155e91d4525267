import { HubClientSchema } from '@tether/shared';
import { Teardown } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import { pubackOutcome } from '../../src/adapters/aws-iot-errors.js';
import type { BridgeMessage } from '../../src/core/bridge-message.js';
import type { PublishOutcome } from '../../src/core/message-endpoint.js';
import { MqttEndpoint } from '../../src/transport/mqtt-endpoint.js';
import { refusalKind } from '../../src/transport/publish-refusals.js';
import { captureLogger } from '../adapters/cloud-adapter-contract.js';
import { ScriptedBroker } from './scripted-broker.js';

const message = (topic: string): BridgeMessage => ({ topic, payload: Buffer.from('x'), qos: 1, retain: false });

describe('PUBACK reason codes: final or for now', () => {
  it.each([0x87, 0x90, 0x95, 0x99, 0x9a, 0x9b])(
    'reason code %d is final: the message can never be accepted',
    (code) => {
      expect(refusalKind(code)).toBe('final');
    },
  );
  it.each([0x80, 0x83, 0x89, 0x91, 0x96, 0x97, 0xfe])('reason code %d is transient: the message is kept', (code) => {
    expect(refusalKind(code)).toBe('transient');
  });

  it("the aws-iot adapter reads the SDK's PUBACK the same way", () => {
    const quota = pubackOutcome('aws', 'up/a', { type: 4, reasonCode: 0x97, reasonString: 'throughput quota' });
    expect(quota).toMatchObject({ status: 'retryable', error: { code: 'TETHER_ERR_PUBLISH' } });
    expect(quota.status !== 'acked' && quota.error.message).toBe(
      'aws: publish to up/a refused: quota exceeded (0x97): throughput quota',
    );
    expect(pubackOutcome('aws', 'up/a', { type: 4, reasonCode: 0x87 }).status).toBe('rejected');
    expect(pubackOutcome('aws', 'up/a', { type: 4, reasonCode: 0x10 }).status).toBe('acked');
  });
});

describe('the mqtt endpoint under a broker that throttles', () => {
  const td = new Teardown();
  afterEach(() => td.run());

  async function endpointAt(backoff: { min: number; max: number }) {
    const broker = new ScriptedBroker();
    const address = await broker.start();
    td.add('scripted broker', () => broker.stop());
    const { logger, lines } = captureLogger();
    const config = HubClientSchema.parse({ address, protocol: 5, backoff });
    const endpoint = new MqttEndpoint({
      name: 'cloud',
      config,
      clientId: 'edge-1',
      configDir: '.',
      logger,
      field: 'remotes[0]',
    });
    const abort = new AbortController();
    td.add('endpoint', async () => {
      await endpoint.stop(0);
      abort.abort();
    });
    await endpoint.start(abort.signal);
    await waitFor(() => endpoint.connected, { what: 'the endpoint to connect' });
    return { broker, endpoint, lines };
  }

  it('keeps a message refused with 0x97 and 0x96: retryable, then accepted; reported once, counted', async () => {
    const { broker, endpoint, lines } = await endpointAt({ min: 10, max: 40 });
    broker.script.push(0x97, 0x96);
    // when the dispatcher sends the same message until the broker takes it
    const outcomes: PublishOutcome[] = [];
    for (let i = 0; i < 5 && outcomes.at(-1)?.status !== 'acked'; i++)
      outcomes.push(await endpoint.publish(message('up/a')));
    // then it was never dropped: twice retryable (naming the reason), then acked
    expect(outcomes.map((o) => o.status)).toEqual(['retryable', 'retryable', 'acked']);
    expect(outcomes[0]?.status === 'retryable' && outcomes[0].error.message).toMatch(/quota exceeded \(0x97\)/);
    expect(outcomes[1]?.status === 'retryable' && outcomes[1].error.message).toMatch(/message rate too high \(0x96\)/);
    expect(broker.published.map((p) => p.topic)).toEqual(['up/a', 'up/a', 'up/a']);
    expect(endpoint.refusedTransient).toBe(2);
    // one warning for the series, not one per refusal
    expect(lines.filter((l) => l.level === 40 && /sent again after a backoff/.test(String(l.msg)))).toHaveLength(1);
  });

  it('holds a transient refusal for the backoff instead of handing it straight back', async () => {
    // a backoff far longer than the test: the refusal can only come back through stop()
    const { broker, endpoint } = await endpointAt({ min: 600_000, max: 600_000 });
    broker.script.push(0x89);
    let refused: PublishOutcome | undefined;
    void endpoint.publish(message('up/busy')).then((o) => {
      refused = o;
    });
    // PUBACKs come in order: once the second message is acked, the first one's PUBACK was read
    expect(await endpoint.publish(message('up/next'))).toEqual({ status: 'acked' });
    expect(refused).toBeUndefined();
    await endpoint.stop(0);
    await waitFor(() => refused !== undefined, { what: 'the held refusal at stop' });
    expect(refused).toMatchObject({ status: 'retryable', error: { message: expect.stringMatching(/server busy/) } });
  });

  it('drops a message refused for good (0x87), without counting it as transient', async () => {
    const { broker, endpoint } = await endpointAt({ min: 10, max: 40 });
    broker.script.push(0x87);
    const outcome = await endpoint.publish(message('up/denied'));
    expect(outcome).toMatchObject({ status: 'rejected', error: { message: expect.stringMatching(/not authorized/) } });
    expect(endpoint.refusedTransient).toBe(0);
  });
});
