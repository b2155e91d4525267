import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TetherError } from '@tether/shared';
import type { io, iot, mqtt5 } from 'aws-iot-device-sdk-v2';

/**
 * Everything the aws-iot adapter takes from `aws-iot-device-sdk-v2` (and its native `aws-crt`),
 * loaded on first use: an agent without an aws-iot remote never pays for the native module.
 */
export interface AwsIotSdk {
  readonly mqtt5: typeof mqtt5;
  readonly iot: typeof iot;
  readonly io: typeof io;
}

let loading: Promise<AwsIotSdk> | undefined;

export function loadAwsIotSdk(): Promise<AwsIotSdk> {
  loading ??= import('aws-iot-device-sdk-v2').then((module) => {
    // a CommonJS package: Node finds its named exports; fall back to the default export
    const sdk = (module.mqtt5 ? module : (module as { default: AwsIotSdk }).default) as AwsIotSdk;
    return { mqtt5: sdk.mqtt5, iot: sdk.iot, io: sdk.io };
  });
  return loading;
}

/** Amazon Root CA 1 (public; https://www.amazontrust.com/repository/AmazonRootCA1.pem), shipped in edge-agent/certs/. */
export const AMAZON_ROOT_CA_1_PATH = fileURLToPath(new URL('../../certs/AmazonRootCA1.pem', import.meta.url));
/** Where else it may be: `certs/` beside a one-file bundle. */
const AMAZON_ROOT_CA_1_BESIDE = fileURLToPath(new URL('./certs/AmazonRootCA1.pem', import.meta.url));

/** The shipped Amazon Root CA 1, trusted when an aws-iot remote names no `ca`. */
export function readAmazonRootCa1(field: string): Buffer {
  for (const path of [AMAZON_ROOT_CA_1_PATH, AMAZON_ROOT_CA_1_BESIDE]) {
    if (existsSync(path)) return readFileSync(path);
  }
  throw new TetherError(
    'TETHER_ERR_CONFIG_FILE',
    `${field}.ca: not set, and Amazon Root CA 1 is not where the agent ships it (${AMAZON_ROOT_CA_1_PATH}); set ca to AmazonRootCA1.pem`,
  );
}

export interface AwsIotClientSettings {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly keepaliveSec: number;
  readonly clean: boolean;
  readonly sessionExpirySec: number;
  readonly timeoutMs: number;
  /**
   * The SDK's ack timeout: a QoS 1 PUBLISH or a SUBSCRIBE without its ack fails with
   * AWS_ERROR_MQTT_TIMEOUT after this (the publish is then retryable). Unset, aws-crt waits until the
   * connection drops, which on a half-open TCP path is the keepalive plus the ping timeout.
   */
  readonly ackTimeoutSec: number;
  /** Inbound QoS 1 messages not yet acknowledged that the broker may send (MQTT 5 Receive Maximum). */
  readonly receiveMaximum: number;
}

/**
 * The SDK's builder for direct MQTT with mutual TLS. It offers ALPN `x-amzn-mqtt-ca` whenever the
 * platform has ALPN (AWS IoT requires it on 443, ignores it on 8883), trusts `ca` instead of the
 * system store, and turns on the CRT's AWS IoT Core validation and flow control. Reconnecting is
 * the adapter's job (one attempt per start(), its own backoff), so the SDK's delays are set long
 * and never reached: the adapter stops the client on the first failure.
 */
