import { type ErrorCode, TetherError } from '@tether/shared';
import type { mqtt5 } from 'aws-iot-device-sdk-v2';
import type { PublishOutcome } from '../core/message-endpoint.js';
import { describeReason } from '../transport/lean/reason-codes.js';
import { refusalKind } from '../transport/publish-refusals.js';

/** What the CRT reports: a CrtError (`error_name` like `AWS_IO_SOCKET_CONNECTION_REFUSED`) and, when the broker answered, a reason code. */
export interface CrtFailure {
  readonly error?: { readonly error_name?: string | undefined; readonly message?: string | undefined } | undefined;
  /** CONNACK reason code of a refused CONNECT. */
  readonly connackReason?: number | undefined;
  /** Reason code of a server DISCONNECT. */
  readonly disconnectReason?: number | undefined;
  readonly reasonString?: string | undefined;
}

/**
 * One line a person can act on for a failed or lost aws-iot connection, with the code users grep
 * for: the counterpart of transport/describe-error.ts for the AWS SDK's native client. The names
 * are aws-c-io / aws-c-mqtt error names.
 */
export function describeCrtFailure(failure: CrtFailure, address: string): TetherError {
  const name = failure.error?.error_name ?? 'AWS_ERROR_UNKNOWN';
  const make = (code: ErrorCode, message: string) => new TetherError(code, message, { cause: failure.error });
  const detail = failure.reasonString ? `: ${failure.reasonString}` : '';

  const connack = failure.connackReason;
  if (connack !== undefined && connack !== 0) {
    // [MQTT-3.2.2.3] 134 bad user name or password, 135 not authorized, 133 client id not valid
    if (connack === 134) return make('TETHER_ERR_AUTH', `${address} refused the credentials${detail}`);
    if (connack === 135) return make('TETHER_ERR_AUTH', `${address} refused the connection: not authorized${detail}`);
    if (connack === 133) return make('TETHER_ERR_AUTH', `${address} refused the client id${detail}`);
    return make(
      'TETHER_ERR_CONNECT',
      `${address} refused the connection: ${describeReason(connack, 5, true)}${detail}`,
    );
  }
  if (failure.disconnectReason !== undefined) {
    return make(
      'TETHER_ERR_CONNECT',
      `${address} sent DISCONNECT: ${describeReason(failure.disconnectReason, 5)}${detail}`,
    );
  }
  switch (name) {
    case 'AWS_IO_SOCKET_CONNECTION_REFUSED':
      return make('TETHER_ERR_CONNECT', `connection refused by ${address} (is the broker running?)`);
    case 'AWS_IO_DNS_INVALID_NAME':
    case 'AWS_IO_DNS_QUERY_FAILED':
    case 'AWS_IO_DNS_NO_ADDRESS_FOR_HOST':
    case 'AWS_IO_DNS_HOST_REMOVED_FROM_CACHE':
      return make('TETHER_ERR_CONNECT', `cannot resolve the host of ${address}`);
    case 'AWS_IO_SOCKET_TIMEOUT':
    case 'AWS_IO_TLS_NEGOTIATION_TIMEOUT':
    case 'AWS_ERROR_MQTT5_CONNACK_TIMEOUT':
      return make('TETHER_ERR_CONNECT', `connection to ${address} timed out (${name})`);
    case 'AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE':
    case 'AWS_IO_TLS_ERROR_ALERT_RECEIVED':
      return make(
        'TETHER_ERR_TLS',
        `TLS with ${address} failed: the server certificate is not signed by the configured CA (ca; Amazon Root CA 1 when absent), does not name the host, or the server refused the client certificate (${name})`,
      );
    case 'AWS_IO_TLS_ERROR_READ_FAILURE':
    case 'AWS_IO_TLS_ERROR_WRITE_FAILURE':
      return make(
        'TETHER_ERR_TLS',
        `${address} ended the TLS session before CONNACK: it refused the client certificate (is cert registered and active, and issued by a CA it trusts?) (${name})`,
      );
    case 'AWS_ERROR_MQTT5_PING_RESPONSE_TIMEOUT':
      return make('TETHER_ERR_CONNECT', `connection to ${address} lost: no answer to PINGREQ`);
    case 'AWS_IO_SOCKET_CLOSED':
    case 'AWS_IO_SOCKET_NOT_CONNECTED':
    case 'AWS_ERROR_MQTT_UNEXPECTED_HANGUP':
    case 'AWS_IO_BROKEN_PIPE':
    case 'AWS_IO_SOCKET_CONNECTION_RESET':
      return make('TETHER_ERR_CONNECT', `connection to ${address} lost (${name})`);
    default:
      if (name.startsWith('AWS_IO_TLS') || name.startsWith('AWS_IO_PKI')) {
        return make('TETHER_ERR_TLS', `TLS with ${address} failed (${name})`);
      }
      return make('TETHER_ERR_CONNECT', `connection to ${address} failed (${name})`);
  }
}

