import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { type MosquittoProcess, startMosquitto } from '@tether/test-helpers/mosquitto';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { Aedes, type AedesOptions } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { LeanMqttClient } from '../../../src/transport/lean/lean-client.js';
import type { LeanConnectOptions, LeanMessage } from '../../../src/transport/lean/types.js';

/** Real brokers for the lean-client tests, all on 127.0.0.1: the package's Teardown with their factories. */
export class Resources extends Teardown {
  async mqttjs(port: number, options: IClientOptions = {}): Promise<MqttClient> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      reconnectPeriod: 0,
      connectTimeout: 3_000,
      ...options,
    });
    return this.keep(client, (c) => c.endAsync(true), 'mqtt.js client');
  }

  /** A LeanMqttClient on plain TCP; `received` collects messages, acking at once unless `ack: false`. */
  async lean(
    port: number,
    options: Partial<LeanConnectOptions> & { ack?: boolean } = {},
  ): Promise<{ client: LeanMqttClient; received: LeanMessage[]; acks: Array<() => void> }> {
    const received: LeanMessage[] = [];
    const acks: Array<() => void> = [];
    const { ack: autoAck = true, ...rest } = options;
    const client = await LeanMqttClient.connect({
      stream: () => netConnect({ host: '127.0.0.1', port, noDelay: true }),
      clientId: `lean-${Math.random().toString(16).slice(2, 10)}`,
      clean: true,
      keepaliveSec: 30,
      protocolVersion: 4,
      connectTimeoutMs: 3_000,
      onMessage: (message, ack) => {
        received.push(message);
        if (autoAck) ack();
        else acks.push(ack);
      },
      ...rest,
    });
    this.keep(client, (c) => c.end(false), 'lean client');
    return { client, received, acks };
  }

  /** Aedes on a TCP listener; `tap` sees every packet clients send, parsed (to check ack order). */
  async aedes(options: AedesOptions = {}, tap?: (packet: Packet) => void): Promise<{ broker: Aedes; port: number }> {
    const broker = await Aedes.createBroker(options);
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      if (tap) {
        const parser = mqttPacket.parser({ protocolVersion: 4 });
        parser.on('packet', tap);
        socket.on('data', (chunk: Buffer) => parser.parse(chunk));
      }
      broker.handle(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const closeBroker = () => new Promise<void>((r) => broker.close(() => r()));
    this.keep(server, (s) => closeServer(s, sockets, closeBroker), 'aedes');
    return { broker, port: portOf(server) };
  }

  /** A raw TCP peer playing broker: the test drives the bytes. */
  async rawServer(onSocket: (socket: Socket) => void): Promise<number> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      onSocket(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.keep(server, (s) => closeServer(s, sockets), 'raw server');
    return portOf(server);
  }

  /** Mosquitto on a free port, anonymous, with `extraConf` lines appended (a later line wins). */
  mosquitto(extraConf: string[] = []): Promise<MosquittoProcess> {
    return startMosquitto({ dir: tempDir(this, 'tether-lean-'), extraConf: extraConf.join('\n'), teardown: this });
  }
}

function portOf(server: Server): number {
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('server has no port');
  return address.port;
}

async function closeServer(server: Server, sockets: Set<Socket>, before?: () => Promise<void>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await before?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
