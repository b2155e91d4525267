import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { issueCertificate, writePemFiles } from '@tether/node-shared/pki';
import type { Policy } from '@tether/shared';
import type { Logger } from 'pino';
import { tokenDigest, tokenMatches } from '../api/tokens.js';
import { isIpLiteral } from '../core/endpoint.js';
import type { HubConnection } from '../core/service-config.js';
import { loadOrCreateCa } from '../providers/local-kit.js';
import type { Provider } from '../providers/provider.js';
import { OneTimeTokens } from '../serve/one-time-tokens.js';
import { ProvisionServer } from '../serve/provision-server.js';
import { usageError } from './options.js';
import { print } from './output.js';

export interface ServeCommandOptions {
  readonly provider: Provider;
  readonly caDir: string;
  readonly listen: string;
  readonly policy: Policy;
  readonly hub: HubConnection;
  /** The fleet's enrollment token; without it only one-time tokens are accepted. */
  readonly fleetToken: string | undefined;
  readonly logger: Logger;
}

/** `tether-cloud serve`: runs until SIGTERM/SIGINT, then closes the listener and exits 0. */
export async function serveCommand(options: ServeCommandOptions): Promise<number> {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(options.listen);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw usageError(`--listen: expected HOST:PORT, got "${options.listen}"`);
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '');
  const tls = await serverCertificate(resolve(options.caDir), host);
  const fleetDigest = options.fleetToken ? tokenDigest(options.fleetToken) : undefined;
  const oneTime = new OneTimeTokens(options.caDir);
  const server = new ProvisionServer({
    host,
    port,
    tls,
    logger: options.logger,
    api: {
      provider: options.provider,
      policy: options.policy,
      hub: options.hub,
      logger: options.logger,
      async authorize(token, thing) {
        if (fleetDigest && tokenMatches(token, fleetDigest)) return { ok: true };
        if (await oneTime.matches(thing, token)) return { ok: true, consume: () => oneTime.consume(thing) };
        return { ok: false };
      },
    },
  });
  const address = await server.start();
  options.logger.info({ address: address.address, port: address.port }, 'serving provisioning requests');
  print(`tether-cloud: serving https://${host}:${address.port}/v1/provision (CA ${join(options.caDir, 'ca.pem')})`);
  const keepAlive = setInterval(() => {}, 1 << 30);
  await new Promise<void>((done) => {
    process.once('SIGTERM', () => done());
    process.once('SIGINT', () => done());
  });
  clearInterval(keepAlive);
  await server.stop();
  return 0;
}

/** The HTTPS certificate, issued by the local CA for the listen host (re-used while it names that host). */
async function serverCertificate(caDir: string, host: string): Promise<{ certPem: string; keyPem: string }> {
  const existing = await Promise.all([
    readFile(join(caDir, 'serve.pem'), 'utf8'),
    readFile(join(caDir, 'serve.key'), 'utf8'),
  ]).catch(() => undefined);
  if (existing) {
    const cert = new X509Certificate(existing[0]);
    if (isIpLiteral(host) ? cert.checkIP(host) : cert.checkHost(host))
      return { certPem: existing[0], keyPem: existing[1] };
  }
  const ca = await loadOrCreateCa(caDir);
  const ip = isIpLiteral(host);
  const pair = await issueCertificate(ca, {
    commonName: host,
    usage: 'server',
    dnsNames: ip ? [] : [host],
    ipAddresses: ip ? [host] : [],
    days: 825,
  });
  await writePemFiles(caDir, 'serve', pair);
  return pair;
}
