/**
 * MQTT clients for tests: mqtt.js with bounded connects and message collectors, and the Mosquitto CLI
 * clients (`mosquitto_pub`, `mosquitto_sub`) as bounded child processes.
 */
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { type ExitInfo, findExecutable, ManagedProcess } from './process.js';
import type { Teardown } from './teardown.js';
import { TimeoutError, withTimeout } from './wait-for.js';

export type QoS = 0 | 1 | 2;

export interface ConnectClientOptions extends IClientOptions {
  /** Bound for TCP/TLS + CONNECT/CONNACK. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** PEM files read into `ca` / `cert` / `key`. */
  tlsFiles?: { ca?: string; cert?: string; key?: string };
  /** When given, the client is force-closed on teardown. */
  teardown?: Teardown;
}

/**
 * Connects an mqtt.js client and resolves once the broker accepted it (CONNACK). Like `mqtt.connectAsync`
 * without retries: `reconnectPeriod` defaults to 0, and any error, close or the timeout before CONNACK
 * rejects (the error names the URL; `cause` is the mqtt.js error, whose `code` is the CONNACK reason) and
 * ends the client.
 */
export async function connectClient(url: string, opts: ConnectClientOptions = {}): Promise<MqttClient> {
  const { connectTimeoutMs = 5_000, tlsFiles, teardown, ...mqttOpts } = opts;
  const clientOpts: IClientOptions = { reconnectPeriod: 0, connectTimeout: connectTimeoutMs, ...mqttOpts };
  if (tlsFiles?.ca) clientOpts.ca = readFileSync(tlsFiles.ca);
  if (tlsFiles?.cert) clientOpts.cert = readFileSync(tlsFiles.cert);
  if (tlsFiles?.key) clientOpts.key = readFileSync(tlsFiles.key);

  const client = connect(url, clientOpts);
  try {
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        client.off('connect', onConnect);
        client.off('error', onError);
        client.off('close', onClose);
      };
      const fail = (message: string, cause?: unknown) => {
        cleanup();
        const err = new Error(`connectClient(${url}): ${message}`, { cause });
        const code = (cause as { code?: unknown } | undefined)?.code;
        if (code !== undefined) Object.assign(err, { code });
        reject(err);
      };
      const onConnect = () => {
        cleanup();
        resolve();
      };
      const onError = (err: Error) => fail(err.message, err);
      const onClose = () => fail('connection closed before CONNACK');
      const timer = setTimeout(() => fail(`no CONNACK within ${connectTimeoutMs} ms`), connectTimeoutMs + 500);
      client.on('connect', onConnect);
      client.on('error', onError);
      client.on('close', onClose);
    });
  } catch (err) {
    client.end(true);
    throw err;
  }
  teardown?.add(`mqtt client ${clientOpts.clientId ?? url}`, () => closeClient(client));
  return client;
}

/**
 * Waits (bounded) for a client created with mqtt.connect() to be connected, for tests that attach
 * their listeners before the CONNACK; a connection error rejects.
 */
export async function connected(client: MqttClient, timeoutMs = 10_000): Promise<void> {
  if (client.connected) return;
  let onConnect: () => void = () => {};
  let onError: (error: Error) => void = () => {};
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        onConnect = resolve;
        onError = reject;
        client.once('connect', onConnect);
        client.once('error', onError);
      }),
      timeoutMs,
      'mqtt client to connect',
    );
  } finally {
    client.off('connect', onConnect);
    client.off('error', onError);
  }
}

/** Force-closes a client (no DISCONNECT wait), bounded. Safe to call twice. */
export async function closeClient(client: MqttClient, timeoutMs = 3_000): Promise<void> {
  await withTimeout(
    new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
    timeoutMs,
    'mqtt client to close',
  );
}

/** MQTT topic filter matching (`+`, `#`, `$share/group/` prefix; `$`-topics need an explicit first level). */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  const shared = /^\$share\/[^/]+\/(.*)$/.exec(filter);
  const f = (shared ? (shared[1] ?? '') : filter).split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

export interface ReceivedMessage {
  topic: string;
  payload: Buffer;
  /** The payload as UTF-8. */
  text: string;
  qos: QoS;
  retain: boolean;
  packet: IPublishPacket;
}

