import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import mqttPacket, { type IPublishPacket, type ISubscription, type Packet } from 'mqtt-packet';

/**
 * An MQTT 5 server on 127.0.0.1 (port from the OS) that answers each PUBLISH with the PUBACK reason
 * code its script says, in order (then 0x00). For what Mosquitto cannot be made to answer: 0x97
 * quota exceeded, 0x96 message rate too high, 0x89 server busy are what AWS IoT Core sends under
 * throttling. It grants every subscription and records every PUBLISH it received.
 */
export class ScriptedBroker {
  readonly published: IPublishPacket[] = [];
  /** Every subscription requested, with its options (No Local, Retain As Published). */
  readonly subscriptions: ISubscription[] = [];
  /** Reason codes for the next PUBACKs, first to last. */
  readonly script: number[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  async start(): Promise<string> {
    const server = createServer((socket) => this.serve(socket));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const send = (packet: Packet) => socket.write(mqttPacket.generate(packet, { protocolVersion: 5 }));
    parser.on('packet', (packet: Packet) => {
      switch (packet.cmd) {
        case 'connect':
          send({ cmd: 'connack', sessionPresent: false, reasonCode: 0 });
          break;
        case 'subscribe':
          this.subscriptions.push(...packet.subscriptions);
          send({
            cmd: 'suback',
            messageId: packet.messageId ?? 0,
            granted: packet.subscriptions.map((s) => s.qos),
          });
          break;
        case 'publish':
          this.published.push(packet);
          if (packet.qos === 1) {
            send({ cmd: 'puback', messageId: packet.messageId ?? 0, reasonCode: this.script.shift() ?? 0 });
          }
          break;
        case 'pingreq':
          send({ cmd: 'pingresp' });
          break;
        case 'disconnect':
          socket.end();
          break;
        default:
          break;
      }
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  }
}