/**
 * The SDK's answer to a publish: QoS 0 resolves without a PUBACK once written; a reason code >= 0x80
 * is `rejected` when it is final and `retryable` when the broker refuses only for now (0x97 quota
 * exceeded, 0x96 rate too high, 0x80 unspecified…): see transport/publish-refusals.ts.
 */
export function pubackOutcome(remote: string, topic: string, puback: mqtt5.PubackPacket | undefined): PublishOutcome {
  // 0x10 "no matching subscribers" is a success [MQTT-3.4.2.1]
  if (!puback || puback.reasonCode < 0x80) return { status: 'acked' };
  const detail = puback.reasonString ? `: ${puback.reasonString}` : '';
  const error = new TetherError(
    'TETHER_ERR_PUBLISH',
    `${remote}: publish to ${topic} refused: ${describeReason(puback.reasonCode, 5)}${detail}`,
  );
  return refusalKind(puback.reasonCode) === 'final' ? { status: 'rejected', error } : { status: 'retryable', error };
}

/**
 * How aws-crt fails an operation (PUBLISH, SUBSCRIBE), in its three shapes: a CrtError with
 * `error_name`; a string from `io.error_code_to_string` ("libaws-c-mqtt: AWS_ERROR_MQTT_TIMEOUT,
 * Time limit…"), which is how the completion callbacks reject (mqtt5.js `_s_on_puback_callback`);
 * or a plain Error thrown by the native call itself ("aws_napi_mqtt5_client_publish - failure
 * invoking native client publish"), with no name at all, when the client refused the packet before
 * queueing it (a wildcard in a topic, No Local on a shared filter…).
 *
 * `refused`: the packet can never be sent as it is (validation, encoding); `transient`: anything
 * else (AWS_ERROR_MQTT_TIMEOUT from the ack timeout, a stop, a lost connection).
 */
export interface CrtOperationError {
  readonly name: string | undefined;
  readonly text: string;
  readonly kind: 'refused' | 'transient';
}

const REFUSED_NAMES: ReadonlySet<string> = new Set([
  'AWS_ERROR_MQTT5_PUBLISH_OPTIONS_VALIDATION',
  'AWS_ERROR_MQTT5_SUBSCRIBE_OPTIONS_VALIDATION',
  'AWS_ERROR_MQTT5_UNSUBSCRIBE_OPTIONS_VALIDATION',
  'AWS_ERROR_MQTT5_USER_PROPERTY_VALIDATION',
  'AWS_ERROR_MQTT5_PACKET_VALIDATION',
  'AWS_ERROR_MQTT5_ENCODE_FAILURE',
  'AWS_ERROR_MQTT5_INVALID_UTF8_STRING',
  'AWS_ERROR_MQTT5_INVALID_OUTBOUND_TOPIC_ALIAS',
]);
/** The native call threw: aws-c-mqtt refused the packet's options synchronously. */
const NATIVE_REFUSAL = /failure invoking native client (publish|subscribe|unsubscribe)/;

export function classifyCrtError(error: unknown): CrtOperationError {
  const text = crtErrorText(error);
  const named = (error as { error_name?: unknown } | undefined)?.error_name;
  const name = typeof named === 'string' ? named : /\bAWS_(?:ERROR|IO)_[A-Z0-9_]+/.exec(text)?.[0];
  const refused = (name !== undefined && REFUSED_NAMES.has(name)) || NATIVE_REFUSAL.test(text);
  return { name, text, kind: refused ? 'refused' : 'transient' };
}

/** A publish the SDK failed: sent again later, unless the client refused the packet itself. */
export function publishFailureOutcome(remote: string, topic: string, error: unknown): PublishOutcome {
  const crt = classifyCrtError(error);
  const failure = new TetherError('TETHER_ERR_PUBLISH', `${remote}: publish to ${topic} failed: ${crt.text}`, {
    cause: error,
  });
  return crt.kind === 'refused' ? { status: 'rejected', error: failure } : { status: 'retryable', error: failure };
}

/** One line for any of aws-crt's error shapes: the name when there is one, else the message. */
export function crtErrorText(error: unknown): string {
  if (typeof error === 'string') return error;
  const e = error as { error_name?: string; message?: string } | undefined;
  return e?.error_name ?? e?.message ?? String(error);
}
