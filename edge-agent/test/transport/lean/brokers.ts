import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes, type AedesOptions } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { LeanMqttClient } from '../../../src/transport/lean/lean-client.js';
import type { LeanConnectOptions, LeanMessage } from '../../../src/transport/lean/types.js';

/** Real brokers for the lean-client tests, all on 127.0.0.1, every wait bounded. */

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Everything a test opened, closed in afterEach in reverse order. */
export class Resources {
  private readonly closers: Array<() => Promise<unknown> | unknown> = [];

  add<T>(value: T, close: (v: T) => Promise<unknown> | unknown): T {
    this.closers.push(() => close(value));
    return value;
  }

  async close(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // best effort: a failed test may leave things half-open
      }
    }
  }

  async mqttjs(port: number, options: IClientOptions = {}): Promise<MqttClient> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      reconnectPeriod: 0,
      connectTimeout: 3_000,
      ...options,
    });
    return this.add(client, (c) => c.endAsync(true));
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
    this.add(client, (c) => c.end(false));
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
    this.add(server, (s) => closeServer(s, sockets, () => new Promise<void>((r) => broker.close(() => r()))));
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
    this.add(server, (s) => closeServer(s, sockets));
    return portOf(server);
  }

  async mosquitto(extraConf: string[] = []): Promise<Mosquitto> {
    const m = await startMosquitto(extraConf);
    return this.add(m, (b) => b.stop());
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

export interface Mosquitto {
  readonly port: number;
  readonly pid: number;
  readonly process: ChildProcess;
  logs(): string;
  /** SIGTERM, SIGKILL after 3 s; waits for the exit. */
  stop(): Promise<void>;
  /** Sends a signal (SIGSTOP, SIGKILL, ...) and, for a fatal one, waits for the exit. */
  signal(signal: NodeJS.Signals): Promise<void>;
}

export async function startMosquitto(extraConf: string[] = []): Promise<Mosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tether-lean-'));
  const conf = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr'];
  // Mosquitto 2 started as root switches to the `mosquitto` user unless told to stay root
  if (process.getuid?.() === 0) conf.push('user root');
  conf.push(...extraConf);
  const confPath = join(dir, 'mosquitto.conf');
  writeFileSync(confPath, `${conf.join('\n')}\n`);
  const child = spawn('/usr/sbin/mosquitto', ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let logs = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    logs = (logs + chunk.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => {
    running = false;
    rmSync(dir, { recursive: true, force: true });
  });
  const waitExit = async (ms: number) => {
    await Promise.race([exited, sleep(ms)]);
    return !running;
  };
  const pid = child.pid;
  if (pid === undefined) throw new Error('mosquitto did not start');
  const broker: Mosquitto = {
    port,
    pid,
    process: child,
    logs: () => logs,
    async stop() {
      if (!running) return;
      process.kill(pid, 'SIGCONT'); // a SIGSTOPped broker would not act on SIGTERM
      process.kill(pid, 'SIGTERM');
      if (await waitExit(3_000)) return;
      process.kill(pid, 'SIGKILL');
      await waitExit(3_000);
    },
    async signal(signal) {
      if (!running) return;
      process.kill(pid, signal);
      if (signal === 'SIGKILL' || signal === 'SIGTERM') await waitExit(3_000);
    },
  };
  try {
    await waitForTcp(port, () => running, 5_000);
  } catch (error) {
    await broker.stop();
    throw new Error(`mosquitto did not accept connections: ${(error as Error).message}\n${logs}`);
  }
  return broker;
}

async function waitForTcp(port: number, alive: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error('mosquitto exited');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(20);
  }
  throw new Error(`port ${port} not open after ${timeoutMs} ms`);
}
