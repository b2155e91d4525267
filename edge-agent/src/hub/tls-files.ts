import { createSecureContext, type TLSSocket, type TlsOptions } from 'node:tls';
import { type HubConfig, TetherError } from '@tether/shared';
import { readConfigFile } from '../config/tls-files.js';

type Certificate = NonNullable<HubConfig['certificate']>;

/**
 * Server TLS options for ssl:// and wss:// listeners from the hub's `certificate` block.
 * With `certificate.ca` the hub asks for a client certificate and verifies one when given
 * (Go's VerifyClientCertIfGiven, as Baetyl configured it): password clients still connect
 * without a certificate, a presented certificate must chain to the CA (see
 * `rejectUnverifiedPeer`), and only a verified certificate can log in a principal.
 */
export function loadServerTlsOptions(certificate: Certificate | undefined, configDir: string): TlsOptions {
  if (!certificate) {
    throw new TetherError(
      'TETHER_ERR_CONFIG',
      'certificate: ssl:// and wss:// listeners need certificate.cert and .key',
    );
  }
  const cert = readConfigFile('certificate.cert', certificate.cert, configDir);
  const key = readConfigFile('certificate.key', certificate.key, configDir);
  const ca = certificate.ca === undefined ? undefined : readConfigFile('certificate.ca', certificate.ca, configDir);
  const options: TlsOptions = {
    cert,
    key,
    ...(ca ? { ca, requestCert: true } : {}),
    // verification still runs and sets socket.authorized; rejectUnverifiedPeer acts on it
    rejectUnauthorized: false,
  };
  try {
    // fail at start with the field named, not on the first handshake
    createSecureContext(options);
  } catch (err) {
    throw new TetherError(
      'TETHER_ERR_CONFIG_FILE',
      `certificate: cannot use ${certificate.cert} / ${certificate.key}${ca ? ` / ${certificate.ca}` : ''}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return options;
}

/** Drops a TLS client that presented a certificate the CA does not vouch for. */
export function rejectUnverifiedPeer(socket: TLSSocket): boolean {
  if (socket.authorized) return false;
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return false; // no certificate: a password login may follow
  socket.destroy();
  return true;
}

/** The CN of a verified client certificate, or undefined. */
export function verifiedCommonName(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  // a certificate may carry several CNs (node gives an array); refuse the ambiguity
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined;
}