export interface MessageCollector {
  /** Messages so far, in arrival order (live array). */
  readonly messages: ReceivedMessage[];
  /** Resolves with the messages once at least `n` arrived; rejects after `timeoutMs` listing what came. */
  waitForCount(n: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** Stops collecting and unsubscribes (bounded). */
  stop(): Promise<void>;
}

/**
 * Subscribes `client` to `topicFilter` (checking the SUBACK) and collects the messages whose topic matches
 * it. With `subscribe: false` it only listens (for a subscription made elsewhere, e.g. a persistent session).
 */
export async function collectMessages(
  client: MqttClient,
  topicFilter: string,
  opts: { qos?: QoS; subscribe?: boolean; timeoutMs?: number } = {},
): Promise<MessageCollector> {
  const { qos = 0, subscribe = true, timeoutMs = 5_000 } = opts;
  const messages: ReceivedMessage[] = [];
  const waiters = new Set<() => void>();
  const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket) => {
    if (!topicMatchesFilter(topicFilter, topic)) return;
    messages.push({ topic, payload, text: payload.toString('utf8'), qos: packet.qos, retain: packet.retain, packet });
    for (const waiter of waiters) waiter();
  };
  client.on('message', onMessage);
  if (subscribe) {
    try {
      const granted = await withTimeout(
        client.subscribeAsync(topicFilter, { qos }),
        timeoutMs,
        `SUBACK for ${topicFilter}`,
      );
      const refused = granted.find((g) => g.qos >= 0x80 || (g as { reasonCode?: number }).reasonCode === 0x80);
      if (refused) throw new Error(`subscription to ${topicFilter} refused (granted ${JSON.stringify(granted)})`);
    } catch (err) {
      client.off('message', onMessage);
      throw err;
    }
  }

