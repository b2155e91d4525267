import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { handleProvisionRequest, type ProvisionApiOptions } from '../api/provision-api.js';
import { bearerToken } from '../api/tokens.js';

export interface ProvisionServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly certPem: string; readonly keyPem: string };
  readonly api: ProvisionApiOptions;
  readonly logger: Logger;
}

const MAX_BODY_BYTES = 64 * 1024;
const PATHS = new Set(['/', '/v1/provision']);

/**
 * `tether-cloud serve`: the provisioning function as an HTTPS endpoint. POST / (or /v1/provision) with
 * the JSON request; GET /healthz. One log line per request (method, path, status, time), never the
 * body, the answer or the Authorization header.
 */
export class ProvisionServer {
  private server: Server | undefined;

  constructor(private readonly options: ProvisionServerOptions) {}

  async start(): Promise<AddressInfo> {
    const server = createServer({ cert: this.options.tls.certPem, key: this.options.tls.keyPem }, (req, res) => {
      void this.handle(req, res);
    });
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    let status = 500;
    try {
      if (req.method === 'GET' && path === '/healthz') {
        status = 200;
        return send(res, status, { ok: true });
      }
      if (!PATHS.has(path)) {
        status = 404;
        return send(res, status, { error: { code: 'TETHER_ERR_REQUEST', message: `no such path ${path}` } });
      }
      if (req.method !== 'POST') {
        status = 405;
        return send(res, status, { error: { code: 'TETHER_ERR_REQUEST', message: 'use POST' } });
      }
      const body = await readBody(req);
      if (body === undefined) {
        status = 413;
        return send(res, status, {
          error: { code: 'TETHER_ERR_REQUEST', message: `body larger than ${MAX_BODY_BYTES} bytes` },
        });
      }
      const answer = await handleProvisionRequest(body, bearerToken(req.headers.authorization), this.options.api);
      status = answer.status;
      send(res, status, answer.body);
    } catch (error) {
      this.options.logger.error({ err: error }, 'request failed');
      if (!res.headersSent) send(res, 500, { error: { code: 'TETHER_ERR_PROVISION', message: 'internal error' } });
    } finally {
      this.options.logger.info({ method: req.method, path, status, ms: Date.now() - started }, 'request');
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** The body as text, or undefined when it is larger than the bound (64 KiB by default). */
export async function readBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
