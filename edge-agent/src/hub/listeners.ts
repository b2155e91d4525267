import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { type HubConfig, TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { formatListenUrl, type ListenAddress, parseListenAddress } from './listen-address.js';
import { loadServerTlsOptions, rejectUnverifiedPeer } from './tls-files.js';

/** Hands an accepted MQTT byte stream to the broker (aedes.handle). */
export type ConnectionHandler = (stream: Duplex, req?: IncomingMessage) => void;

export interface HubListener {
  /** The bound address as a URL, e.g. `tcp://127.0.0.1:41234` (port 0 resolved). */
  readonly url: string;
  /** Stops accepting and destroys the connections still open. Never throws. */
  close(): Promise<void>;
}

export interface ListenOptions {
  readonly handle: ConnectionHandler;
  readonly certificate: HubConfig['certificate'];
  readonly configDir: string;
  readonly logger: Logger;
}

/** Starts every `listen` entry; on any failure closes those already started and throws. */
export async function startListeners(listen: readonly string[], opts: ListenOptions): Promise<HubListener[]> {
  const addresses = listen.map(parseListenAddress);
  let tls: TlsOptions | undefined;
  if (addresses.some((a) => a.transport === 'ssl' || a.transport === 'wss')) {
    tls = loadServerTlsOptions(opts.certificate, opts.configDir);
  }
  const started: HubListener[] = [];
  try {
    for (const [i, address] of addresses.entries())
      started.push(await startOne(listen[i] as string, address, tls, opts));
  } catch (err) {
    await Promise.all(started.map((l) => l.close()));
    throw err;
  }
  return started;
}

async function startOne(
  configured: string,
  address: ListenAddress,
  tls: TlsOptions | undefined,
  opts: ListenOptions,
): Promise<HubListener> {
  const { transport } = address;
  let server: Server;
  let wss: WebSocketServer | undefined;
  if (transport === 'tcp') {
    server = createNetServer((socket) => opts.handle(socket));
  } else if (transport === 'ssl') {
    server = createTlsServer(tls ?? {}, (socket) => {
      if (!rejectUnverifiedPeer(socket)) opts.handle(socket);
    });
  } else {
    const http = transport === 'wss' ? createHttpsServer(tls ?? {}, notWebSocket) : createHttpServer(notWebSocket);
    if (transport === 'wss') http.on('secureConnection', (socket: TLSSocket) => rejectUnverifiedPeer(socket));
    // maxPayload bounds one frame in memory before aedes ever sees it (ws defaults to 100 MiB)
    wss = new WebSocketServer({
      server: http,
      maxPayload: 16 * 1024 * 1024,
      ...(address.path ? { path: address.path } : {}),
    });
    wss.on('connection', (ws, req) => opts.handle(createWebSocketStream(ws), req));
    // ws re-emits the http server's errors; listen errors are handled below
    wss.on('error', () => {});
    server = http;
  }

  // Every accepted TCP connection, before TLS or HTTP: Nagle would hold each small MQTT
  // packet back until the previous one is acked, 6-12 ms per message through a bridge.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (err: Error) =>
    opts.logger.debug({ err: err.message, configured }, 'TLS handshake failed'),
  );

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const what = err.code === 'EADDRINUSE' ? 'address in use' : (err.code ?? err.message);
      reject(new TetherError('TETHER_ERR_LISTEN', `cannot listen on ${configured}: ${what}`, { cause: err }));
    };
    server.once('error', onError);
    const host = address.host === '' ? undefined : address.host;
    server.listen(address.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => opts.logger.error({ err, configured }, 'hub listener error'));

  const bound = server.address() as AddressInfo;
  const url = formatListenUrl(transport, bound.address, bound.port, address.path);
  opts.logger.info({ url }, 'hub listening');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      wss?.close();
      server.close(() => resolve());
      // server.close waits for open connections; aedes normally ended them already
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };
  return { url, close };
}

/** Plain HTTP requests on a ws:// port get a clear answer instead of a hang. */
function notWebSocket(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { 'content-type': 'text/plain', connection: 'close', upgrade: 'websocket' });
  res.end('MQTT over WebSocket only\n');
}
