import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the fake service saw it. */
export interface RecordedRequest {
  readonly method: string;
  /** Decoded path, e.g. `/things/dev-1/principals`. */
  readonly path: string;
  readonly rawPath: string;
  readonly query: Record<string, string>;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface FakeAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/**
 * A local HTTP service on 127.0.0.1 (port chosen by the OS) that records every request and answers
 * with `route`. What a route throws becomes a 500 naming the error, so a test sees it.
 */
export class HttpRecorder {
  readonly requests: RecordedRequest[] = [];
  private server: Server | undefined;

  constructor(private readonly route: (request: RecordedRequest) => FakeAnswer | Promise<FakeAnswer>) {}

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const recorded: RecordedRequest = {
          method: req.method ?? '',
          path: decodeURIComponent(url.pathname),
          rawPath: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(recorded);
        let answer: FakeAnswer;
        try {
          answer = await this.route(recorded);
        } catch (error) {
          answer = { status: 500, body: { message: `fake service: ${(error as Error).message}` } };
        }
        const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(text);
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** `METHOD path` of every request so far, for sequence checks. */
  calls(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}`);
  }
}
