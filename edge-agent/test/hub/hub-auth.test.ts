import { type Principal, parseByteSize } from '@tether/shared';
import { describe, expect, it } from 'vitest';
import { filterCovers, HubAuthorizer } from '../../src/hub/hub-auth.js';
import { formatListenUrl, parseListenAddress } from '../../src/hub/listen-address.js';
import { hashPassword } from '../../src/hub/password-hash.js';

describe('filterCovers', () => {
  const cases: Array<[permit: string, filter: string, covered: boolean]> = [
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/b', 'a', false],
    ['a', 'a/b', false],
    ['#', 'a/b/c', true],
    ['#', '#', true],
    ['#', '+/b', true],
    ['a/#', 'a', true],
    ['a/#', 'a/#', true],
    ['a/#', 'a/+/c', true],
    ['a/#', 'b/#', false],
    ['a/#', '#', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/+', true],
    ['a/+', 'a/#', false],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a', false],
    ['+', '#', false],
    ['+/+', 'a/+', true],
    ['+/b', '+/c', false],
    ['a/+/c', 'a/+/c', true],
    ['a/+/c', 'a/b/#', false],
    ['a/+/#', 'a/#', false], // a/# also matches "a", which a/+/# does not
    ['a/b', 'a/+', false],
    ['a/b/', 'a/b/', true],
    ['a/b', 'a/b/', false],
    // [MQTT-4.7.2-1]: a permit starting with a wildcard grants nothing under `$`
    ['#', '$SYS/#', false],
    ['+/#', '$SYS/x', false],
    ['+', '$x', false],
    ['$SYS/#', '$SYS/broker/+', true],
    ['$SYS/+', '$SYS/x', true],
    ['$SYS/#', '#', false],
  ];
  it.each(cases)('permit %s covers %s: %s', (permit, filter, covered) => {
    expect(filterCovers(permit, filter)).toBe(covered);
  });
});

describe('HubAuthorizer', () => {
  const principals: Principal[] = [
    {
      username: 'test',
      password: 'hahaha',
      permissions: [
        { action: 'pub', permit: ['up/#', 'status'] },
        { action: 'sub', permit: ['down/+'] },
      ],
    },
    { username: 'hashed', password: hashPassword('s3cret'), permissions: [] },
    { username: 'device1', permissions: [{ action: 'pub', permit: ['#'] }] },
  ];
  const auth = new HubAuthorizer(principals);

  it('checks passwords, plain and hashed', () => {
    expect(auth.authenticate('test', Buffer.from('hahaha'), undefined)?.username).toBe('test');
    expect(auth.authenticate('test', Buffer.from('wrong'), undefined)).toBeUndefined();
    expect(auth.authenticate('test', undefined, undefined)).toBeUndefined();
    expect(auth.authenticate('nobody', Buffer.from('hahaha'), undefined)).toBeUndefined();
    expect(auth.authenticate('hashed', Buffer.from('s3cret'), undefined)?.username).toBe('hashed');
    expect(auth.authenticate('hashed', Buffer.from('S3cret'), undefined)).toBeUndefined();
  });

  it('gives the async path the same answers', async () => {
    expect((await auth.authenticateAsync('hashed', Buffer.from('s3cret'), undefined))?.username).toBe('hashed');
    expect(await auth.authenticateAsync('hashed', Buffer.from('x'), undefined)).toBeUndefined();
    expect((await auth.authenticateAsync(undefined, undefined, 'device1'))?.username).toBe('device1');
  });

  it('logs in a password-less principal only by a certificate naming it', () => {
    expect(auth.authenticate('device1', undefined, 'device1')?.username).toBe('device1');
    expect(auth.authenticate('', undefined, 'device1')?.username).toBe('device1');
    expect(auth.authenticate(undefined, undefined, 'device1')?.username).toBe('device1');
    expect(auth.authenticate('device1', undefined, undefined)).toBeUndefined();
    expect(auth.authenticate('device1', Buffer.from('anything'), undefined)).toBeUndefined();
    expect(auth.authenticate('device1', undefined, 'device2')).toBeUndefined();
    // a certificate never stands in for a password principal's password
    expect(auth.authenticate('test', undefined, 'test')).toBeUndefined();
    expect(auth.authenticate(undefined, undefined, 'test')).toBeUndefined();
  });

  it('applies pub permits with MQTT matching and sub permits by coverage', () => {
    const test = principals[0] as Principal;
    expect(auth.canPublish(test, 'up/a/b')).toBe(true);
    expect(auth.canPublish(test, 'up')).toBe(true);
    expect(auth.canPublish(test, 'status')).toBe(true);
    expect(auth.canPublish(test, 'down/a')).toBe(false);
    expect(auth.canSubscribe(test, 'down/a')).toBe(true);
    expect(auth.canSubscribe(test, 'down/+')).toBe(true);
    expect(auth.canSubscribe(test, 'down/#')).toBe(false);
    expect(auth.canSubscribe(test, 'up/a')).toBe(false);
    const device = principals[2] as Principal;
    expect(auth.canPublish(device, 'a/b')).toBe(true);
    expect(auth.canPublish(device, '$SYS/x')).toBe(false);
    expect(auth.canSubscribe(device, 'a')).toBe(false);
  });

  it('gives clients without a username the anonymous principal, and only its permits', () => {
    const withAnonymous = new HubAuthorizer(principals, {
      permissions: [
        { action: 'pub', permit: ['public/#'] },
        { action: 'sub', permit: ['#'], deny: ['public/secret', 'private/+'] },
      ],
    });
    expect(withAnonymous.open).toBe(false);
    const anon = withAnonymous.authenticate(undefined, undefined, undefined) as Principal;
    expect(anon.username).toBe('anonymous');
    expect(withAnonymous.canPublish(anon, 'public/x')).toBe(true);
    expect(withAnonymous.canPublish(anon, 'up/x')).toBe(false);
    // deny: the filter read as a topic; `#` itself stays allowed, as in Mosquitto's dynamic security
    expect(withAnonymous.canSubscribe(anon, 'public/secret')).toBe(false);
    expect(withAnonymous.canSubscribe(anon, 'private/a')).toBe(false);
    expect(withAnonymous.canSubscribe(anon, 'public/+')).toBe(true);
    expect(withAnonymous.canSubscribe(anon, '#')).toBe(true);
    // a username naming nobody is still refused; the principals still log in as themselves
    expect(withAnonymous.authenticate('nobody', Buffer.from('x'), undefined)).toBeUndefined();
    expect(withAnonymous.authenticate('test', Buffer.from('hahaha'), undefined)?.username).toBe('test');
    // without the section, no username is refused once principals exist
    expect(auth.authenticate(undefined, undefined, undefined)).toBeUndefined();
  });

  it('allows everything when no principals are configured', () => {
    const open = new HubAuthorizer([]);
    expect(open.open).toBe(true);
    const anyone = open.authenticate(undefined, undefined, undefined);
    expect(anyone).toBeDefined();
    expect(open.canPublish(anyone as Principal, 'x/y')).toBe(true);
    expect(open.canSubscribe(anyone as Principal, '$SYS/#')).toBe(true);
  });
});

describe('hub config values', () => {
  it('parses Baetyl sizes', () => {
    expect(parseByteSize('32k')).toBe(32768);
    expect(parseByteSize('32KiB')).toBe(32768);
    expect(parseByteSize('1m')).toBe(1048576);
    expect(parseByteSize('1.5MB')).toBe(1572864);
    expect(parseByteSize('100')).toBe(100);
    expect(parseByteSize(4096)).toBe(4096);
    expect(parseByteSize('lots')).toBeUndefined();
    expect(parseByteSize(0)).toBeUndefined();
  });

  it('parses listen addresses and their aliases', () => {
    expect(parseListenAddress('tcp://0.0.0.0:1883')).toEqual({
      transport: 'tcp',
      host: '0.0.0.0',
      port: 1883,
      path: undefined,
    });
    expect(parseListenAddress('mqtt://:1883')).toEqual({ transport: 'tcp', host: '', port: 1883, path: undefined });
    expect(parseListenAddress('mqtts://h:8883').transport).toBe('ssl');
    expect(parseListenAddress('tls://h:8883').transport).toBe('ssl');
    expect(parseListenAddress('ws://127.0.0.1:8080/mqtt')).toEqual({
      transport: 'ws',
      host: '127.0.0.1',
      port: 8080,
      path: '/mqtt',
    });
    expect(parseListenAddress('wss://[::1]:8884/').path).toBeUndefined();
    expect(parseListenAddress('wss://[::1]:8884/').host).toBe('::1');
    expect(() => parseListenAddress('http://h:1')).toThrow(/listen/);
    expect(formatListenUrl('ws', '::1', 80, '/mqtt')).toBe('ws://[::1]:80/mqtt');
  });
});

describe('certificate identity', () => {
  it('logs a verified certificate in as its certificate principal whatever the MQTT username (Baidu IoTHub sends endpoint/thing)', () => {
    const auth = new HubAuthorizer([
      { username: 'remote-iothub-1', permissions: [{ action: 'pub', permit: ['#'] }] },
      { username: 'xxxx/test', password: 'pw', permissions: [] },
    ]);
    expect(auth.authenticate('xxxx/test', undefined, 'remote-iothub-1')?.username).toBe('remote-iothub-1');
    // without a certificate the username alone is not enough
    expect(auth.authenticate('remote-iothub-1', undefined, undefined)).toBeUndefined();
    // a CN naming a password principal does not stand in for its password
    expect(auth.authenticate('xxxx/test', undefined, 'xxxx/test')).toBeUndefined();
  });
});