  return {
    messages,
    async waitForCount(n, waitMs = 5_000) {
      if (messages.length >= n) return messages;
      let waiter: (() => void) | undefined;
      try {
        await withTimeout(
          new Promise<void>((resolve) => {
            waiter = () => {
              if (messages.length >= n) resolve();
            };
            waiters.add(waiter);
          }),
          waitMs,
          `${n} messages on ${topicFilter}`,
        );
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err;
        const got = messages.map((m) => `${m.topic}: ${m.text.slice(0, 80)}`).join(' | ');
        throw new TimeoutError(`${err.message}; got ${messages.length}${got ? `: ${got}` : ''}`);
      } finally {
        if (waiter) waiters.delete(waiter);
      }
      return messages;
    },
    async stop() {
      client.off('message', onMessage);
      waiters.clear();
      if (subscribe && client.connected) {
        await withTimeout(client.unsubscribeAsync(topicFilter), timeoutMs, `UNSUBACK for ${topicFilter}`);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Mosquitto CLI clients

export interface CliBrokerArgs {
  port: number;
  /** Default 127.0.0.1. With TLS, the server cert must name this host (the fixture's has both). */
  host?: string;
  tls?: { ca: string; cert?: string; key?: string };
  username?: string;
  password?: string;
}

/** `-h/-p`, TLS and credential arguments shared by `mosquitto_pub` and `mosquitto_sub`. */
export function cliBrokerArgs({ port, host = '127.0.0.1', tls, username, password }: CliBrokerArgs): string[] {
  const args = ['-h', host, '-p', String(port)];
  if (tls) {
    args.push('--cafile', tls.ca);
    if (tls.cert) args.push('--cert', tls.cert);
    if (tls.key) args.push('--key', tls.key);
  }
  if (username !== undefined) args.push('-u', username);
  if (password !== undefined) args.push('-P', password);
  return args;
}

export interface CliResult extends ExitInfo {
  stdout: string;
  stderr: string;
}

/**
 * Runs `mosquitto_pub ...args` to completion and returns its exit status and output (a non-zero exit is
 * not thrown: assert on `code`). Killed by pid and rejected if it runs longer than `timeoutMs`.
 */
export async function mosquittoPub(args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const bin = findExecutable('mosquitto_pub', { envVar: 'MOSQUITTO_PUB_BIN' });
  const proc = await ManagedProcess.spawn(bin, args, { name: 'mosquitto_pub' });
  try {
    const exit = await proc.waitForExit(timeoutMs);
    return { ...exit, stdout: proc.stdout.text(), stderr: proc.stderr.text() };
  } catch (err) {
    await proc.kill();
    throw new Error(`mosquitto_pub ${args.join(' ')}: ${(err as Error).message}.${proc.tailText()}`, { cause: err });
  }
}

export interface MosquittoSubProcess {
  readonly pid: number;
  readonly running: boolean;
  /** Received message lines (stdout without the `-d` debug lines). */
  messages(): string[];
  /** Everything it printed, stdout and stderr. */
  output(): string;
  /** Resolves with the message lines once there are at least `n`. */
  waitForMessages(n: number, timeoutMs?: number): Promise<string[]>;
  /** Waits for it to exit by itself (e.g. with `-C count` or `-W secs`). */
  waitForExit(timeoutMs?: number): Promise<ExitInfo>;
  /** SIGTERM by pid, SIGKILL after 3 s; waits for the exit. */
  stop(): Promise<ExitInfo>;
}

const SUB_DEBUG_LINE = /^(Client \S+ (sending|received) [A-Z]+|Subscribed \(mid: \d+\):)/;

/**
 * Starts `mosquitto_sub ...args` and, by default, resolves only once its subscription is acknowledged (so a
 * publish right after cannot be missed): `-d` is added and the "Subscribed (mid: …)" line awaited. Debug
 * lines are filtered out of `messages()` (a payload line that looks exactly like one would be too).
 * Register `stop()` on a teardown (or pass `teardown`).
 */
export async function mosquittoSub(
  args: string[],
  opts: { waitForSubscribed?: boolean; readyTimeoutMs?: number; teardown?: Teardown } = {},
): Promise<MosquittoSubProcess> {
  const waitForSubscribed = opts.waitForSubscribed ?? true;
  const subArgs = waitForSubscribed && !args.includes('-d') ? ['-d', ...args] : args;
  const bin = findExecutable('mosquitto_sub', { envVar: 'MOSQUITTO_SUB_BIN' });
  // mosquitto_sub flushes stdout after each message but not after its -d lines, which stay in the pipe's
  // block buffer; `stdbuf -oL` (coreutils; it execs, so the pid is mosquitto_sub's) makes them line-buffered.
  let command = bin;
  let commandArgs = subArgs;
  if (waitForSubscribed) {
    let stdbuf: string;
    try {
      stdbuf = findExecutable('stdbuf');
    } catch {
      throw new Error('mosquittoSub needs `stdbuf` (coreutils) to see the SUBACK; or pass waitForSubscribed: false');
    }
    command = stdbuf;
    commandArgs = ['-oL', bin, ...subArgs];
  }
  const proc = await ManagedProcess.spawn(command, commandArgs, { name: 'mosquitto_sub' });
  const stop = () => proc.terminate('SIGTERM', 3_000);
  opts.teardown?.add(`mosquitto_sub pid ${proc.pid}`, stop);

  if (waitForSubscribed) {
    try {
      const line = await proc.waitForLine(/^Subscribed \(mid: \d+\):/, opts.readyTimeoutMs ?? 5_000, 'SUBACK');
      const codes = (line.split(':').slice(2).join(':').match(/\d+/g) ?? []).map(Number);
      if (codes.some((c) => c >= 0x80)) throw new Error(`mosquitto_sub: subscription refused (${line})`);
    } catch (err) {
      await proc.kill();
      throw err;
    }
  }

  const messages = () => proc.stdout.lines().filter((line) => !SUB_DEBUG_LINE.test(line));
  return {
    pid: proc.pid,
    get running() {
      return proc.running;
    },
    messages,
    output: () => proc.output.text(),
    async waitForMessages(n, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = messages();
        if (got.length >= n) return got;
        const left = deadline - Date.now();
        if (left <= 0 || !proc.running) {
          const why = proc.running ? `timed out after ${timeoutMs} ms` : `exited ${proc.describeExit()}`;
          throw new TimeoutError(`mosquitto_sub: ${why} with ${got.length}/${n} messages.${proc.tailText()}`);
        }
        // Sleep until the next line or the exit, bounded by the time left; then check again.
        let off: (() => void) | undefined;
        try {
          await withTimeout(
            new Promise<void>((resolve) => {
              off = proc.stdout.onLine(() => resolve());
              void proc.exited.then(() => resolve());
            }),
            left,
            'next mosquitto_sub line',
          );
        } catch {
          // timed out: the loop reports it
        } finally {
          off?.();
        }
      }
    },
    waitForExit: (timeoutMs = 5_000) => proc.waitForExit(timeoutMs),
    stop,
  };
}
