import { z } from 'zod';

/**
 * The address grammars of both config files, in one place: the schemas check an address with the
 * same function the agent parses it with at start, so an address `validate` passes always starts.
 */

export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

const SCHEMES = { tcp: 'tcp', mqtt: 'tcp', ssl: 'ssl', mqtts: 'ssl', tls: 'ssl', ws: 'ws', wss: 'wss' } as const;
type Transport = (typeof SCHEMES)[keyof typeof SCHEMES];
const DEFAULT_PORTS = { tcp: 1883, ssl: 8883, ws: 80, wss: 443 } as const;
const SCHEME_LIST = 'tcp, ssl, ws or wss (mqtt, mqtts and tls are aliases)';

/** `scheme://AUTHORITY/rest`, the authority split off by hand so its parts get their own message. */
const URL_SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#\s]*)(\S*)$/;
const AUTHORITY = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]*)(?::(\d*))?$/;

/** Where the bridge connects: a `hub.address` or `remotes[].address`. */
export interface BrokerAddress {
  readonly scheme: Transport;
  readonly host: string;
  readonly port: number;
  /** Path for ws/wss (default /mqtt, as MQTT.js and most brokers use). */
  readonly path: string;
}

const BROKER_HINT = 'expected tcp://HOST:PORT, ssl://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH';

export function readBrokerAddress(address: string): Read<BrokerAddress> {
  const url = URL_SHAPE.exec(address);
  if (!url) return fail(BROKER_HINT);
  const scheme = schemeOf(url[1] as string);
  if (!scheme) return fail(`unknown scheme "${url[1]}": expected ${SCHEME_LIST}`);
  const authority = url[2] as string;
  // Baetyl never used credentials written into the address, and an address is printed in logs,
  // errors and status: a password there would leak everywhere, so it is refused, not used
  if (authority.includes('@')) {
    return fail('credentials in the address are not used: put them in username and password, and the host alone here');
  }
  const parts = AUTHORITY.exec(authority);
  if (!parts || parts[1] === '') return fail(`${BROKER_HINT} (no host in "${address}")`);
  const port = portOf(parts[2], 1);
  if (!port.ok) return port;
  let parsed: URL;
  try {
    parsed = new URL(address);
  } catch {
    return fail(`${BROKER_HINT} (got "${address}")`);
  }
  const path = parsed.pathname && parsed.pathname !== '/' ? parsed.pathname : '/mqtt';
  const host = (parts[1] as string).replace(/^\[|\]$/g, '');
  return { ok: true, value: { scheme, host, port: port.value ?? DEFAULT_PORTS[scheme], path } };
}

/** One `listen` entry of the hub config, normalised to the four transports Baetyl had. */
export interface ListenAddress {
  readonly transport: Transport;
  /** Empty means every interface (Baetyl accepted `tcp://:1883`). */
  readonly host: string;
  /** 0 lets the system pick a free port. */
  readonly port: number;
  /** WebSocket path; undefined accepts any path. */
  readonly path: string | undefined;
}

const LISTEN_HINT = 'expected tcp://HOST:PORT, ssl://HOST:PORT, ws://HOST:PORT[/PATH] or wss://HOST:PORT[/PATH]';

// Not `new URL()`: it refuses an empty host and keeps IPv6 brackets in `hostname`.
export function readListenAddress(address: string): Read<ListenAddress> {
  const url = URL_SHAPE.exec(address);
  if (!url) return fail(LISTEN_HINT);
  const transport = schemeOf(url[1] as string);
  if (!transport) return fail(`unknown scheme "${url[1]}": expected ${SCHEME_LIST}`);
  const authority = url[2] as string;
  if (authority.includes('@')) return fail('a listen address takes no credentials: HOST:PORT only');
  const parts = AUTHORITY.exec(authority);
  if (!parts) return fail(`${LISTEN_HINT} (got "${address}")`);
  if (parts[2] === undefined || parts[2] === '') return fail(`${LISTEN_HINT} (no port in "${address}")`);
  const port = portOf(parts[2], 0);
  if (!port.ok) return port;
  const host = (parts[1] as string).replace(/^\[(.*)\]$/, '$1');
  const rest = url[3] as string;
  const path = (transport === 'ws' || transport === 'wss') && rest && rest !== '/' ? rest : undefined;
  return { ok: true, value: { transport, host, port: port.value ?? 0, path } };
}

/** `HOST:PORT` (the metrics listener), e.g. `127.0.0.1:9464` or `[::1]:9464`. */
export function readHostPort(text: string): Read<{ readonly host: string; readonly port: number }> {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d+)$/.exec(text);
  if (!m) return fail('expected HOST:PORT, e.g. 127.0.0.1:9464');
  const port = portOf(m[2], 0);
  if (!port.ok) return port;
  return { ok: true, value: { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: port.value ?? 0 } };
}

function schemeOf(text: string): Transport | undefined {
  return Object.hasOwn(SCHEMES, text.toLowerCase()) ? SCHEMES[text.toLowerCase() as keyof typeof SCHEMES] : undefined;
}

function portOf(text: string | undefined, min: 0 | 1): Read<number | undefined> {
  if (text === undefined || text === '') return { ok: true, value: undefined };
  const port = Number(text);
  if (port < min || port > 65535) return fail(`port must be ${min} to 65535 (got ${text})`);
  return { ok: true, value: port };
}

function fail(problem: string): { ok: false; problem: string } {
  return { ok: false, problem };
}

/** A string checked by one of the readers above; the problem is the issue's message. */
function checkedBy(read: (text: string) => Read<unknown>) {
  return z.string().superRefine((text, ctx) => {
    const result = read(text);
    if (!result.ok) ctx.addIssue({ code: 'custom', message: result.problem });
  });
}

export const BrokerAddressSchema = checkedBy(readBrokerAddress);
export const ListenAddressSchema = checkedBy(readListenAddress);
export const HostPortSchema = checkedBy(readHostPort);
