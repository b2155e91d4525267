import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * The bridge's way to the cloud broker B, which the bench can cut: a TCP relay on 127.0.0.1 that,
 * while "down", closes every connection at once (as an unreachable cloud would refuse it), and
 * once up pipes each connection to B. B itself keeps running, so the sink's subscription on B
 * survives the outage and sees everything the bridge delivers afterwards.
 */
export interface CloudLink {
  readonly port: number;
  up(): void;
  close(): Promise<void>;
}

export async function startCloudLink(cloudPort: number): Promise<CloudLink> {
  let isUp = false;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server: Server = createServer({ noDelay: true }, (client) => {
    if (!isUp) {
      client.destroy();
      return;
    }
    track(client);
    const upstream = connect({ host: '127.0.0.1', port: cloudPort, noDelay: true });
    track(upstream);
    // either side closing (or failing) ends both, as a real connection would
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('cloud link: no TCP port');
  return {
    port: address.port,
    up: () => {
      isUp = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
