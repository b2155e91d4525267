import { createServer, type Server, type ServerResponse } from 'node:http';
import { TetherError } from '@tether/shared';
import type { Registry } from 'prom-client';
import type { AgentStatusReport } from './agent-status.js';
import { STATUS_PAGE } from './status-page.js';

/**
 * The metrics listener: `GET /metrics` (Prometheus text format), `/healthz` (the process
 * answers), `/readyz` (200 or 503 with the reasons, JSON), `/status` (JSON) and `/` (a status
 * page that renders /status in the browser).
 */
export class MetricsServer {
  private server: Server | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly listen: string,
    private readonly status?: () => AgentStatusReport,
  ) {}

  private handle(path: string, res: ServerResponse): void {
    const json = (code: number, body: unknown): void => {
      res
        .writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
        .end(`${JSON.stringify(body, null, 2)}\n`);
    };
    if (path === '/metrics') {
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(`${String(error)}\n`),
      );
      return;
    }
    if (path === '/healthz') {
      json(200, { alive: true });
      return;
    }
    const status = this.status;
    if (!status) {
      res.writeHead(404).end('not found\n');
      return;
    }
    if (path === '/readyz') {
      const report = status();
      json(report.ready ? 200 : 503, { ready: report.ready, notReady: report.notReady });
      return;
    }
    if (path === '/status') {
      json(200, status());
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(STATUS_PAGE);
      return;
    }
    res.writeHead(404).end('not found\n');
  }

  /** Resolves with the URL it serves, e.g. http://127.0.0.1:9464/metrics. */
  async start(): Promise<string> {
    const at = this.listen.lastIndexOf(':');
    const host = at > 0 ? this.listen.slice(0, at).replace(/^\[|\]$/g, '') : '127.0.0.1';
    const port = Number(at >= 0 ? this.listen.slice(at + 1) : this.listen);
    const server = createServer((req, res) => {
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end('only GET\n');
        return;
      }
      try {
        this.handle((req.url ?? '').split('?')[0] ?? '', res);
      } catch (error) {
        res.writeHead(500).end(`${String(error)}\n`);
      }
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
