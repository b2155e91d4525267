import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Teardown } from '@tether/test-helpers/teardown';
import { createWebSocketStream, WebSocketServer } from 'ws';

/**
 * Small fronts on 127.0.0.1 that make a plain Mosquitto listener look like a cloud endpoint this
 * machine's Mosquitto cannot be itself: MQTT over WebSocket (ws, wss; its websockets listener does
 * not start here) and AWS IoT's port 443 (TLS that requires ALPN `x-amzn-mqtt-ca` and a client
 * certificate). Each accepted connection is piped to the broker's TCP port; every socket and the
 * server close on teardown.
 */
export interface Front {
  readonly port: number;
  /** Handshakes the front turned away (no or wrong ALPN, for the TLS front). */
  readonly refused: number;
  /** Connections piped through to the broker. */
  readonly accepted: number;
}

function pipeToBroker(client: Duplex, brokerPort: number, sockets: Set<Duplex>): void {
  const upstream: Socket = netConnect({ host: '127.0.0.1', port: brokerPort });
  sockets.add(client);
  sockets.add(upstream);
  const close = () => {
    client.destroy();
    upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
  client.pipe(upstream).pipe(client);
}

function listen(server: Server, td: Teardown, sockets: Set<Duplex>, what: string): Promise<number> {
  td.add(what, async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}

/** MQTT over WebSocket (`mqtt` subprotocol, any path), plain or with the given server certificate. */
export async function startWebSocketFront(
  brokerPort: number,
  td: Teardown,
  tls?: { cert: string; key: string },
): Promise<Front> {
  const sockets = new Set<Duplex>();
  let accepted = 0;
  const https = tls ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }) : undefined;
  const wss = new WebSocketServer({
    ...(https ? { server: https } : { host: '127.0.0.1', port: 0 }),
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  wss.on('connection', (socket) => {
    accepted++;
    pipeToBroker(createWebSocketStream(socket), brokerPort, sockets);
  });
  let port: number;
  if (https) {
    port = await listen(https, td, sockets, 'wss front');
  } else {
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    const address = wss.address();
    port = typeof address === 'object' && address ? address.port : 0;
    td.add('ws front', async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    });
  }
  return {
    port,
    get refused() {
      return 0;
    },
    get accepted() {
      return accepted;
    },
  };
}

/**
 * AWS IoT Core's port 443 for MQTT: TLS with a client certificate signed by `ca`, and ALPN
 * `x-amzn-mqtt-ca`; a handshake without it is closed before a byte reaches the broker.
 */
export async function startAlpnFront(
  brokerPort: number,
  td: Teardown,
  tls: { ca: string; cert: string; key: string },
): Promise<Front> {
  const sockets = new Set<Duplex>();
  let refused = 0;
  let accepted = 0;
  const server = createTlsServer(
    {
      ca: readFileSync(tls.ca),
      cert: readFileSync(tls.cert),
      key: readFileSync(tls.key),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['x-amzn-mqtt-ca'],
    },
    (socket: TLSSocket) => {
      if (socket.alpnProtocol !== 'x-amzn-mqtt-ca') {
        refused++;
        socket.destroy();
        return;
      }
      accepted++;
      pipeToBroker(socket, brokerPort, sockets);
    },
  );
  // a client offering other protocols fails the handshake itself (no_application_protocol)
  server.on('tlsClientError', () => {
    refused++;
  });
  const port = await listen(server, td, sockets, 'alpn front');
  return {
    port,
    get refused() {
      return refused;
    },
    get accepted() {
      return accepted;
    },
  };
}
