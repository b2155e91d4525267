import { createServer, type Server } from 'node:http';
import { TetherError } from '@tether/shared';
import type { Registry } from 'prom-client';

/** Serves `GET /metrics` (Prometheus text format) on one address. */
export class MetricsServer {
  private server: Server | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly listen: string,
  ) {}

  /** Resolves with the URL it serves, e.g. http://127.0.0.1:9464/metrics. */
  async start(): Promise<string> {
    const at = this.listen.lastIndexOf(':');
    const host = at > 0 ? this.listen.slice(0, at).replace(/^\[|\]$/g, '') : '127.0.0.1';
    const port = Number(at >= 0 ? this.listen.slice(at + 1) : this.listen);
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(`${String(error)}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(
          new TetherError(
            'TETHER_ERR_LISTEN',
            `metrics: cannot listen on ${this.listen} (${(error as NodeJS.ErrnoException).code})`,
          ),
        ),
      );
      server.listen(port, host, resolve);
    });
    this.server = server;
    const address = server.address();
    const bound = address && typeof address === 'object' ? address.port : port;
    return `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