export function buildAwsIotClientConfig(sdk: AwsIotSdk, s: AwsIotClientSettings): mqtt5.Mqtt5ClientConfig {
  const { mqtt5: m5, iot: awsIot, io: crtIo } = sdk;
  const builder = awsIot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(s.host, s.cert, s.key)
    .withCertificateAuthority(s.ca)
    .withPort(s.port)
    .withConnectProperties({
      keepAliveIntervalSeconds: s.keepaliveSec,
      clientId: s.clientId,
      receiveMaximum: s.receiveMaximum,
      ...(s.clean ? {} : { sessionExpiryIntervalSeconds: s.sessionExpirySec }),
    })
    // RejoinAlways: resume the broker's session (subscriptions, queued QoS 1) across agent restarts too
    .withSessionBehavior(s.clean ? m5.ClientSessionBehavior.Clean : m5.ClientSessionBehavior.RejoinAlways)
    .withOfflineQueueBehavior(m5.ClientOperationQueueBehavior.FailAllOnDisconnect)
    .withConnackTimeoutMs(s.timeoutMs)
    .withAckTimeoutSeconds(s.ackTimeoutSec)
    .withSocketOptions(new crtIo.SocketOptions(crtIo.SocketType.STREAM, crtIo.SocketDomain.IPV4, s.timeoutMs))
    .withMinReconnectDelayMs(3_600_000)
    .withMaxReconnectDelayMs(3_600_000);
  return builder.build();
}

/** A client for `settings`; bad TLS material (a key that is not cert's, a file that is not PEM) is a clear error. */
export function createAwsIotClient(sdk: AwsIotSdk, field: string, settings: AwsIotClientSettings): mqtt5.Mqtt5Client {
  try {
    return new sdk.mqtt5.Mqtt5Client(buildAwsIotClientConfig(sdk, settings));
  } catch (error) {
    const e = error as { error_name?: string; message?: string } | undefined;
    throw new TetherError(
      'TETHER_ERR_TLS',
      `${field}: the AWS IoT SDK cannot use ca, cert and key (${e?.error_name ?? e?.message ?? String(error)}): are they PEM, and is key the private key of cert?`,
      { cause: error },
    );
  }
}

/** A received payload as a Buffer (the native client hands over an ArrayBuffer; no copy). */
export function payloadBuffer(payload: mqtt5.Payload | undefined): Buffer {
  if (payload === undefined) return Buffer.alloc(0);
  if (payload instanceof ArrayBuffer) return Buffer.from(payload);
  if (ArrayBuffer.isView(payload)) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
}

let collect: (() => void) | undefined;

function gc(): () => void {
  if (!collect) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) {
      collect = exposed;
    } else {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    }
  }
  return collect;
}

const finalized = new FinalizationRegistry<() => void>((onFinalized) => onFinalized());
const COLLECT_EVERY_MS = 100;
/** Collections while the process is held up for the client (5 s); then only while something else keeps it up. */
const HELD_COLLECTIONS = 50;
const MORE_COLLECTIONS = 60;
/** Time for the CRT's own threads to finish tearing the client down before Node may exit. */
const TEARDOWN_GRACE_MS = 250;

/**
 * Frees a closed client so the process can exit. `Mqtt5Client.close()` only drops the JS
 * references; the native client, and the thread-safe functions that keep Node's event loop alive,
 * are released when the garbage collector finalizes the object
 * (https://github.com/awslabs/aws-crt-nodejs/issues/600, open): a stopped agent would otherwise not
 * exit by itself. So this asks V8 for collections until the client is finalized, then holds the
 * process a moment longer: the native teardown continues on the CRT's threads, and Node must not
 * tear the module down under it. `--expose-gc` set at run time only makes `gc` reachable.
 * The caller must hold no reference to `client` any more.
 */
export function releaseClosedClient(client: object): void {
  const collectNow = gc();
  let done = false;
  finalized.register(client, () => {
    done = true;
  });
  let attempts = 0;
  const timer = setInterval(() => {
    if (done) {
      clearInterval(timer);
      setTimeout(() => {}, TEARDOWN_GRACE_MS);
      return;
    }
    collectNow();
    attempts++;
    if (attempts === HELD_COLLECTIONS) timer.unref();
    if (attempts >= HELD_COLLECTIONS + MORE_COLLECTIONS) clearInterval(timer);
  }, COLLECT_EVERY_MS);
}
