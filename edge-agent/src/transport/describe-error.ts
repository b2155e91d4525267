import { redactUserinfo } from '@tether/node-shared/logging';
import { type ErrorCode, TetherError } from '@tether/shared';

/**
 * Turns what Node, OpenSSL and mqtt.js throw into one line a person can act on, with the
 * error code users grep for. Used for every failed connection attempt.
 */
export function describeConnectError(error: unknown, address: string): TetherError {
  if (error instanceof TetherError) return error;
  const e = error as { code?: string | number; message?: string };
  const code = typeof e.code === 'string' ? tlsAlertCode(e.code) : undefined;
  const message = e.message ?? String(error);
  // the address (and a library's message) may carry `user:password@`: never in an error text
  const make = (tetherCode: ErrorCode, reason: string) =>
    new TetherError(tetherCode, redactUserinfo(reason), { cause: error });

  // CONNACK refusals: MQTT 3.1.1 return codes 4/5, MQTT 5 reason codes 134/135 [MQTT-3.2.2.3]
  if (typeof e.code === 'number') {
    if (e.code === 4 || e.code === 134)
      return make('TETHER_ERR_AUTH', `${address} refused the credentials: bad username or password`);
    if (e.code === 5 || e.code === 135)
      return make('TETHER_ERR_AUTH', `${address} refused the connection: not authorized`);
    if (e.code === 2 || e.code === 133) return make('TETHER_ERR_AUTH', `${address} refused the client id`);
    return make('TETHER_ERR_CONNECT', `${address} refused the connection: ${message}`);
  }
  switch (code) {
    case 'ECONNREFUSED':
      return make('TETHER_ERR_CONNECT', `connection refused by ${address} (is the broker running?)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return make('TETHER_ERR_CONNECT', `cannot resolve the host of ${address}`);
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case 'EPIPE':
      return make('TETHER_ERR_CONNECT', `connection to ${address} lost (${code})`);
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return make(
        'TETHER_ERR_TLS',
        `the server certificate of ${address} is not signed by the configured CA (${code})`,
      );
    case 'CERT_HAS_EXPIRED':
      return make('TETHER_ERR_TLS', `the server certificate of ${address} has expired`);
    case 'CERT_NOT_YET_VALID':
      return make('TETHER_ERR_TLS', `the server certificate of ${address} is not valid yet (check the clock)`);
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return make('TETHER_ERR_TLS', `the server certificate of ${address} does not name this host (${message})`);
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED':
      return make('TETHER_ERR_TLS', `${address} refused the client certificate: it has expired`);
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
      return make('TETHER_ERR_TLS', `${address} refused the client certificate: issued by a CA it does not trust`);
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
    case 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE':
      return make(
        'TETHER_ERR_TLS',
        `${address} refused the TLS handshake (client certificate missing or not accepted: ${code})`,
      );
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return make('TETHER_ERR_TLS', `${address} does not speak TLS (is it a tcp:// port?)`);
    default:
      if (code?.startsWith('ERR_SSL_') || code?.startsWith('ERR_TLS_') || /certificate|tls|ssl/i.test(message)) {
        return make('TETHER_ERR_TLS', `TLS with ${address} failed: ${message}`);
      }
      return make('TETHER_ERR_CONNECT', `connection to ${address} failed: ${message}`);
  }
}

/**
 * OpenSSL names the same TLS alert differently across versions (Node 20's 3.0 says `sslv3 alert
 * certificate expired`, Node 24's 3.5 `ssl/tls alert certificate expired`), and Node turns the
 * reason into the code: one name per alert here.
 */
function tlsAlertCode(code: string): string {
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13|SSL\/TLS)_ALERT_([A-Z_]+)$/.exec(code)?.[1];
  switch (alert) {
    case 'CERTIFICATE_EXPIRED':
    case 'BAD_CERTIFICATE':
    case 'HANDSHAKE_FAILURE':
      return `ERR_SSL_SSLV3_ALERT_${alert}`;
    case 'UNKNOWN_CA':
      return 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA';
    case 'CERTIFICATE_REQUIRED':
      return 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED';
    default:
      return code;
  }
}
