import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { type HubConfig, TetherError } from '@tether/shared';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { type PeerInfo, RefusalLog } from './broker/connection-context.js';
import { formatListenUrl, type ListenAddress, parseListenAddress } from './listen-address.js';
import { loadServerTlsOptions, rejectUnverifiedPeer, verifiedCommonName } from './tls-files.js';

/** Hands an accepted MQTT byte stream to the broker, with who is on the other end. */
export type ConnectionHandler = (stream: Duplex, peer: PeerInfo) => void;

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
  /** Largest MQTT packet (limits.packetsize): also the largest WebSocket frame accepted. */
  readonly maxPacketBytes: number;
  /** A TLS handshake not done within this closes the socket (limits.connecttimeout). */
  readonly handshakeTimeoutMs: number;
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
  const refusals = new RefusalLog(opts.logger);
  // Node completes the handshake and cannot send a TLS alert for a certificate it verifies after
  // it (its verify callback always accepts); the refusal is logged, naming the peer and why
  const refuseUnverified = (socket: TLSSocket): boolean => {
    if (!rejectUnverifiedPeer(socket)) return false;
    refusals.warn(
      `${socket.remoteAddress}:${socket.remotePort}`,
      { listener: configured, reason: String(socket.authorizationError ?? 'certificate not verified') },
      'client certificate refused',
    );
    return true;
  };
  const peerOf = (socket: Socket, tlsSocket: TLSSocket | undefined): PeerInfo => ({
    address: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
    certificateCN: tlsSocket ? verifiedCommonName(tlsSocket) : undefined,
    listener: configured,
  });
  if (transport === 'tcp') {
    server = createNetServer((socket) => opts.handle(socket, peerOf(socket, undefined)));
  } else if (transport === 'ssl') {
    server = createTlsServer({ ...tls, handshakeTimeout: opts.handshakeTimeoutMs }, (socket) => {
      if (!refuseUnverified(socket)) opts.handle(socket, peerOf(socket, socket));
    });
  } else {
    const http =
      transport === 'wss'
        ? createHttpsServer({ ...tls, handshakeTimeout: opts.handshakeTimeoutMs }, notWebSocket)
        : createHttpServer(notWebSocket);
    if (transport === 'wss') http.on('secureConnection', (socket: TLSSocket) => refuseUnverified(socket));
    // maxPayload bounds one frame in memory before the broker ever sees it (ws defaults to 100 MiB)
    wss = new WebSocketServer({
      server: http,
      maxPayload: opts.maxPacketBytes,
      ...(address.path ? { path: address.path } : {}),
    });
    wss.on('connection', (ws, req) => {
      const socket = req.socket;
      const tlsSocket = transport === 'wss' ? (socket as TLSSocket) : undefined;
      opts.handle(createWebSocketStream(ws), peerOf(socket, tlsSocket));
    });
    // ws re-emits the http server's errors; listen errors are handled below
    wss.on('error', () => {});
    server = http;
  }

  // Every accepted TCP connection, before TLS or HTTP: Nagle would hold each small MQTT
  // packet back until the previous one is acked, milliseconds per message through a bridge.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) =>
    refusals.warn(
      `${socket.remoteAddress}:${socket.remotePort}`,
      { listener: configured, reason: err.code ?? err.message },
      'TLS handshake failed',
    ),
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
      // server.close waits for open connections; the broker normally ended them already
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
