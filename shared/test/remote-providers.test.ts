import { seedYaml } from '@tether/test-helpers/seed';
import { describe, expect, it } from 'vitest';
import { BridgeConfigSchema, ConfigError, parseWith, REMOTE_PROVIDERS, RemoteSchema } from '../src/index.js';

/** The bridge config's problems for a given remotes[0], as `path: message` lines. */
function problems(remote: Record<string, unknown>): string[] {
  const data = seedYaml('remote-service.yml');
  data.remotes[0] = remote;
  data.rules[0].remote.name = remote.name; // a rule names the remote under test
  try {
    parseWith(BridgeConfigSchema, data, 'bridge.yml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected the config to be refused');
}

const remote = (fields: Record<string, unknown>) => RemoteSchema.parse({ name: 'cloud', ...fields });

describe('provider: the remote schema is a discriminated union', () => {
  it('keeps a Baetyl remote without provider as mqtt, every field as before', () => {
    // given the seed's remote, which has no provider field
    const config = BridgeConfigSchema.parse(seedYaml('remote-service.yml'));
    // then it is the generic MQTT provider with Baetyl's defaults
    expect(config.remotes[0]).toMatchObject({
      provider: 'mqtt',
      address: 'ssl://xxxxxx.mqtt.iot.bj.baidubce.com:1884',
      username: 'xxxx/test',
      maxqos: 2,
      protocol: 4,
    });
  });

  it('names the field and the choices for an unknown provider', () => {
    expect(problems({ name: 'cloud', provider: 'azure', address: 'ssl://h:8883' })).toEqual([
      'remotes[0].provider: unknown provider "azure": expected mqtt, baidu-iotcore, baidu-iothub, aws-iot (mqtt when absent)',
    ]);
  });

  it('names as choices exactly the providers the union takes', () => {
    expect(REMOTE_PROVIDERS[0]).toBe('mqtt'); // the default comes first, as the message says
    for (const provider of REMOTE_PROVIDERS) {
      // refused for its missing fields, never as an unknown provider
      expect(problems({ name: 'cloud', provider }).join('\n')).not.toContain('unknown provider');
    }
  });

  it('accepts mqtt spelled out, with MQTT 5 and a wss address', () => {
    expect(remote({ provider: 'mqtt', address: 'wss://broker:443/mqtt', protocol: 5 })).toMatchObject({
      provider: 'mqtt',
      protocol: 5,
    });
  });
});

describe('provider: baidu-iothub', () => {
  it('derives the ssl address and the endpoint/thing username', () => {
    const config = remote({
      provider: 'baidu-iothub',
      endpoint: 'myproject',
      region: 'bj',
      thing: 'edge-1',
      password: 's',
    });
    expect(config).toMatchObject({
      address: 'ssl://myproject.mqtt.iot.bj.baidubce.com:1884',
      username: 'myproject/edge-1',
      maxqos: 1,
      maxpayload: 32 * 1024,
      transport: 'ssl',
    });
  });

  it('derives wss on 8884 and tcp on 1883', () => {
    const base = { provider: 'baidu-iothub', endpoint: 'p', region: 'gz', thing: 't', password: 's' };
    expect(remote({ ...base, transport: 'wss' }).address).toBe('wss://p.mqtt.iot.gz.baidubce.com:8884/mqtt');
    expect(remote({ ...base, transport: 'tcp' }).address).toBe('tcp://p.mqtt.iot.gz.baidubce.com:1883');
  });

  it('keeps an explicit address and username, and a raised payload limit', () => {
    const config = remote({
      provider: 'baidu-iothub',
      address: 'ssl://127.0.0.1:18884',
      username: 'p/t',
      cert: 'client.pem',
      key: 'client.key',
      maxpayload: '128k',
    });
    expect(config).toMatchObject({ address: 'ssl://127.0.0.1:18884', username: 'p/t', maxpayload: 131_072 });
  });

  it('lists every missing piece at once', () => {
    expect(problems({ name: 'cloud', provider: 'baidu-iothub', region: 'bj' })).toEqual([
      expect.stringMatching(/^remotes\[0\]\.address: give address, or endpoint and region/),
      expect.stringMatching(/^remotes\[0\]\.username: give username, or endpoint and thing/),
      expect.stringMatching(/^remotes\[0\]\.password: Baidu IoT Hub needs a password, or a client certificate/),
    ]);
  });

  it('refuses a region that is not a DNS label', () => {
    const found = problems({
      name: 'c',
      provider: 'baidu-iothub',
      endpoint: 'p',
      region: 'b j',
      thing: 't',
      password: 's',
    });
    expect(found).toEqual([expect.stringMatching(/^remotes\[0\]\.region: expected a region/)]);
  });
});

describe('provider: baidu-iotcore', () => {
  // the device of Baidu's own example ("通过MQTT连接及收发消息"): its MD5 login without a clock
  const fromConsole = { iotcoreid: 'abcd123', region: 'gz', devicekey: 'mydevice', devicesecret: 'ImSeCrEt0I1M2jkl' };

  it("derives Baidu's broker address, the thingidp username and the signed password from the console's fields", () => {
    const config = remote({ provider: 'baidu-iotcore', ...fromConsole, algorithm: 'md5' });
    expect(config).toMatchObject({
      address: 'ssl://abcd123.iot.gz.baidubce.com:1884',
      username: 'thingidp@abcd123|mydevice|0|MD5',
      password: '22bc75231495220c7a2202fe15f7d286',
      clientid: 'mydevice',
      maxqos: 1,
      protocol: 4,
      maxpayload: 32 * 1024,
    });
  });

  it('signs with SHA256 unless told otherwise; tcp on 1883; an explicit client id wins', () => {
    const config = remote({
      provider: 'baidu-iotcore',
      ...fromConsole,
      region: 'bj',
      transport: 'tcp',
      clientid: 'gw',
    });
    expect(config).toMatchObject({
      address: 'tcp://abcd123.iot.bj.baidubce.com:1883',
      username: 'thingidp@abcd123|mydevice|0|SHA256',
      password: '8b84e00accf874b07c1ac586830d211386294df1d2303d40d19c007c0e937af5',
      clientid: 'gw',
    });
  });

  it('a certificate device needs no secret and sends no username', () => {
    const config = remote({
      provider: 'baidu-iotcore',
      iotcoreid: 'abcd123',
      region: 'gz',
      devicekey: 'gw-1',
      cert: 'client.pem',
      key: 'client.key',
    });
    expect(config).toMatchObject({ address: 'ssl://abcd123.iot.gz.baidubce.com:1884', clientid: 'gw-1' });
    expect(config.username).toBeUndefined();
    expect(config.password).toBeUndefined();
  });

  it('names each missing or bad field at once, never echoing the secret', () => {
    const found = problems({ name: 'cloud', provider: 'baidu-iotcore', region: 'gz', timestamped: true });
    expect(found).toEqual([
      expect.stringMatching(/^remotes\[0\]\.address: give address, or iotcoreid and region/),
      'remotes[0].devicesecret: Baidu IoT Core needs devicesecret (signature auth), or a client certificate (cert and key)',
      'remotes[0].timestamped: a timestamped login is signed with devicesecret: give it',
      'remotes[0].clientid: give devicekey (the client id defaults to it) or clientid',
    ]);
    const bad = problems({
      name: 'cloud',
      provider: 'baidu-iotcore',
      ...fromConsole,
      devicekey: 'my|device',
      algorithm: 'sha1',
      password: 'p',
    });
    expect(bad).toEqual(
      expect.arrayContaining([
        'remotes[0].devicekey: expected the device name: 1-40 letters, digits, "-" or "_"',
        'remotes[0].algorithm: expected SHA256 or MD5',
        'remotes[0].password: give devicesecret or username and password, not both',
      ]),
    );
    expect(bad.join('\n')).not.toContain('ImSeCrEt');
  });

  it('a secret without the device it belongs to is refused, naming the missing field', () => {
    expect(
      problems({ name: 'c', provider: 'baidu-iotcore', address: 'ssl://h:1884', iotcoreid: 'a', devicesecret: 's' }),
    ).toEqual([
      'remotes[0].devicekey: devicesecret needs iotcoreid and devicekey: the username is thingidp@<iotcoreid>|<devicekey>|…',
      'remotes[0].clientid: give devicekey (the client id defaults to it) or clientid',
    ]);
  });
});

describe('provider: aws-iot', () => {
  it('derives the address on 8883 and the client id from the thing, MQTT 5 and QoS 1 at most', () => {
    const config = remote({
      provider: 'aws-iot',
      endpoint: 'abc123-ats.iot.eu-west-1.amazonaws.com',
      thing: 'edge-1',
      cert: 'client.pem',
      key: 'client.key',
    });
    expect(config).toMatchObject({
      address: 'ssl://abc123-ats.iot.eu-west-1.amazonaws.com:8883',
      clientid: 'edge-1',
      protocol: 5,
      maxqos: 1,
    });
  });

  it('uses port 443 when asked, and an explicit client id over the thing', () => {
    const config = remote({
      provider: 'aws-iot',
      endpoint: 'abc123-ats.iot.eu-west-1.amazonaws.com',
      port: 443,
      thing: 'edge-1',
      clientid: 'edge-1-bridge',
      cert: 'c',
      key: 'k',
    });
    expect(config).toMatchObject({
      address: 'ssl://abc123-ats.iot.eu-west-1.amazonaws.com:443',
      clientid: 'edge-1-bridge',
    });
  });

  it('the client id default reaches the bridge plan through remotes[].clientid', () => {
    const data = seedYaml('remote-service.yml');
    data.remotes[0] = {
      name: 'iothub',
      provider: 'aws-iot',
      endpoint: 'e.example',
      thing: 'edge-9',
      cert: 'c',
      key: 'k',
    };
    const config = BridgeConfigSchema.parse(data);
    expect(config.remotes[0]?.clientid).toBe('edge-9');
  });

  it('explains what aws-iot does not take', () => {
    const found = problems({
      name: 'cloud',
      provider: 'aws-iot',
      address: 'wss://abc.iot.eu-west-1.amazonaws.com:443/mqtt',
      password: 'secret',
      insecure: true,
      alpn: ['mqtt'],
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^remotes\[0\]\.address: aws-iot connects over mutual TLS/),
        'remotes[0].cert: aws-iot needs the thing certificate (cert) and its key (key)',
        expect.stringMatching(/^remotes\[0\]\.key: /),
        expect.stringMatching(/^remotes\[0\]\.thing: give thing/),
        'remotes[0].password: aws-iot authenticates with the certificate only',
        'remotes[0].insecure: aws-iot always verifies the server certificate',
        'remotes[0].alpn: aws-iot offers ALPN x-amzn-mqtt-ca itself',
      ]),
    );
    expect(found.join('\n')).not.toContain('secret');
  });

  it('refuses MQTT 3.1.1, which the SDK client does not speak', () => {
    expect(
      problems({ name: 'c', provider: 'aws-iot', endpoint: 'e', thing: 't', cert: 'c', key: 'k', protocol: '3.1.1' }),
    ).toEqual(['remotes[0].protocol: aws-iot connects with MQTT 5 (the AWS IoT Device SDK client)']);
  });

  it('needs an endpoint or an address', () => {
    expect(problems({ name: 'c', provider: 'aws-iot', thing: 't', cert: 'c', key: 'k' })).toEqual([
      'remotes[0].endpoint: give endpoint (your AWS IoT data endpoint) or address (ssl://HOST:8883)',
    ]);
  });
});
