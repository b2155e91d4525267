import type { BundleEndpoint } from '@tether/shared';

const ENDPOINT = /^(mqtts|ssl|tls):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/;

/** `mqtts://HOST:PORT` (also `ssl://`, `tls://`; port 8883 when left out) → a bundle endpoint. */
export function parseEndpoint(text: string): BundleEndpoint | undefined {
  const m = ENDPOINT.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3] ?? 8883);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const host = (m[2] ?? '').replace(/^\[|\]$/g, '');
  return { host, port, protocol: 'mqtts' };
}

/** The bridge's address form for an endpoint: `ssl://HOST:PORT` or `tcp://HOST:PORT`. */
export function bridgeAddress(endpoint: BundleEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.protocol === 'mqtts' ? 'ssl' : 'tcp'}://${host}:${endpoint.port}`;
}

/** Whether `host` is an IP literal (v4 or v6), for a certificate's SAN and a listener's bind address. */
export function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}
