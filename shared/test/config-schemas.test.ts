import { seedYaml } from '@tether/test-helpers/seed';
import { describe, expect, it } from 'vitest';
import { BridgeConfigSchema, ConfigError, HubConfigSchema, parseDurationMs, parseWith } from '../src/index.js';

describe('the seed guide files, verbatim', () => {
  it('parse the remote service.yml with Baetyl defaults', () => {
    // given the seed's Baetyl-Remote-MQTT config
    const config = BridgeConfigSchema.parse(seedYaml('remote-service.yml'));
    // then every field means what it meant in Baetyl
    expect(config.name).toBe('remote-iothub');
    expect(config.hub).toMatchObject({ address: 'tcp://localhub:1883', username: 'test', password: 'hahaha' });
    const [remote] = config.remotes;
    expect(remote).toMatchObject({
      name: 'iothub',
      provider: 'mqtt',
      address: 'ssl://xxxxxx.mqtt.iot.bj.baidubce.com:1884',
      clientid: 'remote-iothub-1',
      ca: 'var/db/baetyl/cert/ca.pem',
      cleansession: false,
      insecure: false,
      timeout: 30_000,
      interval: 60_000,
      keepalive: 600_000,
      buffersize: 10,
      protocol: 4,
    });
    expect(config.rules[0]?.hub.subscriptions).toEqual([{ topic: 't1', qos: 0, retain: true }]);
    expect(config.rules[0]?.remote.subscriptions).toEqual([{ topic: 't2', qos: 1, retain: true }]);
    expect(config.logger).toMatchObject({ path: 'var/log/baetyl/remote-service.log', level: 'debug' });
  });

  it('parse the hub service.yml', () => {
    const config = HubConfigSchema.parse(seedYaml('hub-service.yml'));
    expect(config.listen).toEqual(['tcp://0.0.0.0:1883']);
    expect(config.principals[0]).toEqual({
      username: 'test',
      password: 'hahaha',
      permissions: [
        { action: 'pub', permit: ['#'] },
        { action: 'sub', permit: ['#'] },
      ],
    });
  });
});

describe('bad bridge configs name the field', () => {
  const problems = (data: unknown) => {
    try {
      parseWith(BridgeConfigSchema, data, 'bridge.yml');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).problems;
    }
    throw new Error('expected the config to be refused');
  };
  const base = () => seedYaml('remote-service.yml') as Record<string, any>;

  it('a missing address', () => {
    const data = base();
    delete data.remotes[0].address;
    expect(problems(data)).toEqual([expect.stringMatching(/^remotes\[0\]\.address: /)]);
  });

  it('a wrong type', () => {
    const data = base();
    data.remotes[0].cleansession = 'yes';
    data.rules[0].remote.subscriptions[0].qos = 3;
    const found = problems(data);
    expect(found).toContainEqual(expect.stringMatching(/^remotes\[0\]\.cleansession: /));
    expect(found).toContainEqual(expect.stringMatching(/^rules\[0\]\.remote\.subscriptions\[0\]\.qos: /));
  });

  it('an unknown remote name in a rule', () => {
    const data = base();
    data.rules[0].remote.name = 'nowhere';
    expect(problems(data)).toEqual(['rules[0].remote.name: no remote "nowhere" (remotes: iothub)']);
  });

  it('a duplicate remote name', () => {
    const data = base();
    data.remotes.push({ ...data.remotes[0] });
    expect(problems(data)).toEqual(['remotes[1].name: duplicate remote name "iothub"']);
  });

  it('an invalid topic filter and a bad address scheme', () => {
    const data = base();
    data.rules[0].hub.subscriptions[0].topic = 'a/#/b';
    data.hub.address = 'http://localhub:1883';
    const found = problems(data);
    expect(found).toContainEqual(expect.stringMatching(/^rules\[0\]\.hub\.subscriptions\[0\]\.topic: '#' must be/));
    expect(found).toContainEqual(expect.stringMatching(/^hub\.address: unknown scheme "http": expected tcp, ssl, ws/));
  });

  it('a bad duration', () => {
    const data = base();
    data.remotes[0].timeout = 'soon';
    expect(problems(data)).toEqual([expect.stringMatching(/^remotes\[0\]\.timeout: expected a duration/)]);
  });

  it('a read pause long enough to stall traffic, while the default is 1 ms', () => {
    expect(BridgeConfigSchema.parse(base()).hub.readpause).toBe(1);
    const data = base();
    data.hub.readpause = '1m';
    data.remotes[0].readpause = '100ms';
    expect(problems(data)).toEqual(["hub.readpause: at most 100ms: it is added to every message's latency under load"]);
  });
});

describe('bad hub configs', () => {
  it('refuses a duplicate username, a bad permit and ssl without certificate', () => {
    const data = seedYaml('hub-service.yml') as Record<string, any>;
    data.listen.push('ssl://0.0.0.0:8883');
    data.principals.push({ username: 'test', password: 'x', permissions: [{ action: 'sub', permit: ['a+/b'] }] });
    const result = HubConfigSchema.safeParse(data);
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining(['principals.1.username', 'principals.1.permissions.0.permit.0', 'certificate']),
    );
  });
});

describe('Go durations', () => {
  it.each([
    ['30s', 30_000],
    ['1m', 60_000],
    ['10m', 600_000],
    ['500ms', 500],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });
});
