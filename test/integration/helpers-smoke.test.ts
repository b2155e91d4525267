import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mutualTls, startMosquitto } from '@tether/test-helpers/mosquitto';
import {
  cliBrokerArgs,
  collectMessages,
  connectClient,
  mosquittoPub,
  mosquittoSub,
  topicMatchesFilter,
} from '@tether/test-helpers/mqtt-clients';
import { freePort } from '@tether/test-helpers/ports';
import { ManagedProcess, pidExists } from '@tether/test-helpers/process';
import { Teardown } from '@tether/test-helpers/teardown';
import { makeTlsFixture } from '@tether/test-helpers/tls-fixture';
import { waitFor, withTimeout } from '@tether/test-helpers/wait-for';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

describe('test helpers (smoke)', () => {
  const td = new Teardown();
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tether-smoke-'));
    td.add('temp dir', () => rm(dir, { recursive: true, force: true }));
  });
  afterEach(() => td.run());

  it('runs a plain broker that mqtt.js and the mosquitto CLIs can use, and stops it by pid', async () => {
    const port = await freePort();
    const broker = await startMosquitto({ dir, port, teardown: td });
    expect(broker.port).toBe(port);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${port}`);
    expect(broker.running).toBe(true);
    expect(pidExists(broker.pid)).toBe(true);
    expect(broker.logs()).toMatch(/Opening ipv4 listen socket on port \d+/);

    const sub = await connectClient(broker.url, { clientId: 'smoke-sub', teardown: td });
    const collector = await collectMessages(sub, 'smoke/#', { qos: 1 });
    const pub = await connectClient(broker.url, { clientId: 'smoke-pub', teardown: td });
    await pub.publishAsync('smoke/a', 'from mqtt.js', { qos: 1 });
    await pub.publishAsync('elsewhere/a', 'not collected', { qos: 1 });
    const cliPub = await mosquittoPub([
      ...cliBrokerArgs({ port }),
      '-q',
      '1',
      '-t',
      'smoke/b',
      '-m',
      'from mosquitto_pub',
    ]);
    expect(cliPub.code, cliPub.stderr).toBe(0);

    const got = await collector.waitForCount(2);
    expect(got.map((m) => [m.topic, m.text, m.qos])).toEqual([
      ['smoke/a', 'from mqtt.js', 1],
      ['smoke/b', 'from mosquitto_pub', 1],
    ]);
    await expect(collector.waitForCount(3, 200)).rejects.toThrow(/3 messages on smoke\/#.*got 2/);

    const cliSub = await mosquittoSub([...cliBrokerArgs({ port }), '-v', '-t', 'smoke/cli/#', '-C', '2'], {
      teardown: td,
    });
    await pub.publishAsync('smoke/cli/1', 'one', { qos: 1 });
    await pub.publishAsync('smoke/cli/2', 'two words', { qos: 1 });
    expect(await cliSub.waitForMessages(2)).toEqual(['smoke/cli/1 one', 'smoke/cli/2 two words']);
    expect((await cliSub.waitForExit()).code).toBe(0);
    await collector.stop();

    const pid = broker.pid;
    await broker.stop();
    expect(broker.running).toBe(false);
    expect(pidExists(pid)).toBe(false);
    expect(broker.logs()).toMatch(/mosquitto version \S+ terminating/); // SIGTERM honoured, no SIGKILL needed
    await expect(connectClient(broker.url, { connectTimeoutMs: 1_000 })).rejects.toThrow(/ECONNREFUSED/);
    await broker.stop(); // idempotent
  });

  it('restarts on the same port and can be killed', async () => {
    const broker = await startMosquitto({ dir, teardown: td });
    const firstPid = broker.pid;
    await broker.restart();
    expect(broker.pid).not.toBe(firstPid);
    expect(pidExists(firstPid)).toBe(false);
    expect(broker.logs()).toMatch(/terminating\n--- mosquitto restarted ---\n/);

    const client = await connectClient(broker.url, { teardown: td });
    const collector = await collectMessages(client, 'after/restart');
    await client.publishAsync('after/restart', 'ok');
    await collector.waitForCount(1);

    // A second broker on a taken port fails fast, quoting the broker's own error.
    await expect(startMosquitto({ dir, name: 'clash', port: broker.port })).rejects.toThrow(
      /exited with code \d+ before mosquitto to report "running"[\s\S]*Address already in use/,
    );

    const pid = broker.pid;
    await broker.kill();
    expect(pidExists(pid)).toBe(false);
    await broker.restart(); // from stopped
    expect(broker.running).toBe(true);
    const again = await connectClient(broker.url, { teardown: td });
    expect(again.connected).toBe(true);
  });

  it('enforces users and an ACL', async () => {
    const broker = await startMosquitto({
      dir,
      users: { alice: 'secret', bob: 'hunter2' },
      acl: 'user alice\ntopic readwrite shared/#\nuser bob\ntopic read shared/#\n',
      teardown: td,
    });
    const alice = await connectClient(broker.url, { username: 'alice', password: 'secret', teardown: td });
    const bob = await connectClient(broker.url, { username: 'bob', password: 'hunter2', teardown: td });
    const collector = await collectMessages(bob, 'shared/#', { qos: 1 });
    await alice.publishAsync('shared/x', 'from alice', { qos: 1 });
    await bob.publishAsync('shared/y', 'from bob (denied by the ACL)', { qos: 1 });
    const ok = await mosquittoPub([
      ...cliBrokerArgs({ port: broker.port, username: 'alice', password: 'secret' }),
      '-t',
      'shared/z',
      '-m',
      'cli alice',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    await collector.waitForCount(2);
    await expect(collector.waitForCount(3, 300)).rejects.toThrow(/got 2/);
    expect(collector.messages.map((m) => m.text)).toEqual(['from alice', 'cli alice']);

    await expect(
      connectClient(broker.url, { username: 'alice', password: 'wrong', connectTimeoutMs: 2_000 }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/Not authorized/i), code: 5 });
    await expect(connectClient(broker.url, { connectTimeoutMs: 2_000 })).rejects.toThrow(/Not authorized/i);
    const bad = await mosquittoPub([
      ...cliBrokerArgs({ port: broker.port, username: 'alice', password: 'wrong' }),
      '-t',
      'shared/z',
      '-m',
      'x',
    ]);
    expect(bad.code).not.toBe(0);
  });

  it('runs a mutual-TLS broker that uses the cert CN as username and refuses foreign, expired and missing certs', async () => {
    const fx = await makeTlsFixture(join(dir, 'tls'), { clientCommonName: 'edge-7' });
    const broker = await startMosquitto({
      dir,
      tls: mutualTls(fx),
      // Only the client's own topics: proves the username is the cert CN.
      acl: 'pattern readwrite devices/%u/#\n',
      teardown: td,
    });
    expect(broker.url).toBe(`mqtts://127.0.0.1:${broker.port}`);

    const tlsFiles = { ca: fx.ca, cert: fx.client.cert, key: fx.client.key };
    const client = await connectClient(broker.url, { tlsFiles, teardown: td });
    const collector = await collectMessages(client, 'devices/edge-7/#', { qos: 1 });
    const cliSub = await mosquittoSub(
      [...cliBrokerArgs({ port: broker.port, tls: tlsFiles }), '-t', 'devices/edge-7/#', '-C', '2'],
      { teardown: td },
    );
    await client.publishAsync('devices/edge-7/up', 'via mqtt.js', { qos: 1 });
    const cliPub = await mosquittoPub([
      ...cliBrokerArgs({ port: broker.port, tls: tlsFiles }),
      '-q',
      '1',
      '-t',
      'devices/edge-7/cli',
      '-m',
      'via mosquitto_pub',
    ]);
    expect(cliPub.code, cliPub.stderr).toBe(0);
    await collector.waitForCount(2);
    expect(collector.messages.map((m) => m.text)).toEqual(['via mqtt.js', 'via mosquitto_pub']);
    expect(await cliSub.waitForMessages(2)).toEqual(['via mqtt.js', 'via mosquitto_pub']);

    // Another device's topic is outside the ACL pattern for username "edge-7": Mosquitto 2.0 grants the
    // MQTT 3.1.1 subscription but delivers nothing on it, and drops the publish.
    const foreign = await collectMessages(client, 'devices/edge-8/#', { qos: 1 });
    await client.publishAsync('devices/edge-8/up', 'not allowed', { qos: 1 });
    await expect(foreign.waitForCount(1, 300)).rejects.toThrow(/got 0/);

    const refuse = async (files: { ca: string; cert?: string; key?: string }, what: string) => {
      await expect(
        connectClient(broker.url, { tlsFiles: files, connectTimeoutMs: 3_000 }),
        `${what} must be refused`,
      ).rejects.toThrow(/connectClient/);
    };
    await refuse({ ca: fx.ca, cert: fx.otherClient.cert, key: fx.otherClient.key }, 'a cert from another CA');
    await refuse({ ca: fx.ca, cert: fx.expiredClient.cert, key: fx.expiredClient.key }, 'an expired cert');
    await refuse({ ca: fx.ca }, 'no client cert');
    await expect(
      connectClient(broker.url, { tlsFiles: { ...tlsFiles, ca: fx.otherCa }, connectTimeoutMs: 3_000 }),
    ).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);

    const foreignCli = await mosquittoPub([
      ...cliBrokerArgs({
        port: broker.port,
        tls: { ca: fx.ca, cert: fx.otherClient.cert, key: fx.otherClient.key },
      }),
      '-t',
      'devices/edge-7/x',
      '-m',
      'x',
    ]);
    expect(foreignCli.code).not.toBe(0);
    expect(broker.logs()).toMatch(/certificate verify failed|OpenSSL Error/i);
    expect(broker.running).toBe(true);

    const pid = broker.pid;
    await broker.stop();
    expect(pidExists(pid)).toBe(false);
  });

  it('manages a child process: waits for lines, escalates SIGTERM to SIGKILL, reports an early exit', async () => {
    const stubborn = await ManagedProcess.spawn(
      process.execPath,
      [
        '-e',
        "process.on('SIGTERM', () => console.log('got SIGTERM')); console.error('ready'); setInterval(() => {}, 1000);",
      ],
      { name: 'stubborn' },
    );
    td.add('stubborn', () => stubborn.kill());
    expect(await stubborn.waitForLine(/^ready$/, 5_000)).toBe('ready');
    const exit = await stubborn.terminate('SIGTERM', 300);
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(stubborn.stdout.lines()).toEqual(['got SIGTERM']);
    expect(pidExists(stubborn.pid)).toBe(false);

    const quitter = await ManagedProcess.spawn(process.execPath, ['-e', "console.log('bye'); process.exit(3)"], {
      name: 'quitter',
    });
    td.add('quitter', () => quitter.kill());
    await expect(quitter.waitForLine(/never printed/, 5_000, 'the never line')).rejects.toThrow(
      /quitter \(pid \d+\) exited with code 3 before the never line[\s\S]*bye/,
    );

    await expect(ManagedProcess.spawn('/nonexistent/binary', [], { name: 'ghost' })).rejects.toThrow(
      /Cannot start ghost.*ENOENT/,
    );
  });

  it('has bounded waits and a teardown that reports failures without stopping', async () => {
    await expect(waitFor(() => false, { what: 'never', timeoutMs: 100, intervalMs: 20 })).rejects.toThrow(
      /Timed out after 100 ms waiting for never/,
    );
    let n = 0;
    expect(await waitFor(() => ++n >= 3 && n, { what: 'three', timeoutMs: 1_000, intervalMs: 1 })).toBe(3);
    await expect(withTimeout(new Promise(() => undefined), 50, 'a promise that hangs')).rejects.toThrow(
      /Timed out after 50 ms: a promise that hangs/,
    );

    const local = new Teardown({ stepTimeoutMs: 100 });
    const order: string[] = [];
    local.add('first', () => order.push('first'));
    local.add('fails', () => {
      throw new Error('boom');
    });
    local.add('hangs', () => new Promise(() => undefined));
    local.add('last', async () => order.push('last'));
    const failure = await local.run().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(AggregateError);
    const messages = (failure as AggregateError).errors.map((e: Error) => e.message);
    expect(messages).toEqual([
      expect.stringMatching(/teardown step "hangs" failed: Timed out after 100 ms/),
      'teardown step "fails" failed: boom',
    ]);
    expect(order).toEqual(['last', 'first']);
    expect(local.size).toBe(0);

    expect(topicMatchesFilter('a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatchesFilter('a/#', 'a')).toBe(true);
    expect(topicMatchesFilter('#', '$SYS/x')).toBe(false);
    expect(topicMatchesFilter('$share/g/a/+', 'a/b')).toBe(true);
    expect(topicMatchesFilter('a/+', 'a/b/c')).toBe(false);
  });
});
