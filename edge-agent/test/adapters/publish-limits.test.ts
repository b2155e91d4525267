import { RemoteSchema } from '@tether/shared';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { awsIotLimitProblem, subscribeBatches } from '../../src/adapters/aws-iot-limits.js';
import { BAIDU_LIMITS, baiduLimits } from '../../src/adapters/baidu-limits.js';
import { limitProblem } from '../../src/adapters/publish-limits.js';
import { createCloudAdapter } from '../../src/adapters/registry.js';
import type { BridgeMessage } from '../../src/core/bridge-message.js';

const bytes = (n: number) => Buffer.alloc(n, 0x61);
const levels = (n: number) => Array.from({ length: n }, (_, i) => `l${i}`).join('/');

describe('Baidu IoT Hub limits', () => {
  const check = (topic: string, payload = bytes(10), max = BAIDU_LIMITS.maxPayloadBytes) =>
    limitProblem(baiduLimits('Baidu IoT Hub', max), topic, payload);

  it('takes a topic of 255 bytes, 16 levels of 40 bytes, a payload of 32 KiB', () => {
    // eight levels of 31 bytes and seven slashes: 255 bytes
    expect(check(Array(8).fill('a'.repeat(31)).join('/'))).toBeUndefined();
    expect(check(levels(16))).toBeUndefined();
    expect(check(`${'x'.repeat(40)}/y`)).toBeUndefined();
    expect(check('t', bytes(32 * 1024))).toBeUndefined();
  });

  it('names the limit a message breaks', () => {
    expect(check('a'.repeat(256))).toBe('the topic is 256 bytes long; Baidu IoT Hub allows at most 255');
    expect(check(levels(17))).toBe('the topic has 17 levels; Baidu IoT Hub allows at most 16');
    expect(check(`ok/${'x'.repeat(41)}`)).toMatch(
      /^the topic level "x+" is 41 bytes long; Baidu IoT Hub allows at most 40 per level$/,
    );
    expect(check('t', bytes(32 * 1024 + 1))).toBe(
      'the payload is 32769 bytes; Baidu IoT Hub accepts at most 32768 (maxpayload)',
    );
  });

  it('counts UTF-8 bytes, not characters', () => {
    // 14 three-byte characters: 42 bytes in one level
    expect(check(`温度传感器温度传感器温度传感`)).toMatch(/42 bytes long/);
  });

  it('follows a raised maxpayload', () => {
    expect(check('t', bytes(100_000), 128 * 1024)).toBeUndefined();
    expect(check('t', bytes(128 * 1024 + 1), 128 * 1024)).toMatch(/accepts at most 131072/);
  });
});

describe('AWS IoT Core limits', () => {
  it('takes 256 bytes, 7 slashes and 128 KiB', () => {
    expect(awsIotLimitProblem('a'.repeat(256), bytes(1))).toBeUndefined();
    expect(awsIotLimitProblem(levels(8), bytes(1))).toBeUndefined();
    expect(awsIotLimitProblem('t', bytes(128 * 1024))).toBeUndefined();
  });

  it('refuses a longer topic, an eighth slash, a larger payload', () => {
    expect(awsIotLimitProblem('a'.repeat(257), bytes(1))).toBe(
      'the topic is 257 bytes long; AWS IoT Core allows at most 256',
    );
    expect(awsIotLimitProblem(levels(9), bytes(1))).toBe('the topic has 9 levels; AWS IoT Core allows at most 8');
    expect(awsIotLimitProblem('t', bytes(128 * 1024 + 1))).toBe(
      'the payload is 131073 bytes; AWS IoT Core accepts at most 131072',
    );
  });

  it("does not count Basic Ingest's $aws/rules/<rule>/ prefix against the 7 slashes", () => {
    expect(awsIotLimitProblem(`$aws/rules/ingest/${levels(8)}`, bytes(1))).toBeUndefined();
    expect(awsIotLimitProblem(`$aws/rules/ingest/${levels(9)}`, bytes(1))).toMatch(/9 levels/);
  });

  it('lets devices publish to the reserved topics that take publishes', () => {
    for (const topic of [
      '$aws/things/edge-1/shadow/update',
      '$aws/things/edge-1/shadow/name/config/get',
      '$aws/things/edge-1/jobs/start-next',
      '$aws/things/edge-1/jobs/job-42/update',
      '$aws/things/edge-1/defender/metrics/json',
      '$aws/certificates/create/json',
      '$aws/provisioning-templates/fleet/provision/cbor',
    ]) {
      expect(awsIotLimitProblem(topic, bytes(1)), topic).toBeUndefined();
    }
  });

  it('refuses other $ topics before they cost the connection', () => {
    expect(awsIotLimitProblem('$SYS/broker/load', bytes(1))).toMatch(/reserved by AWS IoT Core/);
    expect(awsIotLimitProblem('$aws/things/edge-1/shadow/update/accepted', bytes(1))).toMatch(
      /reserved \$aws\/ topic that devices may not publish to/,
    );
    expect(awsIotLimitProblem('$aws/events/presence/connected/edge-1', bytes(1))).toMatch(/may not publish/);
  });
});

