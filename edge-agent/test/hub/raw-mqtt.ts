import { connect, type Socket } from 'node:net';
import { SEED_LOGIN } from '@tether/test-helpers/seed';
import { withTimeout } from '@tether/test-helpers/wait-for';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { EmbeddedHub } from '../../src/hub/embedded-hub.js';
import { type Resources, urlOf } from './hub-fixtures.js';

/**
 * A hand-driven MQTT client on a plain socket, for what a client library will not send (bad
 * packets, no acks, a socket that stops reading). Incoming bytes are parsed with mqtt-packet.
 */
export class RawClient {
  readonly packets: Packet[] = [];
  /** Resolves when the hub closed (or reset) the socket. */
  readonly closed: Promise<void>;
  private readonly waiters = new Set<() => void>();
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  private reading = true;

  constructor(
    readonly socket: Socket,
    readonly version: 4 | 5 = 4,
  ) {
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      for (const w of [...this.waiters]) w();
    });
    this.parser.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.parser.parse(chunk));
    socket.on('error', () => {});
    this.closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  send(packet: Packet | Buffer): void {
    this.socket.write(
      Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet, { protocolVersion: this.version }),
    );
  }

  /** CONNECT and wait for the CONNACK. */
  async connect(fields: Partial<mqttPacket.IConnectPacket> = {}): Promise<mqttPacket.IConnackPacket> {
    this.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: this.version,
      clean: true,
      keepalive: 0,
      clientId: `raw-${Math.random().toString(36).slice(2)}`,
      username: SEED_LOGIN.username,
      password: Buffer.from(SEED_LOGIN.password),
      ...fields,
    } as mqttPacket.IConnectPacket);
    return (await this.next('connack')) as mqttPacket.IConnackPacket;
  }

  /** Stops reading the socket: what the hub writes piles up in the kernel and then in the hub. */
  stopReading(): void {
    this.reading = false;
    this.socket.pause();
  }

  /** The first packet of `cmd` not yet taken by an earlier `next` (bounded wait). */
  next(cmd: Packet['cmd'], ms = 3_000): Promise<Packet> {
    return withTimeout(
      new Promise<Packet>((resolve) => {
        const check = () => {
          const i = this.packets.findIndex((p) => p.cmd === cmd);
          if (i < 0) return;
          this.waiters.delete(check);
          resolve(this.packets.splice(i, 1)[0] as Packet);
        };
        this.waiters.add(check);
        check();
      }),
      ms,
      `${cmd} (reading: ${this.reading})`,
    );
  }

  count(cmd: Packet['cmd']): number {
    return this.packets.filter((p) => p.cmd === cmd).length;
  }

  /** Resolves when the socket closed; rejects after `ms`. */
  waitClosed(ms = 3_000): Promise<void> {
    return withTimeout(this.closed, ms, 'the hub to close the socket');
  }
}

/** A raw socket to the hub's tcp:// listener, destroyed in afterEach. */
export async function rawSocket(res: Resources, hub: EmbeddedHub, version: 4 | 5 = 4): Promise<RawClient> {
  const url = new URL(urlOf(hub, 'tcp'));
  const socket = connect(Number(url.port), url.hostname);
  res.keep(socket, (s) => s.destroy());
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    }),
    3_000,
    'tcp connect',
  );
  return new RawClient(socket, version);
}

/** Resolves after `ms`: for "nothing more arrives" checks, never to assert speed. */
export function settle(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A packet by hand: first byte, Remaining Length (section 2.2.3), then the body. */
export function frame(first: number, ...body: Buffer[]): Buffer {
  const rest = Buffer.concat(body);
  return Buffer.concat([Buffer.from([first]), remainingLength(rest.length), rest]);
}

export function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  let left = n;
  do {
    let byte = left % 128;
    left = Math.floor(left / 128);
    if (left > 0) byte |= 0x80;
    bytes.push(byte);
  } while (left > 0);
  return Buffer.from(bytes);
}

/** UTF-8 Encoded String (section 1.5.4): two-byte length, then the bytes. */
export function mqttString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([u16(bytes.length), bytes]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** Every PUBLISH an MQTT.js client received, recorded from before its CONNACK (a resumed session's first messages included). */
export interface Inbox {
  readonly client: MqttClient;
  readonly connack: IConnackPacket;
  readonly packets: IPublishPacket[];
  /** Payloads received on `topic` (all topics when absent), in order. */
  payloads(topic?: string): string[];
  /** Waits (bounded) until `predicate` holds for what was received. */
  until(predicate: (packets: IPublishPacket[]) => boolean, ms?: number, what?: string): Promise<void>;
}

export async function inboxClient(res: Resources, url: string, options: IClientOptions = {}): Promise<Inbox> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3_000, ...options });
  res.keep(client, (c) => c.endAsync(true));
  const packets: IPublishPacket[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (_topic, _payload, packet) => {
    packets.push(packet);
    for (const w of [...waiters]) w();
  });
  const connack = await withTimeout(
    new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    }),
    3_000,
    'CONNACK',
  );
  const until = (predicate: (p: IPublishPacket[]) => boolean, ms = 3_000, what = 'messages') =>
    withTimeout(
      new Promise<void>((resolve) => {
        const check = () => {
          if (!predicate(packets)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
      ms,
      `${what} (got ${packets.map((p) => `${p.topic}:${p.payload.toString()}`).join(', ')})`,
    );
  const payloads = (topic?: string) =>
    packets.filter((p) => topic === undefined || p.topic === topic).map((p) => p.payload.toString());
  return { client, connack, packets, payloads, until };
}
