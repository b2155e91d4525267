import { type NetConnectOpts, connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { HubClientConfig } from '@tether/shared';
import type { ConnectionTarget, TlsMaterial } from './connection-options.js';

/**
 * Opens the transport for one connection attempt: tcp, TLS, or a WebSocket (ws/wss, MQTT
 * subprotocol). TCP_NODELAY is set before the first byte: without it small messages wait
 * for Nagle's algorithm and a bridge adds 6-12 ms to each.
 */
export type WsModule = typeof import('ws');

/** `ws` is loaded only by connections that use it. */
export async function loadWs(target: ConnectionTarget): Promise<WsModule | undefined> {
  return target.scheme === 'ws' || target.scheme === 'wss' ? import('ws') : undefined;
}

export function openStream(target: ConnectionTarget, tls: TlsMaterial, config: HubClientConfig, ws?: WsModule): Duplex {
  const { scheme, host, port, path } = target;
  const tlsOptions = {
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
    rejectUnauthorized: !config.insecure,
    ...(config.alpn ? { ALPNProtocols: config.alpn } : {}),
  };
  // SNI carries host names only, never IP addresses (RFC 6066 §3)
  const servername = config.servername ?? (/^[\d.:]+$/.test(host) ? undefined : host);
  if (scheme === 'tcp') {
    // A 1-byte read buffer makes pause() stop reading the socket after at most one more chunk, so read
    // pacing (ReadPacer) gathers data in the kernel and takes it in one read; flowing reads are unaffected
    const options = { host, port, noDelay: true, readableHighWaterMark: 1 };
    return netConnect(options as NetConnectOpts);
  }
  if (scheme === 'ssl') {
    const socket = tlsConnect({ host, port, ...tlsOptions, ...(servername ? { servername } : {}) });
    socket.setNoDelay(true);
    return socket;
  }
  if (!ws) throw new Error('ws not loaded');
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  const socket = new ws.WebSocket(url, 'mqtt', {
    ...(scheme === 'wss' ? { ...tlsOptions, ...(servername ? { servername } : {}) } : {}),
    handshakeTimeout: config.timeout,
  });
  socket.on('upgrade', (res) => res.socket.setNoDelay(true));
  return ws.createWebSocketStream(socket);
}
