import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { BAIDU_IOTHUB_DEPRECATED, RemoteSchema } from '@tether/shared';
import { Teardown } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { BaiduIotCoreCloudAdapter } from '../../src/adapters/baidu-iotcore-adapter.js';
import { createCloudAdapter } from '../../src/adapters/registry.js';
import { captureLogger } from './cloud-adapter-contract.js';

const td = new Teardown();
afterEach(() => td.run());

/** An MQTT 3.1.1 server that records every CONNECT and refuses it (not authorized), so the client tries again. */
async function connectRecorder(): Promise<{ url: string; connects: IConnectPacket[] }> {
  const connects: IConnectPacket[] = [];
  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (packet: Packet) => {
      if (packet.cmd !== 'connect') return;
      connects.push(packet);
      socket.end(mqttPacket.generate({ cmd: 'connack', sessionPresent: false, returnCode: 5 }));
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  td.add('connect recorder', () => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`, connects };
}

/** Starts `adapter` (stopped by the teardown) and waits for its first two CONNECTs at the recorder. */
async function twoAttempts(
  adapter: { start(signal: AbortSignal): Promise<void>; stop(drainMs?: number): Promise<void> },
  recorder: { connects: IConnectPacket[] },
): Promise<void> {
  const abort = new AbortController();
  td.add('adapter', async () => {
    await adapter.stop(0);
    abort.abort();
  });
  await adapter.start(abort.signal);
  await waitFor(() => recorder.connects.length >= 2, { what: 'two connection attempts', timeoutMs: 5_000 });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('baidu-iotcore: the login the adapter sends', () => {
  it('timestamped: every CONNECT is signed again with the time of that attempt', async () => {
    const recorder = await connectRecorder();
    const config = RemoteSchema.parse({
      name: 'iotcore',
      provider: 'baidu-iotcore',
      address: recorder.url,
      iotcoreid: 'abcd123',
      devicekey: 'mydevice',
      devicesecret: 'ImSeCrEt0I1M2jkl',
      timestamped: true,
      backoff: { min: 20, max: 40, jitter: 0 },
    });
    if (config.provider !== 'baidu-iotcore') throw new Error('parsed as another provider');
    // a clock that moves a minute at each attempt
    const times = [1583826857_000, 1583826917_000, 1583826977_000];
    let call = 0;
    const clock = () => times[Math.min(call++, times.length - 1)] as number;
    const { logger } = captureLogger();
    const adapter = new BaiduIotCoreCloudAdapter(
      config,
      { clientId: 'mydevice', logger, configDir: '.', field: 'remotes[0]' },
      clock,
    );
    await twoAttempts(adapter, recorder);
    const [first, second] = recorder.connects;
    // then each is Baidu's login for its own timestamp (the document's formula, written out)
    expect(first?.username).toBe('thingidp@abcd123|mydevice|1583826857|SHA256');
    expect(first?.password?.toString()).toBe(sha256('mydevice&1583826857&SHA256ImSeCrEt0I1M2jkl'));
    expect(second?.username).toBe('thingidp@abcd123|mydevice|1583826917|SHA256');
    expect(second?.password?.toString()).toBe(sha256('mydevice&1583826917&SHA256ImSeCrEt0I1M2jkl'));
    expect(first?.clientId).toBe('mydevice');
  });

  it('not timestamped: the timestamp-0 login, the same at every attempt', async () => {
    const recorder = await connectRecorder();
    const adapter = createCloudAdapter(
      RemoteSchema.parse({
        name: 'iotcore',
        provider: 'baidu-iotcore',
        address: recorder.url,
        iotcoreid: 'abcd123',
        devicekey: 'mydevice',
        devicesecret: 'ImSeCrEt0I1M2jkl',
        algorithm: 'MD5',
        backoff: { min: 20, max: 40, jitter: 0 },
      }),
      { clientId: 'mydevice', logger: captureLogger().logger, configDir: '.', field: 'remotes[0]' },
    );
    await twoAttempts(adapter, recorder);
    for (const connect of recorder.connects.slice(0, 2)) {
      // Baidu's own example: thingidp@abcd123|mydevice|0|MD5 → 22bc7523…
      expect(connect.username).toBe('thingidp@abcd123|mydevice|0|MD5');
      expect(connect.password?.toString()).toBe('22bc75231495220c7a2202fe15f7d286');
    }
  });
});

describe('baidu-iothub is Baidu’s deprecated service', () => {
  it('says so once, as a warning, however many remotes use it; baidu-iotcore does not', () => {
    const { logger, lines } = captureLogger();
    const request = { clientId: 'c', logger, configDir: '.', field: 'remotes[0]' };
    const hub = (name: string) =>
      RemoteSchema.parse({ name, provider: 'baidu-iothub', endpoint: 'p', region: 'gz', thing: 't', password: 's' });
    createCloudAdapter(
      RemoteSchema.parse({
        name: 'core',
        provider: 'baidu-iotcore',
        iotcoreid: 'a',
        region: 'gz',
        devicekey: 't',
        devicesecret: 's',
      }),
      request,
    );
    expect(lines).toEqual([]);
    createCloudAdapter(hub('one'), request);
    createCloudAdapter(hub('two'), request);
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, msg: BAIDU_IOTHUB_DEPRECATED, remote: 'one', provider: 'baidu-iothub' }),
    ]);
    expect(BAIDU_IOTHUB_DEPRECATED).toMatch(/deprecated by Baidu.*baidu-iotcore/);
  });
});
