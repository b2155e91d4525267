import { seedYaml } from '@tether/test-helpers/seed';
import { describe, expect, it } from 'vitest';
import {
  BridgeConfigSchema,
  checkConfig,
  closestMatch,
  HubConfigSchema,
  readBrokerAddress,
  readListenAddress,
} from '../src/index.js';

/** A config file is checked once and every problem comes back; unknown keys warn or refuse by section. */

const bridge = (change: (b: Record<string, any>) => void) => {
  const data = seedYaml('remote-service.yml');
  change(data);
  return checkConfig(BridgeConfigSchema, data);
};
const hub = (change: (h: Record<string, any>) => void) => {
  const data = seedYaml('hub-service.yml');
  change(data);
  return checkConfig(HubConfigSchema, data);
};

describe('the seed guide files', () => {
  it('load with no error and no warning', () => {
    expect(checkConfig(BridgeConfigSchema, seedYaml('remote-service.yml'))).toMatchObject({ errors: [], warnings: [] });
    expect(checkConfig(HubConfigSchema, seedYaml('hub-service.yml'))).toMatchObject({ errors: [], warnings: [] });
  });
});

describe("unknown keys in Tether's own sections are errors with a did-you-mean", () => {
  it.each([
    ['queue', (b: Record<string, any>) => (b.queue = { durabilty: 'fsync' }), 'queue.durabilty', 'durability'],
    [
      'metrics',
      (b: Record<string, any>) => (b.metrics = { listen: '127.0.0.1:9464', lisen: 1 }),
      'metrics.lisen',
      'listen',
    ],
    [
      'backoff',
      (b: Record<string, any>) => (b.remotes[0].backoff = { factr: 3 }),
      'remotes[0].backoff.factr',
      'factor',
    ],
    [
      'a subscription target',
      (b: Record<string, any>) => (b.rules[0].hub.subscriptions[0].target = { prefx: 'up/' }),
      'rules[0].hub.subscriptions[0].target.prefx',
      'prefix',
    ],
    [
      'a baidu-iothub remote',
      (b: Record<string, any>) =>
        Object.assign(b.remotes[0], { provider: 'baidu-iothub', maxpaylod: '64k', password: 'p' }),
      'remotes[0].maxpaylod',
      'maxpayload',
    ],
    [
      'an aws-iot remote',
      (b: Record<string, any>) => {
        b.remotes[0] = {
          name: 'iothub',
          provider: 'aws-iot',
          endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
          thing: 't',
          cert: 'c.pem',
          key: 'k.pem',
          thnig: 'typo',
        };
      },
      'remotes[0].thnig',
      'thing',
    ],
  ])('%s', (_label, change, path, meant) => {
    const result = bridge(change);
    expect(result.value).toBeUndefined();
    expect(result.errors).toEqual([`${path}: unknown key (did you mean "${meant}"?)`]);
    expect(result.warnings).toEqual([]);
  });

  it("the hub's limits, nested too", () => {
    const result = hub((h) => {
      h.limits = { conections: 10, queue: { mesages: 5 } };
    });
    expect(result.errors).toEqual([
      'limits.queue.mesages: unknown key (did you mean "messages"?)',
      'limits.conections: unknown key (did you mean "connections"?)',
    ]);
  });

  it('without a close match, the message lists the keys the section takes', () => {
    const result = bridge((b) => {
      b.queue = { colour: 'blue' };
    });
    expect(result.errors).toEqual([
      'queue.colour: unknown key (known here: durability, maxmessages, maxbytes, overflow, qos0, inflight, memory, commitdelay, deadletter)',
    ]);
  });
});