describe('AWS IoT subscriptions', () => {
  it('go out at most 8 per SUBSCRIBE, each filter once at its highest QoS, never above 1', () => {
    const subs = Array.from({ length: 19 }, (_, i) => ({ filter: `f/${i % 17}`, qos: i >= 17 ? 2 : 0 }));
    const batches = subscribeBatches(subs, 2);
    expect(batches.map((b) => b.length)).toEqual([8, 8, 1]);
    expect(batches.flat()).toContainEqual(['f/0', 1]);
    expect(batches.flat()).toContainEqual(['f/5', 0]);
    expect(subscribeBatches([{ filter: 'a', qos: 1 }], 0)).toEqual([[['a', 0]]]);
  });
});

describe('an over-limit message is rejected by the adapter, naming the remote and the limit', () => {
  const request = { clientId: 'edge-1', logger: pino({ level: 'silent' }), configDir: '.', field: 'remotes[0]' };
  const big: BridgeMessage = { topic: 'telemetry/big', payload: bytes(200_000), qos: 1, retain: false };

  it.each([
    ['baidu-iothub', { endpoint: 'p', region: 'bj', thing: 't', password: 's' }, /Baidu IoT Hub accepts at most 32768/],
    [
      'baidu-iotcore',
      { iotcoreid: 'abcd123', region: 'gz', devicekey: 't', devicesecret: 's' },
      /Baidu IoT Core accepts at most 32768/,
    ],
    ['aws-iot', { endpoint: 'e.example', thing: 't', cert: 'c', key: 'k' }, /AWS IoT Core accepts at most 131072/],
  ])('%s, before connecting and without retrying', async (provider, fields, limit) => {
    // given an adapter that was never started (no broker needed: the check comes first)
    const adapter = createCloudAdapter(RemoteSchema.parse({ name: 'cloud-7', provider, ...fields }), request);
    // when a message over the payload limit is published
    const outcome = await adapter.publish(big);
    // then it is a final refusal naming the remote, the topic and the limit
    expect(outcome.status).toBe('rejected');
    if (outcome.status !== 'rejected') return;
    expect(outcome.error.code).toBe('TETHER_ERR_PUBLISH');
    expect(outcome.error.message).toMatch(/^cloud-7: not sent to telemetry\/big: the payload is 200000 bytes; /);
    expect(outcome.error.message).toMatch(limit);
    // while a message within the limits, unconnected, is only retryable
    expect((await adapter.publish({ ...big, payload: bytes(10) })).status).toBe('retryable');
  });

  it('the generic mqtt provider has no cloud limits of its own', async () => {
    const adapter = createCloudAdapter(RemoteSchema.parse({ name: 'any', address: 'tcp://127.0.0.1:1' }), request);
    expect((await adapter.publish(big)).status).toBe('retryable');
  });
});