describe("unknown keys in Baetyl's sections are warnings; the file loads without them", () => {
  it('typos of optional Baetyl fields say what was meant', () => {
    const result = bridge((b) => {
      b.remotes[0].cleansesion = true;
      b.remotes[0].keepalve = '1m';
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([
      'remotes[0].cleansesion: unknown key, ignored (did you mean "cleansession"?)',
      'remotes[0].keepalve: unknown key, ignored (did you mean "keepalive"?)',
    ]);
    // the typo changed nothing: Baetyl's defaults hold, as they did in Baetyl
    expect(result.value?.remotes[0]).toMatchObject({ cleansession: false, keepalive: 600_000 });
    expect(result.value?.remotes[0]).not.toHaveProperty('keepalve');
  });

  it.each([
    ['the root', (b: Record<string, any>) => (b.queu = {}), 'queu', 'queue'],
    ['the hub client', (b: Record<string, any>) => (b.hub.usernme = 'x'), 'hub.usernme', 'username'],
    ['a rule', (b: Record<string, any>) => (b.rules[0].remote.clientd = 'x'), 'rules[0].remote.clientd', 'clientid'],
    [
      'a subscription',
      (b: Record<string, any>) => (b.rules[0].hub.subscriptions[0].qso = 1),
      'rules[0].hub.subscriptions[0].qso',
      'qos',
    ],
    ['the logger', (b: Record<string, any>) => (b.logger.levle = 'info'), 'logger.levle', 'level'],
  ])('in %s', (_label, change, path, meant) => {
    const result = bridge(change);
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([`${path}: unknown key, ignored (did you mean "${meant}"?)`]);
  });

  it("in the hub config, and Baetyl-Hub's own message buffers are known keys", () => {
    const result = hub((h) => {
      h.principals[0].pasword = 'x';
      h.message = { lenght: { max: '64k' }, ingress: { qos1: { buffer: { size: 100 }, batch: { max: 50 } } } };
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([
      'principals[0].pasword: unknown key, ignored (did you mean "password"?)',
      'message.lenght: unknown key, ignored (did you mean "length"?)',
    ]);
  });

  it('warnings and errors are reported together', () => {
    const result = bridge((b) => {
      b.remotes[0].keepalve = '1m';
      b.queue = { durabilty: 'fsync' };
    });
    expect(result.errors).toEqual(['queue.durabilty: unknown key (did you mean "durability"?)']);
    expect(result.warnings).toEqual(['remotes[0].keepalve: unknown key, ignored (did you mean "keepalive"?)']);
  });
});

describe('every problem in one run', () => {
  it('three different mistakes give three lines', () => {
    const result = bridge((b) => {
      b.rules[0].hub.subscriptions[0].qos = 7;
      b.rules[0].remote.name = 'nosuchremote';
      b.queue = { durabilty: 'fsync' };
    });
    expect(result.errors).toEqual([
      'rules[0].hub.subscriptions[0].qos: must be 0, 1 or 2 (got 7)',
      'queue.durabilty: unknown key (did you mean "durability"?)',
      'rules[0].remote.name: no remote "nosuchremote" (remotes: iothub)',
    ]);
  });

  it('cross-field checks of a remote run while another of its fields fails', () => {
    const result = bridge((b) => {
      b.remotes[0] = { name: 'iothub', provider: 'baidu-iothub', endpoint: 'p', region: 'bj', timeout: 'soon' };
    });
    expect(result.errors).toEqual([
      expect.stringMatching(/^remotes\[0\]\.timeout: expected a duration/),
      'remotes[0].username: give username, or endpoint and thing (Baidu IoT Hub expects the username <endpoint>/<thing>)',
      'remotes[0].password: Baidu IoT Hub needs a password, or a client certificate (cert and key)',
    ]);
  });

  it('hub cross-field checks run while a field fails', () => {
    const result = hub((h) => {
      h.listen.push('ssl://0.0.0.0:70000');
      h.principals.push({ username: 'test', permissions: [{ action: 'publish', permit: ['#'] }] });
    });
    expect(result.errors).toEqual([
      'listen[1]: port must be 0 to 65535 (got 70000)',
      'principals[1].permissions[0].action: must be "pub" or "sub" (got "publish")',
      'principals[1].username: duplicate username "test"',
      'certificate: ssl:// and wss:// listeners need certificate.cert and certificate.key',
    ]);
  });
});

describe('messages say what is valid', () => {
  it.each([
    [
      'a QoS',
      (b: Record<string, any>) => (b.rules[0].remote.subscriptions[0].qos = 3),
      'rules[0].remote.subscriptions[0].qos: must be 0, 1 or 2 (got 3)',
    ],
    [
      'an enum, with a did-you-mean',
      (b: Record<string, any>) => (b.queue = { durability: 'fsyn' }),
      'queue.durability: must be "memory", "process" or "fsync" (got "fsyn"; did you mean "fsync"?)',
    ],
    [
      'a range',
      (b: Record<string, any>) => (b.queue = { inflight: 70_000 }),
      'queue.inflight: must be at most 65535 (got 70000)',
    ],
    [
      'a whole number',
      (b: Record<string, any>) => (b.hub.buffersize = 1.5),
      'hub.buffersize: must be a whole number (got 1.5)',
    ],
    [
      'a type',
      (b: Record<string, any>) => (b.hub.cleansession = 'yes'),
      'hub.cleansession: expected true or false, got a string',
    ],
    ['a list', (b: Record<string, any>) => (b.remotes = { name: 'x' }), 'remotes: expected a list, got a mapping'],
    ['a required field', (b: Record<string, any>) => delete b.hub, 'hub: required (a mapping of keys to values)'],
    [
      'a protocol',
      (b: Record<string, any>) => (b.hub.protocol = 3),
      'hub.protocol: must be "3.1.1", "5", 4 or 5 (got 3)',
    ],
    [
      'a provider',
      (b: Record<string, any>) => (b.remotes[0].provider = 'aws'),
      'remotes[0].provider: unknown provider "aws": expected mqtt, baidu-iotcore, baidu-iothub, aws-iot (mqtt when absent)',
    ],
  ])('%s', (_label, change, line) => {
    expect(bridge(change).errors).toEqual([line]);
  });

  it('never "Invalid input", whatever the wrong value', () => {
    const wrong: unknown[] = [null, true, 7, -1, 1.5, 'x', '', [], {}, [1], { a: 1 }];
    const fields: Array<(b: Record<string, any>, v: unknown) => void> = [
      (b, v) => (b.name = v),
      (b, v) => (b.hub = v),
      (b, v) => (b.hub.address = v),
      (b, v) => (b.hub.timeout = v),
      (b, v) => (b.hub.protocol = v),
      (b, v) => (b.hub.subscriptions = v),
      (b, v) => (b.remotes = v),
      (b, v) => (b.remotes[0] = v),
      (b, v) => (b.remotes[0].provider = v),
      (b, v) => (b.remotes[0].backoff = v),
      (b, v) => (b.remotes[0].alpn = v),
      (b, v) => (b.rules = v),
      (b, v) => (b.rules[0].remote = v),
      (b, v) => (b.rules[0].hub.subscriptions[0] = v),
      (b, v) => (b.rules[0].hub.subscriptions[0].qos = v),
      (b, v) => (b.rules[0].hub.subscriptions[0].target = v),
      (b, v) => (b.queue = v),
      (b, v) => (b.queue.maxbytes = v),
      (b, v) => (b.metrics = v),
      (b, v) => (b.logger = v),
      (b, v) => (b.logger.age = v),
    ];
    let problems = 0;
    for (const set of fields) {
      for (const value of wrong) {
        const { errors, warnings } = bridge((b) => {
          b.queue = {};
          set(b, value);
        });
        problems += errors.length;
        for (const line of [...errors, ...warnings]) expect(line).not.toMatch(/Invalid input|invalid input/i);
      }
    }
    expect(problems).toBeGreaterThan(fields.length * 4);
  });

  it('never prints a secret: a password of the wrong type is described, not shown', () => {
    const result = bridge((b) => {
      b.hub.password = 987654321;
    });
    expect(result.errors).toEqual(['hub.password: expected a string, got a whole number']);
  });
});

describe('what validate passes also starts: addresses', () => {
  it.each([
    [
      'a remote port over 65535',
      (b: Record<string, any>) => (b.remotes[0].address = 'ssl://h:99999'),
      'remotes[0].address: port must be 1 to 65535 (got 99999)',
    ],
    [
      'remote port 0',
      (b: Record<string, any>) => (b.remotes[0].address = 'tcp://h:0'),
      'remotes[0].address: port must be 1 to 65535 (got 0)',
    ],
    [
      'a password in the address (refused, not used)',
      (b: Record<string, any>) => (b.hub.address = 'tcp://user:secret@localhub:1883'),
      'hub.address: credentials in the address are not used: put them in username and password, and the host alone here',
    ],
    [
      'a metrics port over 65535',
      (b: Record<string, any>) => (b.metrics = { listen: '127.0.0.1:70000' }),
      'metrics.listen: port must be 0 to 65535 (got 70000)',
    ],
  ])('%s', (_label, change, line) => {
    const { errors } = bridge(change);
    expect(errors).toEqual([line]);
    expect(errors.join('\n')).not.toContain('secret');
  });

  it('a listen port over 65535 and credentials in a listen address', () => {
    const result = hub((h) => {
      h.listen = ['tcp://0.0.0.0:70000', 'tcp://u:p@0.0.0.0:1883'];
    });
    expect(result.errors).toEqual([
      'listen[0]: port must be 0 to 65535 (got 70000)',
      'listen[1]: a listen address takes no credentials: HOST:PORT only',
    ]);
  });

  it('the readers give the start what the schema accepted', () => {
    expect(readBrokerAddress('ssl://xxxxxx.mqtt.iot.bj.baidubce.com:1884')).toEqual({
      ok: true,
      value: { scheme: 'ssl', host: 'xxxxxx.mqtt.iot.bj.baidubce.com', port: 1884, path: '/mqtt' },
    });
    expect(readBrokerAddress('mqtt://[::1]')).toMatchObject({
      ok: true,
      value: { scheme: 'tcp', host: '::1', port: 1883 },
    });
    expect(readBrokerAddress('wss://h/ws')).toMatchObject({ ok: true, value: { port: 443, path: '/ws' } });
    expect(readListenAddress('tcp://:1883')).toEqual({
      ok: true,
      value: { transport: 'tcp', host: '', port: 1883, path: undefined },
    });
    expect(readListenAddress('tcp://0.0.0.0')).toMatchObject({ ok: false });
  });
});

describe('closestMatch', () => {
  it('finds a near miss and nothing for a far one', () => {
    const keys = ['cleansession', 'keepalive', 'clientid', 'buffersize'];
    expect(closestMatch('cleansesion', keys)).toBe('cleansession');
    expect(closestMatch('KeepAlive', keys)).toBe('keepalive');
    expect(closestMatch('clientId', keys)).toBe('clientid');
    expect(closestMatch('colour', keys)).toBeUndefined();
    expect(closestMatch('x', ['y'])).toBe('y'); // one edit is always close enough
    expect(closestMatch('ab', ['xyz'])).toBeUndefined();
  });
});
